// One loaded document: its Y.Doc and awareness, the clients connected to it on this node, and the
// path every accepted edit takes: applied, appended to PostgreSQL (batched per tick), and only
// then relayed to other clients and nodes. The projector node also keeps the entity row in step.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { CatalogType } from '../../modules/catalog/kinds.js';
import type { ChangeEvent } from '../bus.js';
import type { Logger } from '../logger.js';
import { initialUpdate, readBase, sameValue } from './layout.js';
import { PROJECTION_ORIGIN, REST_ORIGIN, type Projector } from './projection.js';
import { awarenessMessage, updateMessage } from './protocol.js';
import { RELAY_AWARENESS, RELAY_QUERY_AWARENESS, RELAY_UPDATE, type RedisRelay, type RelayMessage } from './redis-relay.js';
import type { CollabStorage, PendingUpdate } from './storage.js';

export const CLIENT = Symbol('collab client');

/** A connection as the document sees it. */
export interface DocClient {
  readonly [CLIENT]: true;
  readonly userId: string | null;
  /** Awareness client ids this connection speaks for, removed when it goes. */
  readonly awarenessIds: Set<number>;
  send(message: Uint8Array): void;
  close(code: number, reason: string): void;
}

export interface DocumentOptions {
  projectionDelayMs: number;
  projectionMaxDelayMs: number;
  compactAfterUpdates: number;
  compactIdleMs: number;
  unloadDelayMs: number;
  lockTtlMs: number;
}

export interface DocumentDeps {
  storage: CollabStorage;
  projector: Projector;
  relay?: RedisRelay;
  logger: Logger;
  options: DocumentOptions;
  loadRow(trx: Knex.Transaction): Promise<Record<string, unknown>>;
  /** Asks the registry to unload this document (no clients left). */
  requestUnload(doc: CollabDocument): void;
}

export interface ProjectionNotice {
  status: 'ok' | 'invalid' | 'forbidden' | 'conflict';
  detail?: string;
  errors?: { path: string; message: string }[];
}

const LOAD_ORIGIN = Object.freeze({ source: 'load' as const });
const CATCHUP_ORIGIN = Object.freeze({ source: 'catchup' as const });
const RELAY_AWARENESS_ORIGIN = Object.freeze({ source: 'redis' as const });
const APPEND_RETRIES_MS = [100, 400, 1_500];

const isClient = (origin: unknown): origin is DocClient =>
  typeof origin === 'object' && origin !== null && (origin as Partial<DocClient>)[CLIENT] === true;

type Pending = PendingUpdate & { from: DocClient | null };

export class CollabDocument {
  readonly doc = new Y.Doc();
  readonly awareness = new Awareness(this.doc);
  readonly clients = new Set<DocClient>();
  state: 'loading' | 'ready' | 'unloading' | 'failed' | 'closed' = 'loading';
  isProjector = false;

  private documentId = '';
  private readonly lockToken = randomUUID();
  private pending: Pending[] = [];
  private flushing = false;
  private flushScheduled = false;
  private durableWaiters: (() => void)[] = [];
  private contributors: string[] = [];
  private dirtySince: number | null = null;
  private projectionTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private unloadTimer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private appendedSinceCompaction = 0;
  private relayBuffer: RelayMessage[] | null = [];
  private notice: ProjectionNotice | null = null;
  private readonly log: Logger;

  constructor(
    readonly key: string,
    readonly tenantId: string,
    readonly entityType: CatalogType,
    readonly entityId: string,
    private readonly deps: DocumentDeps,
  ) {
    this.log = deps.logger.child({ component: 'collab', document: `${entityType}/${entityId}` });
    this.awareness.setLocalState(null);
    this.doc.on('update', this.onDocUpdate);
    this.awareness.on('update', this.onAwarenessUpdate);
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Subscribe, read snapshot + log, and (as projector) reconcile with the row. Throws on failure. */
  async load(): Promise<void> {
    const { relay, storage } = this.deps;
    if (relay) await relay.subscribe(this.key, this.onRelay);
    const address = { tenantId: this.tenantId, entityType: this.entityType, entityId: this.entityId };
    this.documentId = await storage.ensure(address, async (trx) => initialUpdate(this.entityType, await this.deps.loadRow(trx)));
    const stored = await storage.read(this.documentId);
    if (!stored.snapshot && stored.updates.length === 0) throw new Error('the stored document is empty');
    this.doc.transact(() => {
      if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot);
      for (const u of stored.updates) Y.applyUpdate(this.doc, u.update);
    }, LOAD_ORIGIN);
    // Edits still in the log may not be in the row yet (a crash before projection): their authors.
    for (const u of stored.updates) if (u.actorId) this.noteContributor(u.actorId);
    this.state = 'ready';
    const buffered = this.relayBuffer ?? [];
    this.relayBuffer = null;
    for (const m of buffered) this.applyRelay(m);
    if (relay) {
      relay.publish(this.key, { kind: RELAY_QUERY_AWARENESS, actorId: '', payload: new Uint8Array() });
      this.isProjector = await relay.acquire(this.key, this.lockToken, this.deps.options.lockTtlMs);
    } else {
      this.isProjector = true;
    }
    if (this.isProjector) await this.synchronise('load').catch(() => {});
  }

  attach(client: DocClient): void {
    clearTimeout(this.unloadTimer);
    this.unloadTimer = undefined;
    this.clients.add(client);
  }

  detach(client: DocClient): void {
    if (!this.clients.delete(client)) return;
    if (client.awarenessIds.size) removeAwarenessStates(this.awareness, [...client.awarenessIds], client);
    if (this.clients.size === 0 && this.state === 'ready') {
      clearTimeout(this.unloadTimer);
      this.unloadTimer = setTimeout(() => {
        if (this.clients.size === 0 && this.state === 'ready') this.deps.requestUnload(this);
      }, this.deps.options.unloadDelayMs);
    }
  }

  /** Flush, project, compact, release: nothing stored is lost and nothing stays behind. */
  async unload(): Promise<void> {
    const failed = this.state === 'failed';
    if (this.state === 'ready') this.state = 'unloading';
    for (const timer of [this.projectionTimer, this.idleTimer, this.unloadTimer]) clearTimeout(timer);
    if (!failed) {
      await this.whenDurable();
      if (this.isProjector && this.dirtySince !== null) await this.synchronise('unload').catch(() => {});
      await this.work;
      await this.whenDurable();
      if (this.appendedSinceCompaction > 0 && this.state !== 'failed') await this.compact();
    }
    const { relay } = this.deps;
    this.awareness.setLocalState(null);
    if (relay) {
      if (this.isProjector) await relay.release(this.key, this.lockToken);
      await relay.unsubscribe(this.key);
    }
    this.isProjector = false;
    this.state = 'closed';
    this.awareness.destroy();
    this.doc.destroy();
  }

  closeClients(code: number, reason: string): void {
    for (const client of [...this.clients]) client.close(code, reason);
  }

  // ---- sync protocol ---------------------------------------------------------------------------

  applyClientUpdate(client: DocClient, update: Uint8Array): void {
    if (this.state !== 'ready') return;
    Y.applyUpdate(this.doc, update, client);
  }

  applyClientAwareness(client: DocClient, update: Uint8Array): void {
    if (this.state === 'closed') return;
    applyAwarenessUpdate(this.awareness, update, client);
  }

  /** Resolves once every accepted edit so far is in PostgreSQL: nothing unstored is ever sent. */
  whenDurable(): Promise<void> {
    if (!this.pending.length && !this.flushing && !this.flushScheduled) return Promise.resolve();
    return new Promise((resolve) => this.durableWaiters.push(resolve));
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === LOAD_ORIGIN) return;
    if (isClient(origin)) {
      this.persistThenRelay({ update, actorId: origin.userId, from: origin });
      if (origin.userId) this.noteContributor(origin.userId);
      this.markDirty();
    } else if (origin === REST_ORIGIN || origin === PROJECTION_ORIGIN) {
      this.persistThenRelay({ update, actorId: null, from: null });
    } else {
      // From another node (already stored there) or re-read from PostgreSQL: local clients only.
      this.broadcast(updateMessage(update), null);
      const actorId = (origin as { actorId?: string | null }).actorId;
      if (actorId) this.noteContributor(actorId);
      this.markDirty();
    }
  };

  private persistThenRelay(entry: Pending): void {
    this.pending.push(entry);
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length && this.state !== 'failed') {
        const batch = this.pending.splice(0);
        await this.append(batch);
        for (const p of batch) {
          this.broadcast(updateMessage(p.update), p.from);
          this.deps.relay?.publish(this.key, { kind: RELAY_UPDATE, actorId: p.actorId ?? '', payload: p.update });
        }
        this.appendedSinceCompaction += batch.length;
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.flushing = false;
      const waiters = this.durableWaiters.splice(0);
      for (const resolve of waiters) resolve();
    }
    if (this.appendedSinceCompaction >= this.deps.options.compactAfterUpdates) void this.compact();
    else this.armIdleCompaction();
  }

  private async append(batch: Pending[]): Promise<void> {
    const rows = batch.map(({ update, actorId }) => ({ update, actorId }));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.storage.append(this.documentId, rows);
      } catch (err) {
        if (attempt >= APPEND_RETRIES_MS.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, APPEND_RETRIES_MS[attempt]));
      }
    }
  }

  /**
   * Storage is gone: the unstored edits were never relayed, and their authors still hold them, so
   * the clients are sent away to reconnect (and resend) once the document loads again.
   */
  private fail(err: unknown): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.log.error('storing co-editing updates failed; closing the document', { err: String(err) });
    this.state = 'failed';
    this.pending = [];
    this.closeClients(1011, 'document storage unavailable');
    this.deps.requestUnload(this);
  }

  private broadcast(message: Uint8Array, except: DocClient | null): void {
    for (const client of this.clients) if (client !== except) client.send(message);
  }

  // ---- compaction ------------------------------------------------------------------------------

  private armIdleCompaction(): void {
    clearTimeout(this.idleTimer);
    if (this.appendedSinceCompaction === 0 || this.state !== 'ready') return;
    this.idleTimer = setTimeout(() => void this.compact(), this.deps.options.compactIdleMs);
    this.idleTimer.unref();
  }

  private async compact(): Promise<void> {
    clearTimeout(this.idleTimer);
    const counted = this.appendedSinceCompaction;
    this.appendedSinceCompaction = 0;
    try {
      await this.deps.storage.compact(this.documentId);
    } catch (err) {
      this.appendedSinceCompaction += counted;
      this.log.warn('compacting the update log failed', { err: String(err) });
    }
  }

  // ---- awareness and relay ---------------------------------------------------------------------

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (isClient(origin)) {
      for (const id of added) origin.awarenessIds.add(id);
      for (const id of removed) origin.awarenessIds.delete(id);
    }
    const payload = encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed]);
    this.broadcast(awarenessMessage(payload), null);
    if (origin !== RELAY_AWARENESS_ORIGIN) this.deps.relay?.publish(this.key, { kind: RELAY_AWARENESS, actorId: '', payload });
  };

  private readonly onRelay = (message: RelayMessage): void => {
    if (this.relayBuffer) this.relayBuffer.push(message);
    else this.applyRelay(message);
  };

  private applyRelay({ kind, actorId, payload }: RelayMessage): void {
    if (this.state !== 'ready' && this.state !== 'unloading') return;
    try {
      if (kind === RELAY_UPDATE) Y.applyUpdate(this.doc, payload, { source: 'redis', actorId: actorId || null });
      else if (kind === RELAY_AWARENESS) applyAwarenessUpdate(this.awareness, payload, RELAY_AWARENESS_ORIGIN);
      else if (kind === RELAY_QUERY_AWARENESS) this.publishOwnAwareness();
    } catch (err) {
      this.log.warn('ignoring a relayed message that does not apply', { err: String(err) });
    }
  }

  private publishOwnAwareness(): void {
    const ids = [...this.clients].flatMap((c) => [...c.awarenessIds]);
    if (this.awareness.getLocalState() !== null) ids.push(this.doc.clientID);
    const present = ids.filter((id) => this.awareness.getStates().has(id));
    if (present.length === 0) return;
    this.deps.relay?.publish(this.key, { kind: RELAY_AWARENESS, actorId: '', payload: encodeAwarenessUpdate(this.awareness, present) });
  }

  /** After a Redis outage: whatever other nodes stored meanwhile, re-read from PostgreSQL. */
  async catchUp(): Promise<void> {
    if (this.state !== 'ready') return;
    const stored = await this.deps.storage.read(this.documentId);
    if (this.state !== 'ready') return;
    this.doc.transact(() => {
      if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot);
      for (const u of stored.updates) Y.applyUpdate(this.doc, u.update);
    }, CATCHUP_ORIGIN);
    this.publishOwnAwareness();
  }

  // ---- projection ------------------------------------------------------------------------------

  private noteContributor(userId: string): void {
    const i = this.contributors.indexOf(userId);
    if (i >= 0) this.contributors.splice(i, 1);
    this.contributors.push(userId);
  }

  private markDirty(): void {
    if (!this.isProjector || this.state !== 'ready') return;
    const now = Date.now();
    this.dirtySince ??= now;
    const { projectionDelayMs, projectionMaxDelayMs } = this.deps.options;
    clearTimeout(this.projectionTimer);
    const wait = Math.max(0, Math.min(projectionDelayMs, this.dirtySince + projectionMaxDelayMs - now));
    this.projectionTimer = setTimeout(() => void this.synchronise('edit').catch(() => {}), wait);
  }

  /** Called for committed change events of this record (any node's REST writes, our projections). */
  onEntityEvent(event: ChangeEvent): void {
    if (event.action === 'deleted') {
      this.closeClients(4404, 'the record was deleted');
      return;
    }
    if (!this.isProjector || this.state !== 'ready') return;
    const version = Number((event.data as { row_version?: unknown } | null)?.row_version ?? 0);
    if (version && version <= readBase(this.doc).rowVersion) return; // our own projection's echo
    void this.synchronise('rest').catch(() => {});
  }

  /** The projector lease, renewed (or tried for) on the registry's tick. */
  async tickLease(): Promise<void> {
    const { relay, options } = this.deps;
    if (!relay || this.state !== 'ready') return;
    if (this.isProjector) {
      if (!(await relay.renew(this.key, this.lockToken, options.lockTtlMs))) {
        this.isProjector = false;
        clearTimeout(this.projectionTimer);
        this.log.warn('lost the projector lease');
      }
    } else if (await relay.acquire(this.key, this.lockToken, options.lockTtlMs)) {
      if (this.state !== 'ready') {
        await relay.release(this.key, this.lockToken);
        return;
      }
      this.isProjector = true;
      void this.synchronise('takeover').catch(() => {});
    }
  }

  /** Serialised per document: projections, REST merges and takeovers never interleave. */
  synchronise(reason: string): Promise<void> {
    const run = this.work.then(() => this.synchroniseNow(reason));
    this.work = run.catch(() => {});
    return run;
  }

  private async synchroniseNow(reason: string): Promise<void> {
    if (!this.isProjector || (this.state !== 'ready' && this.state !== 'unloading')) return;
    clearTimeout(this.projectionTimer);
    this.projectionTimer = undefined;
    this.dirtySince = null;
    const contributors = this.contributors.slice();
    try {
      const outcome = await this.deps.projector.synchronise({
        type: this.entityType, tenantId: this.tenantId, entityId: this.entityId, doc: this.doc, contributors,
      });
      if (outcome.kind === 'gone') {
        this.closeClients(4404, 'the record was deleted');
      } else if (outcome.kind === 'invalid') {
        const status = outcome.error.status === 403 ? 'forbidden' : outcome.error.status === 409 ? 'conflict' : 'invalid';
        this.announce({ status, detail: outcome.error.detail ?? outcome.error.title, errors: outcome.error.errors ?? [] });
      } else {
        if (outcome.projected) this.contributors = this.contributors.filter((c) => !contributors.includes(c));
        if (this.notice && this.notice.status !== 'ok') this.announce({ status: 'ok' });
      }
    } catch (err) {
      this.log.warn('projecting the document failed; retrying on the next edit', { reason, err: String(err) });
      throw err;
    }
  }

  /** Tells every client (editors first of all) how the last projection went, via awareness. */
  private announce(notice: ProjectionNotice): void {
    if (sameValue(this.notice, notice)) return;
    this.notice = notice;
    this.awareness.setLocalState({ server: true, projection: { ...notice, at: new Date().toISOString() } });
  }
}
