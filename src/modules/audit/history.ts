// A record's history: its audit entries and those of the grants on it, newest first, each with
// who wrote it (the user's display name) and, for a co-editing write-back, every contributor. Any
// reader of the record reads it; the visibility rule leaves out what only admins see. One
// statement: the record (none: a 404) with a keyset page of its entries.
import { z } from 'zod';
import type { ServiceContext } from '../../platform/context.js';
import { NotFound, validationError } from '../../platform/errors.js';
import type { Page } from '../../platform/listing.js';
import { fieldChanges, isoTimestamp, named, recordId, uuid } from '../../platform/schema-kit.js';
import { liveRowOf, scopedRaw, tenantRowOf } from '../../platform/tenancy.js';
import { authorize, can, readsAdminOnly } from '../access/policy.js';
import { auditEntryVisibleTo } from '../access/visibility.js';
import { grantAuditName } from '../permissions/model.js';
import { decodeAuditCursor, encodeAuditCursor } from './service.js';

export const historyQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Entries per page'),
  cursor: z.string().max(300).optional().describe('`meta.next_cursor` of the previous page (opaque)'),
});

const Person = z.object({ id: recordId, display_name: z.string().nullable().describe("The user's display name (null if the user is gone)") });

export const HistoryEntry = named(
  'HistoryEntry',
  z
    .object({
      id: recordId,
      at: isoTimestamp,
      actor: z.object({
        type: z.string().describe('user, api_key or system'),
        id: recordId.nullable().describe('The user or API key'),
        user_id: recordId.nullable().describe('The user the actor speaks for'),
        display_name: z.string().nullable().describe("That user's display name"),
      }),
      action: z.string().describe('create, update, delete, restore, …'),
      target: z.object({
        entity_type: z.string().describe('The record itself, or `entity_permissions` for a grant on it'),
        entity_id: recordId.nullable(),
      }),
      changes: fieldChanges.describe('For updates: each changed field with its old and new value (null on a grant for non-admins)'),
      contributors: z.array(Person).describe('A co-editing write-back: every editor whose edits it wrote, in the order they last edited; else empty'),
      request_id: z.string().nullable().describe('Admins only (null for everyone else)'),
      ip: z.string().nullable().describe('Admins only (null for everyone else)'),
      user_agent: z.string().nullable().describe("The client's User-Agent; admins only (null for everyone else)"),
    })
    .describe('One audited change to a record or to a grant on it'),
);
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** A record table whose rows have a history: its type (audit entity_type), table and label. */
export interface HistoryOf {
  type: string;
  table: string;
  label: string;
}

const statements = new Map<string, string>();

/** The record (live, or any of the tenant's with `withDeleted`) and a page of its entries, built once per table and form. */
function historyStatement(table: string, afterCursor: boolean, withDeleted: boolean): string {
  const key = `${table}:${afterCursor}:${withDeleted}`;
  let sql = statements.get(key);
  if (sql) return sql;
  sql = `SELECT r.id AS __record, h.* FROM ${table} r
LEFT JOIN LATERAL (
  SELECT a.id, a.actor_type, a.user_id, a.metadata->>'actor_id' AS actor_id, a.action, a.entity_type, a.entity_id, a.changes,
         a.metadata->>'request_id' AS request_id, a.metadata->>'ip' AS ip, a.metadata->>'user_agent' AS user_agent, a."timestamp" AS at, a."timestamp"::text AS __t,
         (SELECT u.display_name FROM users u WHERE u.id = a.user_id AND ${tenantRowOf('u')}) AS display_name,
         (SELECT coalesce(json_agg(json_build_object('id', c.id, 'display_name', cu.display_name) ORDER BY c.n), '[]')
            FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(a.metadata->'co_actors') = 'array' THEN a.metadata->'co_actors' ELSE '[]' END)
                 WITH ORDINALITY AS c(id, n)
            LEFT JOIN users cu ON cu.id = CAST(c.id AS uuid) AND ${tenantRowOf('cu')}) AS contributors,
         count(*) OVER () AS __total
    FROM audit_logs a
   WHERE ${tenantRowOf('a')}
     AND ((a.entity_type = :type AND a.entity_id = r.id) OR (a.entity_type = 'entity_permissions' AND a.entity_name = :grants))
     ${afterCursor ? `AND (a."timestamp", a.id) < (CAST(:after_t AS timestamptz), CAST(:after_id AS uuid))` : ''}
   ORDER BY a."timestamp" DESC, a.id DESC
   LIMIT :limit
) h ON true
WHERE r.id = :id AND ${withDeleted ? tenantRowOf('r') : liveRowOf('r')}`;
  statements.set(key, sql);
  return sql;
}

interface HistoryRow {
  __record: string;
  id: string | null;
  actor_type: string;
  user_id: string | null;
  actor_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  changes: HistoryEntry['changes'];
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  at: Date;
  __t: string;
  display_name: string | null;
  contributors: HistoryEntry['contributors'];
  __total: string;
}

/**
 * GET /<kind>/:id/history: for anyone who may read the record (admins also a soft-deleted one);
 * another tenant's or an unknown id is a 404. The total is counted on the first page and carried
 * in the cursor.
 */
export async function recordHistory(ctx: ServiceContext, record: HistoryOf, id: string, rawQuery: unknown): Promise<Page<HistoryEntry>> {
  const parsed = historyQuery.safeParse(rawQuery);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  const { limit, cursor } = parsed.data;
  const after = cursor === undefined ? undefined : decodeAuditCursor(cursor, "this record's history");
  if (!uuid.safeParse(id).success) throw NotFound(`No ${record.label} with id ${id}.`);
  await authorize(ctx, 'read', { type: record.type, id });
  const withDeleted = await can(ctx, 'read_deleted', { type: record.type });
  const sql = historyStatement(record.table, after !== undefined, withDeleted);
  const { rows } = (await scopedRaw(ctx, sql, {
    id,
    type: record.type,
    grants: grantAuditName(record.type, id),
    limit: limit + 1,
    ...(after ? { after_t: after.t, after_id: after.id } : {}),
  })) as { rows: unknown[] };
  if (rows.length === 0) throw NotFound(`No ${record.label} with id ${id}.`);
  const entries = (rows as HistoryRow[]).filter((r) => r.id !== null);
  const more = entries.length > limit;
  const page = more ? entries.slice(0, limit) : entries;
  const total = after?.n ?? Number(entries[0]?.__total ?? 0);
  const last = page[page.length - 1];
  const isAdmin = readsAdminOnly(ctx.actor);
  return {
    data: page.map((r) => auditEntryVisibleTo(isAdmin, entryOf(r))),
    meta: { limit, total, next_cursor: more && last ? encodeAuditCursor({ t: last.__t, id: last.id!, n: total }) : null },
  };
}

function entryOf(r: HistoryRow): HistoryEntry {
  return {
    id: r.id!,
    at: new Date(r.at).toISOString(),
    actor: { type: r.actor_type, id: r.actor_id ?? r.user_id, user_id: r.user_id, display_name: r.display_name },
    action: r.action,
    target: { entity_type: r.entity_type, entity_id: r.entity_id },
    changes: r.changes ?? null,
    contributors: r.contributors,
    request_id: r.request_id,
    ip: r.ip,
    user_agent: r.user_agent,
  };
}
