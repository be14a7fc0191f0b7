// Impact analysis for a service: what it depends on, and what depends on it, transitively,
// through service_dependencies, component_service_dependencies and product_services. One
// recursive CTE per direction; cycle-safe because UNION drops rows already seen at a depth and
// depth is bounded, so each node is visited at most MAX_DEPTH times.
import type { ServiceContext } from '../../platform/context.js';
import { liveRowOf, scopedRaw, tenantRowOf } from '../../platform/tenancy.js';
import type { EntityService } from './service.js';

export const MAX_DEPTH = 25;

export interface ImpactNode {
  entity_type: 'services' | 'components' | 'products';
  entity_id: string;
  name: string;
  depth: number;
}

// "src depends on dst" edges across the three association tables, between live rows of the
// tenant only: a soft-deleted service breaks the chain it sat in, as it does in the REST views.
function edge(join: string, srcType: string, srcTable: string, srcCol: string, dstCol: string): string {
  return `SELECT '${srcType}'::text AS src_type, j.${srcCol} AS src_id, 'services'::text AS dst_type, j.${dstCol} AS dst_id
      FROM ${join} j
      JOIN ${srcTable} a ON a.id = j.${srcCol} AND ${liveRowOf('a')}
      JOIN services b ON b.id = j.${dstCol} AND ${liveRowOf('b')}`;
}

const EDGES = [
  edge('service_dependencies', 'services', 'services', 'service_id', 'depends_on_service_id'),
  edge('component_service_dependencies', 'components', 'components', 'component_id', 'depends_on_service_id'),
  edge('product_services', 'products', 'products', 'product_id', 'service_id'),
].join('\n  UNION ALL\n  ');

function walk(direction: 'dependents' | 'dependencies'): string {
  const [from, to] = direction === 'dependents' ? ['dst', 'src'] : ['src', 'dst'];
  return `
    WITH RECURSIVE edges AS (${EDGES}),
    walk(entity_type, entity_id, depth) AS (
      SELECT 'services'::text, CAST(:root AS uuid), 0
      UNION
      SELECT e.${to}_type, e.${to}_id, w.depth + 1
        FROM walk w JOIN edges e ON e.${from}_type = w.entity_type AND e.${from}_id = w.entity_id
       WHERE w.depth < ${MAX_DEPTH}
    ),
    nearest AS (
      SELECT entity_type, entity_id, min(depth) AS depth FROM walk
       WHERE NOT (entity_type = 'services' AND entity_id = CAST(:root AS uuid)) -- a cycle back to the root
       GROUP BY entity_type, entity_id
    )
    SELECT n.entity_type, n.entity_id, n.depth, coalesce(s.name, c.name, p.name) AS name
      FROM nearest n
      LEFT JOIN services s ON n.entity_type = 'services' AND s.id = n.entity_id AND ${tenantRowOf('s')}
      LEFT JOIN components c ON n.entity_type = 'components' AND c.id = n.entity_id AND ${tenantRowOf('c')}
      LEFT JOIN products p ON n.entity_type = 'products' AND p.id = n.entity_id AND ${tenantRowOf('p')}
     ORDER BY n.depth, name`;
}

/** Both statements' text, built once. */
const WALKS = { dependents: walk('dependents'), dependencies: walk('dependencies') } as const;

export async function serviceImpact(ctx: ServiceContext, services: EntityService, id: string) {
  const root = await services.get(ctx, id); // 404 for an unknown or another tenant's service
  const run = async (direction: 'dependents' | 'dependencies') =>
    ((await scopedRaw(ctx, WALKS[direction], { root: id })).rows as unknown as ImpactNode[]).map((r) => ({ ...r, depth: Number(r.depth) }));
  const [dependents, dependencies] = await Promise.all([run('dependents'), run('dependencies')]);
  return { service: { id: root.id, name: root.name }, dependents, dependencies };
}
