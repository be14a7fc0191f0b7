// Walking the relation graph from one record, in SQL: a recursive CTE whose every step looks up
// the neighbours of one record through the link tables' indexes (relations.ts), never reading a
// tenant's whole edge table. Cycle-safe: UNION keeps a record once per depth and the depth is
// bounded, so a record is expanded at most `depth + 1` times. Bounded in size: the walk is read
// lazily, and only as many rows as can hold `cap + 1` records are ever produced (see rowsToRead).
import type { ServiceContext } from '../../platform/context.js';
import { NotFound } from '../../platform/errors.js';
import { liveRowOf, scopedRaw } from '../../platform/tenancy.js';
import { can } from '../access/policy.js';
import { KINDS, type CatalogType } from './kinds.js';
import type { Relation } from './relations.js';

export type Direction = 'out' | 'in' | 'both';

/** The record the walk starts from, as the CTE `root` (no row: no such live record in the tenant). */
export function rootCte(type: CatalogType): string {
  const team = type === 'teams' ? 'NULL::uuid' : 'r.team_id';
  return `root AS (SELECT r.id, r.name::text AS name, ${team} AS team_id FROM ${KINDS[type].model.tableName} r WHERE r.id = :id AND ${liveRowOf('r')})`;
}

/** The neighbours of the walk row `w` along `relations`, in `direction`, as one LATERAL subquery. */
export function steps(relations: readonly Relation[], direction: Direction): string {
  const parts = [...(direction === 'in' ? [] : relations.map((r) => r.forward)), ...(direction === 'out' ? [] : relations.map((r) => r.backward))];
  return parts.join('\n  UNION ALL\n  ');
}

/**
 * The CTEs `<p>_walk` (every record reached, once per depth, breadth first), `<p>_seen` (each
 * record of the first `:rows` walk rows at its smallest depth) and `<p>_kept` (the `:cap` nearest
 * of those). The root is a record of `<p>_seen` unless `withoutRoot` (impact lists leave it out).
 */
export function walkCtes(p: string, type: CatalogType, relations: readonly Relation[], direction: Direction, withoutRoot: boolean): string {
  return `${p}_walk(type, id, name, team_id, depth) AS (
    SELECT '${type}'::text, root.id, root.name, root.team_id, 0 FROM root
    UNION
    SELECT n.type, n.id, n.name, n.team_id, w.depth + 1
      FROM ${p}_walk w CROSS JOIN LATERAL (
  ${steps(relations, direction)}
      ) n
     WHERE w.depth < :depth
  ),
  ${p}_seen AS (
    SELECT type, id, name, team_id, min(depth) AS depth FROM (SELECT * FROM ${p}_walk LIMIT :rows) w
    ${withoutRoot ? `WHERE NOT (type = '${type}' AND id = :id)` : ''}
     GROUP BY type, id, name, team_id
  ),
  ${p}_kept AS (SELECT * FROM ${p}_seen ORDER BY depth, name, id LIMIT :cap)`;
}

/**
 * How many walk rows to read for `cap` records: a record appears at most once per depth (0 to
 * `depth`), so the first (depth + 1) · (cap + 1) + 1 rows hold more than cap + 1 records, the root
 * included, whenever the walk has more rows than that; and when it has fewer, they are all of it.
 * Either way `<p>_seen` counts more than `cap` records exactly when the whole walk does.
 */
export function walkBindings(depth: number, cap: number): { depth: number; rows: number; cap: number } {
  return { depth, rows: (depth + 1) * (cap + 1) + 1, cap };
}

/** A JSON array of `<p>_kept`'s records, nearest first: `fields` maps each key to its column. */
export function keptJson(p: string, fields: Record<string, string>): string {
  const pairs = Object.entries(fields)
    .map(([key, column]) => `'${key}', k.${column}`)
    .join(', ');
  return `(SELECT coalesce(json_agg(json_build_object(${pairs}) ORDER BY k.depth, k.name, k.id), '[]') FROM ${p}_kept k)`;
}

/** The one statement of a read, run with the walk's bindings; its single row, or a 404 without a root. */
export async function runWalk(ctx: ServiceContext, type: CatalogType, id: string, sql: string, bindings: Record<string, unknown>) {
  const { rows } = await scopedRaw(ctx, sql, { ...bindings, id });
  const row = rows[0];
  if (!row) throw NotFound(`No ${KINDS[type].label} with id ${id}.`);
  return row;
}

/** The policy's read question for the root: no is a 404, as for a record that is not there. */
export async function assertReadable(ctx: ServiceContext, type: CatalogType, id: string): Promise<void> {
  if (!(await can(ctx, 'read', { type, id }))) throw NotFound(`No ${KINDS[type].label} with id ${id}.`);
}

/** The kinds among `kinds` the caller may read: records of any other kind are left out of an answer. */
export async function readableKinds(ctx: ServiceContext, kinds: Iterable<string>): Promise<Set<string>> {
  const readable = new Set<string>();
  for (const kind of new Set(kinds)) if (await can(ctx, 'read', { type: kind })) readable.add(kind);
  return readable;
}
