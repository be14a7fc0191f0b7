// The audit log read back for admins: who did what to which record, with the before/after diff.
import { z } from 'zod';
import type { ServiceContext } from '../../platform/context.js';
import { decodeCursor, encodeCursor } from '../../platform/cursor.js';
import { validationError } from '../../platform/errors.js';
import { PG_TIMESTAMP, uuid } from '../../platform/schema-kit.js';
import { TenantModel, scoped } from '../../platform/tenancy.js';
import { authorize } from '../access/policy.js';

export class AuditLog extends TenantModel {
  static override tableName = 'audit_logs';
  id!: string;
  user_id!: string | null;
  actor_type!: string;
  action!: string;
  entity_type!: string;
  entity_id!: string | null;
  entity_name!: string | null;
  changes!: unknown;
  metadata!: Record<string, unknown>;
  timestamp!: Date;
}

export const auditQuery = z.strictObject({
  entity_type: z.string().min(1).max(50).optional(),
  entity_id: uuid.optional(),
  actor_id: uuid.optional(),
  action: z.string().min(1).max(50).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** A position in a newest-first walk of audit entries: the last entry's timestamp and id, and the walk's total (n). */
interface AuditCursor {
  t: string;
  id: string;
  n?: number;
}

export class AuditService {
  async list(ctx: ServiceContext, rawQuery: unknown) {
    await authorize(ctx, 'read', { type: 'audit_logs' });
    const parsed = auditQuery.safeParse(rawQuery);
    if (!parsed.success) throw validationError(parsed.error, ['query']);
    const q = parsed.data;
    const base = scoped(AuditLog, ctx);
    if (q.entity_type) base.where('entity_type', q.entity_type);
    if (q.entity_id) base.where('entity_id', q.entity_id);
    if (q.actor_id)
      base.where((b) => {
        b.where('user_id', q.actor_id!).orWhereRaw(`metadata->>'actor_id' = ?`, [q.actor_id!]);
      });
    if (q.action) base.where('action', q.action);
    if (q.since) base.where('timestamp', '>=', q.since);
    const pageQuery = base.clone().select('*').select(AuditLog.raw(`"timestamp"::text as __t`));
    if (q.cursor) {
      const c = decodeAuditCursor(q.cursor);
      pageQuery.whereRaw(`("timestamp", id) < (?::timestamptz, ?::uuid)`, [c.t, c.id]);
    }
    const [rows, total] = await Promise.all([
      pageQuery
        .orderBy([
          { column: 'timestamp', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(q.limit + 1),
      base.clone().resultSize(),
    ]);
    const more = rows.length > q.limit;
    const page = (more ? rows.slice(0, q.limit) : rows) as (AuditLog & { __t: string })[];
    const last = page[page.length - 1];
    return {
      data: page.map((r) => ({
        id: r.id,
        timestamp: new Date(r.timestamp).toISOString(),
        actor: { type: r.actor_type, id: (r.metadata?.actor_id as string | undefined) ?? r.user_id, user_id: r.user_id },
        action: r.action,
        target: { entity_type: r.entity_type, entity_id: r.entity_id, name: r.entity_name },
        changes: r.changes,
        request_id: r.metadata?.request_id ?? null,
        ip: r.metadata?.ip ?? null,
        user_agent: r.metadata?.user_agent ?? null,
        metadata: r.metadata,
      })),
      meta: {
        limit: q.limit,
        total,
        next_cursor: more && last ? encodeAuditCursor({ t: last.__t, id: last.id }) : null,
      },
    };
  }
}

export function encodeAuditCursor(c: AuditCursor): string {
  return encodeCursor(c);
}

/** The cursor back, or a 400 naming the list it is not valid for (`of`). */
export function decodeAuditCursor(raw: string, of = 'the audit log'): AuditCursor {
  return decodeCursor<AuditCursor>(
    raw,
    (c) => typeof c.t === 'string' && PG_TIMESTAMP.test(c.t) && uuid.safeParse(c.id).success && (c.n === undefined || (Number.isSafeInteger(c.n) && c.n >= 0)),
    `The cursor is not valid for ${of}.`,
  );
}
