// Impact analysis of a record: what depends on it (dependents: the walk along dependency edges
// pointing at it) and what it depends on (dependencies: along those it points along), transitively,
// each record once at its smallest depth. The graph's walk (walk.ts) over the dependency relations
// only (relations.ts: links, not ownership or assignments); both lists in one statement.
import type { ServiceContext } from '../../platform/context.js';
import { KINDS, type CatalogType } from './kinds.js';
import { DEPENDENCIES } from './relations.js';
import { assertReadable, keptJson, readableKinds, rootCte, runWalk, walkBindings, walkCtes } from './walk.js';

/** How many hops impact follows: far enough for any real chain, and a bound on the walk. */
export const MAX_DEPTH = 25;

export interface ImpactNode {
  entity_type: CatalogType;
  entity_id: string;
  name: string;
  depth: number;
}

const LISTS = ['dependents', 'dependencies'] as const;
const FIELDS = { entity_type: 'type', entity_id: 'id', name: 'name', depth: 'depth' };

function impactStatement(type: CatalogType): string {
  return `WITH RECURSIVE ${rootCte(type)},
  ${walkCtes('dependents', type, DEPENDENCIES, 'in', true)},
  ${walkCtes('dependencies', type, DEPENDENCIES, 'out', true)}
SELECT root.id, root.name,
  (SELECT count(*) FROM dependents_seen) AS dependents_seen, ${keptJson('dependents', FIELDS)} AS dependents,
  (SELECT count(*) FROM dependencies_seen) AS dependencies_seen, ${keptJson('dependencies', FIELDS)} AS dependencies
FROM root`;
}

const statements = new Map<CatalogType, string>();

/** The statement of a kind's impact, built once (tests read it). */
export function impactStatementOf(type: CatalogType): string {
  let sql = statements.get(type);
  if (!sql) statements.set(type, (sql = impactStatement(type)));
  return sql;
}

/**
 * GET /<kind>/:id/impact: `{<label>: {id, name}, dependents, dependencies, truncated}`, where
 * `<label>` is the kind's singular (`service`, `component`); a list holds at most `maxNodes`
 * records, the nearest, and `truncated` says one was cut.
 */
export async function readImpact(ctx: ServiceContext, type: CatalogType, id: string, maxNodes: number) {
  await assertReadable(ctx, type, id);
  const row = await runWalk(ctx, type, id, impactStatementOf(type), walkBindings(MAX_DEPTH, maxNodes));
  const [dependents, dependencies] = LISTS.map((list) => row[list] as ImpactNode[]);
  const readable = await readableKinds(
    ctx,
    [...dependents, ...dependencies].map((n) => n.entity_type),
  );
  const shown = (list: ImpactNode[]) => list.filter((n) => readable.has(n.entity_type));
  return {
    [KINDS[type].label]: { id: row.id as string, name: row.name as string },
    dependents: shown(dependents),
    dependencies: shown(dependencies),
    truncated: LISTS.some((list) => Number(row[`${list}_seen`]) > maxNodes),
  };
}
