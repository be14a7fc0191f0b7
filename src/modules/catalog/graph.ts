// GET /<kind>/:id/graph: the records around one record, up to `depth` hops along every relation
// (links, team ownership, assignments) in one direction or both, and the edges between them.
// One statement: the walk (walk.ts), the records kept and the edges among them.
import { z } from 'zod';
import type { ServiceContext } from '../../platform/context.js';
import { validationError } from '../../platform/errors.js';
import { type CatalogType } from './kinds.js';
import { RELATIONS } from './relations.js';
import { assertReadable, keptJson, readableKinds, rootCte, runWalk, steps, walkBindings, walkCtes, type Direction } from './walk.js';

export const GRAPH_MAX_DEPTH = 5;

export const graphQuery = z.strictObject({
  depth: z.coerce.number().int().min(1).max(GRAPH_MAX_DEPTH).default(1).describe('Hops from the record (1-5)'),
  direction: z
    .enum(['out', 'in', 'both'])
    .default('both')
    .describe('`out`: what the record points at (depends on, runs on, is owned by); `in`: what points at it; `both`'),
});

export interface GraphNode {
  type: CatalogType;
  id: string;
  name: string;
  depth: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  relation: string;
}

export interface RecordGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  truncated: boolean;
}

/**
 * The edges among the records kept: each record's outgoing edges (g_out, a few per record: what
 * it depends on, its team), those ending at another kept record. So each edge once, whichever way
 * the walk went; several assignments of one person to one record are one edge.
 */
const OUT = `g_out AS MATERIALIZED (
    SELECT n.type, n.id, n.relation, n.from_id, n.to_id FROM g_kept w CROSS JOIN LATERAL (
  ${steps(RELATIONS, 'out')}
    ) n
  )`;
const EDGES = `(SELECT coalesce(json_agg(json_build_object('from', e.from_id, 'to', e.to_id, 'relation', e.relation)
      ORDER BY e.relation, e.from_id, e.to_id), '[]')
    FROM (SELECT DISTINCT n.from_id, n.to_id, n.relation FROM g_out n JOIN g_kept b ON b.type = n.type AND b.id = n.id) e)`;

function graphStatement(type: CatalogType, direction: Direction): string {
  return `WITH RECURSIVE ${rootCte(type)},
  ${walkCtes('g', type, RELATIONS, direction, false)},
  ${OUT}
SELECT (SELECT count(*) FROM g_seen) AS seen,
  ${keptJson('g', { type: 'type', id: 'id', name: 'name', depth: 'depth' })} AS nodes,
  ${EDGES} AS edges
FROM root`;
}

const statements = new Map<string, string>();

/** The statement of a kind and direction, built once (tests read it). */
export function graphStatementOf(type: CatalogType, direction: Direction): string {
  const key = `${type}:${direction}`;
  let sql = statements.get(key);
  if (!sql) statements.set(key, (sql = graphStatement(type, direction)));
  return sql;
}

export async function readGraph(ctx: ServiceContext, type: CatalogType, id: string, rawQuery: unknown, maxNodes: number): Promise<RecordGraph> {
  const parsed = graphQuery.safeParse(rawQuery);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  const { depth, direction } = parsed.data;
  await assertReadable(ctx, type, id);
  const row = await runWalk(ctx, type, id, graphStatementOf(type, direction), walkBindings(depth, maxNodes));
  const nodes = row.nodes as GraphNode[];
  const readable = await readableKinds(
    ctx,
    nodes.map((n) => n.type),
  );
  const shown = nodes.filter((n) => readable.has(n.type));
  const ids = new Set(shown.map((n) => n.id));
  return {
    nodes: shown,
    edges: (row.edges as GraphEdge[]).filter((e) => ids.has(e.from) && ids.has(e.to)),
    truncated: Number(row.seen) > maxNodes,
  };
}
