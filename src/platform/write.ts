// The single write path. Every mutation runs inside WriteRunner.run: the service writes its rows,
// records each change, and the runner appends the audit entries and the change-log events (with
// the tenant's next seqs) in the same transaction. Events reach the bus only after COMMIT.
import type { Knex } from 'knex';
import type { ChangeEvent, EventBus } from './bus.js';
import type { ServiceContext } from './context.js';
import { toAppError } from './errors.js';
import type { Logger } from './logger.js';

export type ChangeAction = 'created' | 'updated' | 'deleted' | 'restored' | 'status_changed' | 'timeline_entry';

const AUDIT_ACTION: Record<ChangeAction, string> = {
  created: 'create',
  updated: 'update',
  deleted: 'delete',
  restored: 'restore',
  status_changed: 'status_change',
  timeline_entry: 'timeline_entry',
};

export type FieldChanges = Record<string, { old: unknown; new: unknown }>;

export interface ChangeRecord {
  entityType: string;
  entityId: string | null;
  entityName?: string | null;
  action: ChangeAction;
  /** The entity as REST returns it, after the change. */
  data: unknown;
  changes?: FieldChanges | null;
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
  ) {}

  async run<T>(ctx: ServiceContext, work: (scope: WriteScope) => Promise<T>): Promise<T> {
    if (ctx.trx) {
      const pending = this.open.get(ctx.trx);
      if (!pending) throw new Error('WriteRunner.run joined a transaction it did not open');
      return work(this.scope(ctx, ctx.trx, pending));
    }
    let events: ChangeEvent[] = [];
    const result = await this.knex
      .transaction(async (trx) => {
        const pending: PendingWrite = { changes: [], ctx };
        this.open.set(trx, pending);
        const value = await work(this.scope({ ...ctx, trx }, trx, pending));
        events = await this.appendLog(trx, pending);
        return value;
      })
      .catch((err: unknown) => {
        // Unique clashes, bad references, a lost database: the same AppError for every caller.
        throw toAppError(err) ?? err;
      });
    this.publishAfterCommit(events);
    return result;
  }

  private scope(ctx: ServiceContext, trx: Knex.Transaction, pending: PendingWrite): WriteScope {
    return { ...ctx, trx, record: (change) => pending.changes.push(change) };
  }

  /** Audit entries and change events, written last so the per-tenant seq lock is held briefly. */
  private async appendLog(trx: Knex.Transaction, { changes, ctx }: PendingWrite): Promise<ChangeEvent[]> {
    if (changes.length === 0) return [];
    const { actor } = ctx;
    const at = new Date().toISOString();
    await trx('audit_logs').insert(
      changes.map((c) => ({
        tenant_id: ctx.tenantId,
        user_id: actor.userId,
        actor_type: actor.type,
        action: AUDIT_ACTION[c.action],
        entity_type: c.entityType,
        entity_id: c.entityId,
        entity_name: c.entityName?.slice(0, 255) ?? null,
        changes: c.changes ? JSON.stringify(c.changes) : null,
        metadata: JSON.stringify({
          request_id: ctx.requestId ?? null,
          ip: ctx.ip ?? null,
          actor_id: actor.id,
          ...(actor.coActors?.length ? { co_actors: actor.coActors } : {}),
        }),
        timestamp: at,
      })),
    );
    // The counter row lock serialises this tenant's writers from here to COMMIT, so seqs are
    // gapless and follow commit order; a rollback releases the increment with everything else.
    const [{ last_seq: last }] = await trx('tenant_event_counters')
      .insert({ tenant_id: ctx.tenantId, last_seq: changes.length })
      .onConflict('tenant_id')
      .merge({ last_seq: trx.raw('tenant_event_counters.last_seq + ?', [changes.length]) })
      .returning('last_seq');
    const first = Number(last) - changes.length + 1;
    const events: ChangeEvent[] = changes.map((c, i) => ({
      seq: first + i,
      type: `${c.entityType}.${c.action}`,
      tenant_id: ctx.tenantId,
      entity_type: c.entityType,
      entity_id: c.entityId,
      action: c.action,
      actor: { type: actor.type, id: actor.id },
      at,
      data: c.data,
      changes: c.changes ?? null,
      origin: ctx.origin ?? 'rest',
    }));
    await trx('change_events').insert(
      events.map((e) => ({
        tenant_id: e.tenant_id,
        seq: e.seq,
        type: e.type,
        entity_type: e.entity_type,
        entity_id: e.entity_id,
        action: e.action,
        actor_type: e.actor.type,
        actor_id: e.actor.id,
        data: JSON.stringify(e.data ?? {}),
        changes: e.changes ? JSON.stringify(e.changes) : null,
        request_id: ctx.requestId ?? null,
        origin: e.origin,
        at: e.at,
      })),
    );
    return events;
  }

  private publishAfterCommit(events: ChangeEvent[]): void {
    if (events.length === 0) return;
    this.bus.publish(events).catch((err: unknown) => {
      // The change log already holds these events; live delivery catches up from it.
      this.logger.warn('event publish failed', { err: String(err), first_seq: events[0].seq });
    });
  }
}
