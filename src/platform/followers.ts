// Change-log followers: work derived from committed changes (a score that moved, a dashboard's data
// that changed), computed after commit from the change log and never inside the write that caused
// it, so a write keeps its round trips. Each follower keeps a cursor per tenant (change_log_cursors).
// One pass over a tenant is one transaction through the write path: it holds the cursor row
// (`FOR UPDATE SKIP LOCKED`: one node at a time per follower and tenant), reads the events after
// the cursor, lets the follower record what they derive, and moves the cursor; the derived events
// are appended and the cursor moved in the same COMMIT, so each is written exactly once, whichever
// node runs the pass and whenever a node dies. The bus only wakes a pass; a poll catches up
// whatever a lost wake-up missed.
import type { Knex } from 'knex';
import type { ChangeEvent, EventBus } from './bus.js';
import { systemContext } from './context.js';
import type { Logger } from './logger.js';
import { NO_METRICS, type MetricsSink } from './metrics-sink.js';
import type { WriteRunner, WriteScope } from './write.js';

/** Events read per transaction; a tenant with more behind runs further passes at once. */
export const FOLLOWER_BATCH = 500;
/** Passes one wake-up runs for one tenant before the others get theirs. */
const PASSES_PER_WAKE = 20;
/** Wake-ups within this window run as one pass (a burst of writes is read in one batch). */
const COALESCE_MS = 20;
/**
 * How often a poll reads again which tenants each follower works for. In between, a tenant becomes
 * one through its own event (`wakes`, on every node through the bus); the re-read finds those whose
 * wake-up was lost and drops those that have nothing left to follow. A node whose tenants have no
 * scorecard and no dashboard sends nothing else.
 */
const TENANTS_REFRESH_MS = 30_000;

export interface FollowerPort {
  /** The cursor's name; stable across releases. */
  name: string;
  /** The entity types whose events it reads (the cursor moves past every other event). */
  entityTypes: readonly string[];
  /** Tenants it has work in (a scorecard, a dashboard), read again on every poll: events of others wake nothing. */
  tenants(db: Knex): Promise<string[]>;
  /** An event that makes its tenant one to follow before the next poll (the first scorecard). */
  wakes(event: ChangeEvent): boolean;
  /** The first pass in a tenant: its state built from the records as they are; the cursor starts at the tenant's newest seq. */
  begin(scope: WriteScope): Promise<void>;
  /** A batch of the tenant's events, in seq order; derived events are recorded on the scope. */
  handle(scope: WriteScope, events: ChangeEvent[]): Promise<void>;
}

/** Reads a tenant's events with after < seq ≤ upTo of the given types, in seq order. */
export type ChangeLogReader = (
  scope: WriteScope,
  range: { after: number; upTo: number; limit: number; entityTypes: readonly string[] },
) => Promise<ChangeEvent[]>;

export interface FollowerSettings {
  /** How often followers look for tenants behind their cursor without a bus wake-up (ms). */
  pollMs: number;
}

type PassOutcome = 'done' | 'more' | 'busy';

class Follower {
  active = new Set<string>();
  /** When `active` was last read from the database (0: never). */
  activeReadAt = 0;
  private readonly dirty = new Set<string>();
  /** Per tenant, the seq up to which a pass on this node has read: an event at or below it wakes nothing. */
  private readonly readUpTo = new Map<string, number>();
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly port: FollowerPort,
    private readonly deps: {
      knex: Knex;
      writes: WriteRunner;
      read: ChangeLogReader;
      logger: Logger;
      metrics: Pick<MetricsSink, 'followerPass'>;
      isStopped: () => boolean;
    },
  ) {}

  /** A tenant with (possibly) new events: a pass soon, coalesced with other wake-ups. `seq`: the event's, when a bus event woke it. */
  mark(tenantId: string, seq?: number): void {
    if (this.deps.isStopped()) return;
    if (seq !== undefined && seq <= (this.readUpTo.get(tenantId) ?? 0)) return;
    this.dirty.add(tenantId);
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, COALESCE_MS);
    this.timer.unref();
  }

  idle(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  private drain(): void {
    if (this.running || this.deps.isStopped()) return;
    this.running = (async () => {
      while (this.dirty.size && !this.deps.isStopped()) {
        const [tenantId] = this.dirty;
        this.dirty.delete(tenantId);
        // Woken by one of its events: followed from now on, until the next poll says otherwise.
        this.active.add(tenantId);
        try {
          let outcome: PassOutcome = 'more';
          for (let i = 0; i < PASSES_PER_WAKE && outcome === 'more' && !this.deps.isStopped(); i++) outcome = await this.pass(tenantId);
          if (outcome === 'more') this.dirty.add(tenantId);
        } catch (err) {
          // The cursor did not move: the next wake-up or poll tries again.
          this.deps.metrics.followerPass(this.port.name, 'failed', 0);
          this.deps.logger.warn('change-log follower pass failed', { follower: this.port.name, tenant_id: tenantId, err: String(err) });
        }
      }
    })().finally(() => {
      this.running = undefined;
      if (this.dirty.size) this.mark([...this.dirty][0]);
    });
  }

  private async pass(tenantId: string): Promise<PassOutcome> {
    let derived = 0;
    const outcome = await this.run(tenantId, () => derived++);
    this.deps.metrics.followerPass(this.port.name, outcome === 'busy' ? 'busy' : 'ok', derived);
    return outcome;
  }

  /** One pass in one transaction; `counted` is called for each derived event recorded. */
  private run(tenantId: string, counted: () => void): Promise<PassOutcome> {
    const { knex, writes, read } = this.deps;
    const name = this.port.name;
    return writes.run(systemContext(tenantId, knex), async (scope): Promise<PassOutcome> => {
      const w: WriteScope = {
        ...scope,
        record: (change) => {
          counted();
          scope.record(change);
        },
      };
      const started: { rows: unknown[] } = await w.trx.raw(
        `INSERT INTO change_log_cursors (follower, tenant_id, last_seq)
         SELECT ?, ?, coalesce((SELECT last_seq FROM tenant_event_counters WHERE tenant_id = ?), 0)
         ON CONFLICT (follower, tenant_id) DO NOTHING RETURNING last_seq`,
        [name, tenantId, tenantId],
      );
      if (started.rows.length) {
        await this.port.begin(w);
        return 'done';
      }
      const held: { rows: { last_seq: string; up_to: string }[] } = await w.trx.raw(
        `SELECT f.last_seq, coalesce(c.last_seq, 0) AS up_to
           FROM change_log_cursors f LEFT JOIN tenant_event_counters c ON c.tenant_id = f.tenant_id
          WHERE f.follower = ? AND f.tenant_id = ? FOR UPDATE OF f SKIP LOCKED`,
        [name, tenantId],
      );
      const cursor = held.rows[0];
      if (!cursor) return 'busy'; // another node's pass holds it
      const after = Number(cursor.last_seq);
      const upTo = Number(cursor.up_to);
      this.readUpTo.set(tenantId, after);
      if (upTo <= after) return 'done';
      const events = await read(w, { after, upTo, limit: FOLLOWER_BATCH, entityTypes: this.port.entityTypes });
      if (events.length) await this.port.handle(w, events);
      // Fewer than a batch: every event up to upTo was read (the counter moves in the COMMIT of its events).
      const next = events.length < FOLLOWER_BATCH ? upTo : events[events.length - 1].seq;
      await w.trx('change_log_cursors').where({ follower: name, tenant_id: tenantId }).update({ last_seq: next, updated_at: w.trx.fn.now() });
      // Known once committed; if the COMMIT fails, the next wake-up above `after` reads them again.
      w.trx.executionPromise?.then(
        () => this.readUpTo.set(tenantId, next),
        () => undefined,
      );
      return next < upTo ? 'more' : 'done';
    });
  }
}

/** The followers of one node: one bus subscription, one poll. */
export class ChangeLogFollowers {
  private readonly followers: Follower[];
  private unsubscribe?: () => void;
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = true;

  constructor(
    private readonly deps: {
      knex: Knex;
      writes: WriteRunner;
      bus: EventBus;
      read: ChangeLogReader;
      logger: Logger;
      settings: FollowerSettings;
      metrics?: Pick<MetricsSink, 'followerPass'>;
    },
    ports: readonly FollowerPort[],
  ) {
    const shared = {
      knex: deps.knex,
      writes: deps.writes,
      read: deps.read,
      logger: deps.logger,
      metrics: deps.metrics ?? NO_METRICS,
      isStopped: () => this.stopped,
    };
    this.followers = ports.map((port) => new Follower(port, shared));
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.deps.bus.subscribe((events) => {
      for (const f of this.followers) {
        for (const e of events) if (f.active.has(e.tenant_id) || f.port.wakes(e)) f.mark(e.tenant_id, e.seq);
      }
    });
    this.poller = setInterval(() => void this.poll(), this.deps.settings.pollMs);
    this.poller.unref();
    void this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.poller) clearInterval(this.poller);
    await this.polling;
    await Promise.all(this.followers.map((f) => f.idle()));
  }

  /** Which tenants each follower works for (re-read every TENANTS_REFRESH_MS), and which of them are behind its cursor. */
  poll(): Promise<void> {
    if (this.polling || this.stopped) return this.polling ?? Promise.resolve();
    this.polling = (async () => {
      for (const f of this.followers) {
        try {
          if (Date.now() - f.activeReadAt >= Math.max(TENANTS_REFRESH_MS, this.deps.settings.pollMs)) {
            f.active = new Set(await f.port.tenants(this.deps.knex));
            f.activeReadAt = Date.now();
          }
          if (f.active.size === 0 || this.stopped) continue;
          const behind = (await this.deps.knex.raw(
            `SELECT c.tenant_id FROM tenant_event_counters c
               LEFT JOIN change_log_cursors f ON f.follower = ? AND f.tenant_id = c.tenant_id
              WHERE c.tenant_id = ANY(?::uuid[]) AND (f.last_seq IS NULL OR c.last_seq > f.last_seq)`,
            [f.port.name, [...f.active]],
          )) as { rows: { tenant_id: string }[] };
          for (const { tenant_id } of behind.rows) f.mark(tenant_id);
        } catch (err) {
          this.deps.logger.warn('change-log follower poll failed', { follower: f.port.name, err: String(err) });
        }
      }
    })().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }
}
