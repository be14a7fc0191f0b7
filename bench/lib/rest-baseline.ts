// The raw-driver baseline of the REST suite: a pg.Pool running hand-written SQL that fetches the
// same data the API returns, with no HTTP, no auth, no ORM. One statement for a detail view; for a
// list page the keyset page (with each row's relation id lists) and the total, in parallel, as the
// API's envelope {data, meta: {total, next_cursor}} needs both.
import pg from 'pg';
import { SEARCH_WORD } from './rest-seed.js';

/** The trigram-indexed expression of listing.ts / the search-index migration, verbatim. */
const SEARCH_EXPR = `(name || ' ' || coalesce(description, ''))`;

const SERVICE_COLUMNS = `s.id, s.name, s.description, s.team_id, s.type, s.status, s.operational_status, s.attributes,
  s.tags, s.created_at, s.updated_at, s.created_by, s.updated_by, s.deleted_at, s.row_version`;

const idList = (join: string, own: string, other: string, target: string) => `(
  SELECT coalesce(json_agg(l.${other} ORDER BY x.name), '[]') FROM ${join} l JOIN ${target} x ON x.id = l.${other}
   WHERE l.${own} = s.id AND x.tenant_id = s.tenant_id AND x.deleted_at IS NULL)`;

const summaries = (join: string, own: string, other: string, target: string, fields: string[]) => `(
  SELECT coalesce(json_agg(json_build_object(${fields.map((f) => `'${f}', x.${f}`).join(', ')}) ORDER BY x.name), '[]')
    FROM ${join} l JOIN ${target} x ON x.id = l.${other}
   WHERE l.${own} = s.id AND x.tenant_id = s.tenant_id AND x.deleted_at IS NULL)`;

const RELATION_ID_LISTS = `
  ${idList('service_components', 'service_id', 'component_id', 'components')} AS component_ids,
  ${idList('service_resources', 'service_id', 'resource_id', 'resources')} AS resource_ids,
  ${idList('service_dependencies', 'service_id', 'depends_on_service_id', 'services')} AS depends_on_service_ids,
  ${idList('service_repositories', 'service_id', 'repository_id', 'repositories')} AS repository_ids`;

/**
 * The service detail view (GET /services/:id) in one statement: row, id lists, related summaries,
 * incidents, scorecards.
 */
export const DETAIL_SQL = `
SELECT ${SERVICE_COLUMNS}, ${RELATION_ID_LISTS},
  (SELECT json_build_object('id', t.id, 'name', t.name) FROM teams t
    WHERE t.id = s.team_id AND t.tenant_id = s.tenant_id AND t.deleted_at IS NULL) AS team,
  ${summaries('service_components', 'service_id', 'component_id', 'components', ['id', 'name', 'type', 'status', 'operational_status'])} AS components,
  ${summaries('service_resources', 'service_id', 'resource_id', 'resources', ['id', 'name', 'type', 'operational_status', 'environment'])} AS resources,
  ${summaries('service_dependencies', 'service_id', 'depends_on_service_id', 'services', ['id', 'name', 'type', 'status', 'operational_status'])} AS depends_on,
  ${summaries('service_dependencies', 'depends_on_service_id', 'service_id', 'services', ['id', 'name', 'type', 'status', 'operational_status'])} AS dependents,
  ${summaries('service_repositories', 'service_id', 'repository_id', 'repositories', ['id', 'name', 'provider'])} AS repositories,
  ${summaries('product_services', 'service_id', 'product_id', 'products', ['id', 'name', 'status'])} AS products,
  (SELECT coalesce(json_agg(json_build_object('person_id', a.person_id, 'role', a.role,
            'person', json_build_object('id', p.id, 'name', p.name, 'email', p.email)) ORDER BY a.role, a.person_id), '[]')
     FROM entity_assignments a LEFT JOIN people p ON p.id = a.person_id AND p.tenant_id = a.tenant_id AND p.deleted_at IS NULL
    WHERE a.tenant_id = s.tenant_id AND a.entity_type = 'services' AND a.entity_id = s.id) AS assignments,
  (SELECT coalesce(json_agg(i ORDER BY i.created_at DESC), '[]') FROM (
     SELECT inc.id, inc.title, inc.severity, inc.status, inc.impact_type, inc.created_at, inc.resolved_at
       FROM incidents inc JOIN incident_affected_entities ae ON ae.incident_id = inc.id
      WHERE ae.entity_type = 'services' AND ae.entity_id = s.id AND inc.tenant_id = s.tenant_id AND inc.deleted_at IS NULL
      ORDER BY inc.created_at DESC LIMIT 100) i) AS incidents,
  (SELECT coalesce(json_agg(json_build_object('scorecard_id', sc.id, 'scorecard_name', sc.name) ORDER BY sc.name, sc.id), '[]')
     FROM scorecards sc WHERE sc.tenant_id = s.tenant_id AND sc.deleted_at IS NULL AND sc.entity_types @> '["services"]') AS scorecards
FROM services s
WHERE s.tenant_id = $1 AND s.id = $2 AND s.deleted_at IS NULL`;

export interface ListSpec {
  status?: string;
  q?: string;
  /** Keyset position for -updated_at: the last row's updated_at (as text) and id. */
  after?: { k: string; id: string };
  limit: number;
}

function listWhere(spec: ListSpec, params: unknown[], withCursor: boolean): string {
  const where = ['s.tenant_id = $1', 's.deleted_at IS NULL'];
  if (spec.status) {
    params.push(spec.status);
    where.push(`s.status = $${params.length}`);
  }
  if (spec.q) {
    params.push(`%${spec.q}%`);
    where.push(`${SEARCH_EXPR} ILIKE $${params.length}`);
  }
  if (withCursor && spec.after) {
    params.push(spec.after.k, spec.after.id);
    where.push(`(s.updated_at, s.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  return where.join(' AND ');
}

export class RestBaseline {
  readonly pool: pg.Pool;

  constructor(connectionString: string, max = 10) {
    this.pool = new pg.Pool({ connectionString, max });
  }

  async detail(tenantId: string, id: string): Promise<Record<string, unknown>> {
    const { rows } = await this.pool.query(DETAIL_SQL, [tenantId, id]);
    if (!rows[0]) throw new Error(`baseline: no service ${id}`);
    return rows[0];
  }

  /** One page (default sort -updated_at, id) with relation id lists, plus the total, in parallel. */
  async list(tenantId: string, spec: ListSpec, opts: { total?: boolean } = {}): Promise<{ rows: Record<string, unknown>[]; total: number }> {
    const pageParams: unknown[] = [tenantId];
    const pageWhere = listWhere(spec, pageParams, true);
    pageParams.push(spec.limit + 1);
    const countParams: unknown[] = [tenantId];
    const countWhere = listWhere(spec, countParams, false);
    const [page, count] = await Promise.all([
      this.pool.query(
        `WITH page AS (
           SELECT s.*, s.updated_at::text AS __sort_key FROM services s WHERE ${pageWhere}
            ORDER BY s.updated_at DESC, s.id DESC LIMIT $${pageParams.length})
         SELECT ${SERVICE_COLUMNS}, s.__sort_key, ${RELATION_ID_LISTS},
           (SELECT coalesce(json_agg(json_build_object('person_id', a.person_id, 'role', a.role) ORDER BY a.role, a.person_id), '[]')
              FROM entity_assignments a WHERE a.tenant_id = s.tenant_id AND a.entity_type = 'services' AND a.entity_id = s.id) AS assignments
         FROM page s ORDER BY s.updated_at DESC, s.id DESC`,
        pageParams,
      ),
      opts.total === false ? undefined : this.pool.query(`SELECT count(*) AS total FROM services s WHERE ${countWhere}`, countParams),
    ]);
    return { rows: page.rows.slice(0, spec.limit), total: count ? Number(count.rows[0].total) : NaN };
  }

  async sampleIds(tenantId: string, count: number): Promise<string[]> {
    const { rows } = await this.pool.query('SELECT id FROM services WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY random() LIMIT $2', [tenantId, count]);
    return rows.map((r: { id: string }) => r.id);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export { SEARCH_WORD };
