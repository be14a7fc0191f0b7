// The single write path. Every mutation runs inside WriteRunner.run: the service writes its rows,
// records each change, and the runner appends the audit entries and the change-log events (with
// the tenant's next seqs) in the same transaction. Events reach the bus only after COMMIT.
import type { Knex } from 'knex';
import type { ChangeEvent, EventBus } from './bus.js';
import type { ServiceContext } from './context.js';
import { inlineNamed, runScript } from './db.js';
import { toAppError } from './errors.js';
import type { Logger } from './logger.js';
import { NO_METRICS, type MetricsSink } from './metrics-sink.js';
import { SPANS, inSpan, startSpan, withinSpan } from './tracing.js';

export type ChangeAction = 'created' | 'updated' | 'deleted' | 'restored' | 'status_changed' | 'timeline_entry' | 'disabled' | 'score_changed' | 'data_changed';

/**
 * The audit entry's action per change action. Events a change-log follower derives after commit
 * (a score or a dashboard's data that moved) have none: nobody did them, the change that caused
 * them has its own entry.
 */
const AUDIT_ACTION: Record<ChangeAction, string | null> = {
  created: 'create',
  updated: 'update',
  deleted: 'delete',
  restored: 'restore',
  status_changed: 'status_change',
  timeline_entry: 'timeline_entry',
  disabled: 'disable',
  score_changed: null,
  data_changed: null,
};

/**
 * One round trip for the whole log of a write: the tenant's counter moves by n, the audit rows and
 * the change events (seq = new last_seq - n + 1 + i) go in beside it. The changes travel as one
 * JSON array.
 */
const APPEND_LOG_SQL = `
WITH counter AS (
  INSERT INTO tenant_event_counters AS t (tenant_id, last_seq) VALUES (:tenant, :n)
  ON CONFLICT (tenant_id) DO UPDATE SET last_seq = t.last_seq + :n
  RETURNING last_seq
), log AS (
  SELECT * FROM jsonb_to_recordset(CAST(:log AS jsonb)) AS x(
    i int, action text, audit_action text, type text, entity_type text, entity_id uuid, entity_name text,
    data jsonb, changes jsonb)
), audit AS (
  INSERT INTO audit_logs (tenant_id, user_id, actor_type, action, entity_type, entity_id, entity_name, changes, metadata, "timestamp")
  SELECT :tenant, :user, :actor_type, log.audit_action, log.entity_type, log.entity_id, log.entity_name,
         NULLIF(log.changes, 'null'::jsonb), CAST(:metadata AS jsonb), :at FROM log WHERE log.audit_action IS NOT NULL ORDER BY log.i
)
INSERT INTO change_events (tenant_id, seq, type, entity_type, entity_id, action, actor_type, actor_id, data, changes, request_id, at, origin)
SELECT :tenant, counter.last_seq - :n + 1 + log.i, log.type, log.entity_type, log.entity_id, log.action, :actor_type, :actor_id,
       log.data, NULLIF(log.changes, 'null'::jsonb), :request_id, :at, :origin
  FROM counter, log
RETURNING seq`;

export type FieldChanges = Record<string, { old: unknown; new: unknown }>;

/** What an audit entry names a change (its event keeps the change's action): a login is an update of the user. */
export type AuditAction = 'login';

export interface ChangeRecord {
  entityType: string;
  entityId: string | null;
  entityName?: string | null;
  action: ChangeAction;
  /** The entity as REST returns it, after the change. */
  data: unknown;
  /**
   * What changed, field by field. Left out, a create lists every field it set (old null) and a
   * delete or restore the lifecycle fields it moved, read from `previous`.
   */
  changes?: FieldChanges | null;
  /** The record before a delete or restore (a row or its REST shape): where the lifecycle fields' old values come from. */
  previous?: object;
  /** The audit entry's action when it is not the change's own (see AuditAction). */
  auditAction?: AuditAction;
}

/** Fields a create does not list as changes: the record's identity and bookkeeping, which every row has. */
const NOT_CREATED = new Set(['id', 'tenant_id', 'version', 'created_at', 'updated_at', 'created_by', 'updated_by', 'deleted_at', 'row_version']);
/** The columns a delete or restore moves: soft deletion, deactivation (users) and revocation (API keys). */
const LIFECYCLE = ['deleted_at', 'is_active', 'revoked_at'] as const;

/** A value as the change log stores it (dates as ISO strings), so the audit entry, the event and the bus agree. */
function stored(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : (value ?? null);
}

/** The changes a record states, else those its action implies (see ChangeRecord.changes). */
function changesOf(c: ChangeRecord): FieldChanges | null {
  if (c.changes !== undefined) return c.changes;
  const data = (c.data ?? {}) as Record<string, unknown>;
  const changes: FieldChanges = {};
  if (c.action === 'created') {
    for (const [key, value] of Object.entries(data)) {
      if (!NOT_CREATED.has(key) && value !== null && value !== undefined) changes[key] = { old: null, new: stored(value) };
    }
  } else if ((c.action === 'deleted' || c.action === 'restored') && c.previous) {
    const before = c.previous as Record<string, unknown>;
    for (const key of LIFECYCLE) {
      if (!(key in data) || !(key in before)) continue;
      const [old, now] = [stored(before[key]), stored(data[key])];
      if (old !== now) changes[key] = { old, new: now };
    }
  }
  return Object.keys(changes).length ? changes : null;
}

export interface WriteScope extends ServiceContext {
  trx: Knex.Transaction;
  record(change: ChangeRecord): void;
}

interface PendingWrite {
  changes: ChangeRecord[];
  ctx: ServiceContext;
}

export class WriteRunner {
  // Transactions opened by run(), so a nested call joins its caller instead of committing early.
  private readonly open = new WeakMap<Knex.Transaction, PendingWrite>();

  constructor(
    private readonly knex: Knex,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly metrics: Pick<MetricsSink, 'eventsPublished'> = NO_METRICS,
  ) {}

  async run<T>(ctx: ServiceContext, work: (scope: WriteScope) => Promise<T>): Promise<T> {
    if (ctx.trx) {
      const pending = this.open.get(ctx.trx);
      if (!pending) throw new Error('WriteRunner.run joined a transaction it did not open');
      return work(this.scope(ctx, ctx.trx, pending));
    }
    const attributes = { 'appinventory.tenant_id': ctx.tenantId, 'appinventory.origin': ctx.origin ?? 'rest' };
    return inSpan(SPANS.transaction, attributes, (span) =>
      this.knex
        .transaction(async (trx) => {
          const pending: PendingWrite = { changes: [], ctx };
          this.open.set(trx, pending);
          const value = await work(this.scope({ ...ctx, trx }, trx, pending));
          // Committed once this returns (the append carries the COMMIT): published at once, not a
          // round trip later, after knex's COMMIT of the empty transaction behind it.
          this.publishAfterCommit(await this.appendLogAndCommit(trx, pending));
          span.setAttribute('appinventory.events', pending.changes.length);
          return value;
        })
        .catch((err: unknown) => {
          // Unique clashes, bad references, a lost database: the same AppError for every caller.
          throw toAppError(err) ?? err;
        }),
    );
  }

  private scope(ctx: ServiceContext, trx: Knex.Transaction, pending: PendingWrite): WriteScope {
    return { ...ctx, trx, record: (change) => pending.changes.push(change) };
  }

  /**
   * Audit entries, the counter increment and the change events in one statement, and the COMMIT
   * in the same round trip. The counter row lock serialises this tenant's writers from the append
   * to COMMIT, so seqs are gapless and follow commit order; sent together (the simple protocol
   * takes several statements in one message, values written in as literals) the lock is held for
   * what PostgreSQL does, never for a wait on this node's event loop, which may be busy fanning out
   * an event. A `BEGIN` after the COMMIT gives knex's own COMMIT an empty transaction to end. If
   * the append fails, PostgreSQL skips the rest and knex rolls back as always.
   */
  private async appendLogAndCommit(trx: Knex.Transaction, { changes, ctx }: PendingWrite): Promise<ChangeEvent[]> {
    if (changes.length === 0) return [];
    const { actor } = ctx;
    const at = new Date().toISOString();
    const origin = ctx.origin ?? 'rest';
    const metadata = {
      request_id: ctx.requestId ?? null,
      ip: ctx.ip ?? null,
      ...(ctx.userAgent ? { user_agent: ctx.userAgent } : {}),
      actor_id: actor.id,
      ...(actor.coActors?.length ? { co_actors: actor.coActors } : {}),
    };
    const fieldChanges = changes.map(changesOf);
    const rows = changes.map((c, i) => ({
      i,
      action: c.action,
      audit_action: c.auditAction ?? AUDIT_ACTION[c.action],
      type: `${c.entityType}.${c.action}`,
      entity_type: c.entityType,
      entity_id: c.entityId,
      entity_name: c.entityName?.slice(0, 255) ?? null,
      data: c.data ?? {},
      changes: fieldChanges[i],
    }));
    const append = inlineNamed(APPEND_LOG_SQL, {
      tenant: ctx.tenantId,
      n: changes.length,
      log: JSON.stringify(rows),
      user: actor.userId,
      actor_type: actor.type,
      metadata: JSON.stringify(metadata),
      at,
      actor_id: actor.id,
      request_id: ctx.requestId ?? null,
      origin,
    });
    const first = await inSpan(SPANS.append, { 'appinventory.events': changes.length }, async (span) => {
      const [{ rows: inserted }] = (await runScript(trx, `${append};\nCOMMIT;\nBEGIN`)) as Array<{ rows: { seq: string }[] }>;
      const seq = Math.min(...inserted.map((r) => Number(r.seq)));
      span.setAttribute('appinventory.first_seq', seq);
      return seq;
    });
    return changes.map((c, i) => ({
      seq: first + i,
      type: `${c.entityType}.${c.action}`,
      tenant_id: ctx.tenantId,
      entity_type: c.entityType,
      entity_id: c.entityId,
      action: c.action,
      actor: { type: actor.type, id: actor.id },
      at,
      data: c.data,
      changes: fieldChanges[i],
      origin,
    }));
  }

  private publishAfterCommit(events: ChangeEvent[]): void {
    if (events.length === 0) return;
    this.metrics.eventsPublished(events.length);
    // Nobody waits for the publish; its span ends when the bus has it (the Redis PUBLISH is its child).
    const publish = startSpan(SPANS.publish, { 'appinventory.events': events.length, 'appinventory.first_seq': events[0].seq });
    withinSpan(publish.span, () => this.bus.publish(events)).then(
      () => publish.done(),
      (err: unknown) => {
        publish.done(err);
        // The change log already holds these events; live delivery catches up from it.
        this.logger.warn('event publish failed', { err: String(err), first_seq: events[0].seq });
      },
    );
  }
}

/**
 * The newest seq of each tenant, for many tenants at once: the live-event sweep compares it with
 * what it delivered. Reads the per-tenant counters this module keeps, across tenants on purpose
 * (the sweep serves every tenant with sockets on the node); one row per tenant.
 */
export async function latestSeqs(db: Knex, tenantIds: string[]): Promise<Map<string, number>> {
  const latest = new Map<string, number>();
  for (let i = 0; i < tenantIds.length; i += 1000) {
    const rows = (await db('tenant_event_counters')
      .whereIn('tenant_id', tenantIds.slice(i, i + 1000))
      .select('tenant_id', 'last_seq')) as Array<{ tenant_id: string; last_seq: number }>;
    for (const row of rows) latest.set(row.tenant_id, Number(row.last_seq));
  }
  return latest;
}
