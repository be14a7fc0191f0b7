// The principals behind recently seen bearer tokens, per node, so an authenticated request costs
// no query. An entry lives a few seconds at most, and goes at once when a committed change of its
// user, API key or tenant reaches this node (the bus); while this node is not hearing the bus, nothing is
// served from it, and when it hears it again (events may have been lost) it starts empty.
import type { ChangeEvent } from '../../platform/bus.js';
import type { Actor } from '../../platform/context.js';

export interface CachedPrincipal {
  tenantId: string;
  actor: Actor;
}

export interface PrincipalCacheOptions {
  /** How long an entry may be served without a fresh check (ms). */
  ttlMs: number;
  maxEntries: number;
  /** Whether this node hears committed changes now (the bus is connected). */
  listening(): boolean;
}

/** The entity types whose changes can end a cached principal's access. */
const INVALIDATING: ReadonlySet<string> = new Set(['users', 'api_keys', 'tenants']);

interface Entry<P> {
  principal: P;
  expiresAt: number;
}

export class PrincipalCache<P extends CachedPrincipal = CachedPrincipal> {
  private readonly entries = new Map<string, Entry<P>>();
  private changes = 0;

  constructor(private readonly opts: PrincipalCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Moves on every user, key or tenant change this node hears. A principal read from the database is
   * cached only if no change was heard while it was being read (else it may predate the change).
   */
  get epoch(): number {
    return this.changes;
  }

  get(token: string, now = Date.now()): P | undefined {
    if (!this.opts.listening()) {
      this.entries.clear();
      return undefined;
    }
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.principal;
  }

  /**
   * `readAt`: the epoch when the principal's read began (a change heard since makes it unsafe to
   * keep). `notAfter` (ms since the epoch): the entry never outlives it (a login token's expiry).
   */
  set(token: string, principal: P, readAt: number, now = Date.now(), notAfter = Infinity): void {
    if (!this.opts.listening() || readAt !== this.changes) return;
    this.entries.delete(token);
    // The oldest entry makes room (a Map iterates in insertion order).
    if (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { principal, expiresAt: Math.min(now + this.opts.ttlMs, notAfter) });
  }

  /**
   * Committed changes: any change of a user or an API key drops the entries that stand for it, a
   * change of the tenant itself (deactivated) every entry of the tenant.
   */
  onEvents(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (!event.entity_id || !INVALIDATING.has(event.entity_type)) continue;
      this.changes += 1;
      for (const [token, { principal }] of this.entries) {
        const { actor } = principal;
        const hit =
          event.entity_type === 'tenants' ||
          (event.entity_type === 'users' ? actor.userId === event.entity_id : actor.type === 'api_key' && actor.id === event.entity_id);
        if (hit && principal.tenantId === event.tenant_id) this.entries.delete(token);
      }
    }
  }

  clear(): void {
    this.changes += 1;
    this.entries.clear();
  }
}
