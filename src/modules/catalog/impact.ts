// Impact analysis for a service (SPEC §4): what it depends on, and what depends on it, transitively,
// through service_dependencies, component_service_dependencies and product_services. One
// recursive CTE per direction; cycle-safe because UNION drops rows already seen at a depth and
// depth is bounded, so each node is visited at most MAX_DEPTH times.
import { dbOf, type ServiceContext } from '../../platform/context.js';
import type { EntityService } from './service.js';

export const MAX_DEPTH = 25;

export interface ImpactNode {
  entity_type: 'services' | 'components' | 'products';
  entity_id: string;
  name: string;
  depth: number;
}

// "src depends on dst" edges across the three association tables.
const EDGES = `
  SELECT 'services'::text AS src_type, service_id AS src_id, 'services'::text AS dst_type, depends_on_service_id AS dst_id
    FROM service_dependencies
  UNION ALL
  SELECT 'components', component_id, 'services', depends_on_service_id FROM component_service_dependencies
  UNION ALL
  SELECT 'products', product_id, 'services', service_id FROM product_services`;

function walk(direction: 'dependents' | 'dependencies'): string {
  const [from, to] = direction === 'dependents' ? ['dst', 'src'] : ['src', 'dst'];
  return `
    WITH RECURSIVE edges AS (${EDGES}),
    walk(entity_type, entity_id, depth) AS (
      SELECT 'services'::text, ?::uuid, 0
      UNION
      SELECT e.${to}_type, e.${to}_id, w.depth + 1
        FROM walk w JOIN edges e ON e.${from}_type = w.entity_type AND e.${from}_id = w.entity_id
       WHERE w.depth < ${MAX_DEPTH}
    ),
    nearest AS (
      SELECT entity_type, entity_id, min(depth) AS depth FROM walk
       WHERE NOT (entity_type = 'services' AND entity_id = ?::uuid) -- a cycle back to the root
       GROUP BY entity_type, entity_id
    )
    SELECT n.entity_type, n.entity_id, n.depth, coalesce(s.name, c.name, p.name) AS name
      FROM nearest n
      LEFT JOIN services s ON n.entity_type = 'services' AND s.id = n.entity_id AND s.tenant_id = ? AND s.deleted_at IS NULL
      LEFT JOIN components c ON n.entity_type = 'components' AND c.id = n.entity_id AND c.tenant_id = ? AND c.deleted_at IS NULL
      LEFT JOIN products p ON n.entity_type = 'products' AND p.id = n.entity_id AND p.tenant_id = ? AND p.deleted_at IS NULL
     WHERE coalesce(s.id, c.id, p.id) IS NOT NULL
     ORDER BY n.depth, name`;
}

export async function serviceImpact(ctx: ServiceContext, services: EntityService, id: string) {
  const root = await services.get(ctx, id); // 404 for an unknown or another tenant's service
  const db = dbOf(ctx);
  const run = async (direction: 'dependents' | 'dependencies') =>
    ((await db.raw(walk(direction), [id, id, ctx.tenantId, ctx.tenantId, ctx.tenantId])).rows as ImpactNode[]).map(
      (r) => ({ ...r, depth: Number(r.depth) }),
    );
  const [dependents, dependencies] = await Promise.all([run('dependents'), run('dependencies')]);
  return { service: { id: root.id, name: root.name }, dependents, dependencies };
}
