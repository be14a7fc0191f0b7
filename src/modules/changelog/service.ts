// The per-tenant change log (outbox) read back: `GET /events?since=` and live-event replay.
import { z } from 'zod';
import { publicEnvelope, type ChangeEvent } from '../../platform/bus.js';
import type { ActorType, ChangeOrigin, ServiceContext } from '../../platform/context.js';
import { validationError } from '../../platform/errors.js';
import { uuid } from '../../platform/schema-kit.js';
import { TenantModel, scoped } from '../../platform/tenancy.js';
import { readsAdminOnly } from '../access/policy.js';
import { visibleTo } from '../access/visibility.js';

export class ChangeEventRow extends TenantModel {
  static override tableName = 'change_events';
  static override idColumn = ['tenant_id', 'seq'];
  seq!: number;
  type!: string;
  entity_type!: string;
  entity_id!: string | null;
  action!: string;
  actor_type!: ActorType;
  actor_id!: string | null;
  data!: unknown;
  changes!: Record<string, { old: unknown; new: unknown }> | null;
  origin!: ChangeOrigin;
  at!: Date;
}

export function toEnvelope(row: ChangeEventRow): ChangeEvent {
  return {
    seq: Number(row.seq),
    type: row.type,
    tenant_id: row.tenant_id,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    action: row.action,
    actor: { type: row.actor_type, id: row.actor_id },
    at: new Date(row.at).toISOString(),
    data: row.data,
    changes: row.changes ?? null,
    origin: row.origin,
  };
}

export const eventsQuery = z
  .strictObject({
    since: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    entity_type: z.string().min(1).max(50).optional().describe('Only events of records of this type (`services`, `incidents`, …)'),
    entity_id: uuid.optional().describe('Only events of this record (with `entity_type`)'),
  })
  // A record is named by its type and id: that pair is what the change log's index is on.
  .refine((q) => q.entity_id === undefined || q.entity_type !== undefined, { path: ['entity_type'], message: 'entity_id needs entity_type' });

/** The events of one type of record, or of one record. */
export interface EventFilter {
  entityType?: string;
  entityId?: string;
}

export class ChangeLogService {
  /** Events with seq > since, oldest first, of the records the filter names (every record without one). */
  async since(ctx: ServiceContext, since: number, limit: number, filter: EventFilter = {}): Promise<ChangeEvent[]> {
    const query = scoped(ChangeEventRow, ctx).where('seq', '>', since);
    if (filter.entityType !== undefined) query.where('entity_type', filter.entityType);
    if (filter.entityId !== undefined) query.where('entity_id', filter.entityId);
    const rows = await query.orderBy('seq').limit(limit);
    return rows.map(toEnvelope);
  }

  /** Events with after < seq ≤ upTo of the given types, oldest first: what a change-log follower reads. */
  async between(ctx: ServiceContext, range: { after: number; upTo: number; limit: number; entityTypes: readonly string[] }): Promise<ChangeEvent[]> {
    const rows = await scoped(ChangeEventRow, ctx)
      .where('seq', '>', range.after)
      .where('seq', '<=', range.upTo)
      .whereIn('entity_type', range.entityTypes as string[])
      .orderBy('seq')
      .limit(range.limit);
    return rows.map(toEnvelope);
  }

  async latestSeq(ctx: ServiceContext): Promise<number> {
    const row = await scoped(ChangeEventRow, ctx).max('seq as max').first();
    return Number((row as unknown as { max: number | null } | undefined)?.max ?? 0);
  }

  /** GET /events: one more event than the page is read, so `has_more` is exact. */
  async page(ctx: ServiceContext, rawQuery: unknown) {
    const parsed = eventsQuery.safeParse(rawQuery);
    if (!parsed.success) throw validationError(parsed.error, ['query']);
    const { since, limit, entity_type: entityType, entity_id: entityId } = parsed.data;
    const isAdmin = readsAdminOnly(ctx.actor);
    const read = await this.since(ctx, since, limit + 1, { entityType, entityId });
    const data = read.slice(0, limit).map((e) => publicEnvelope(visibleTo(isAdmin, e)));
    const last = data.length ? data[data.length - 1].seq : since;
    return { data, meta: { since, limit, next_since: last, has_more: read.length > limit } };
  }
}
