// Bulk data for the REST suite, written straight with SQL (generate_series): the write path is not
// what the suite measures, and 100K services through the API would take minutes. The variety
// mirrors a real inventory: mixed types and statuses, most services owned by a team, a search word
// in 5% of descriptions, tags on some, and relations, assignments and incidents on a few.
import type { Knex } from 'knex';
import type { Log } from './types.js';

export interface SeedSizes {
  services: number;
  teams: number;
  people: number;
  components: number;
  resources: number;
  repositories: number;
  products: number;
  incidents: number;
}

export const FULL_SIZES: SeedSizes = {
  services: 100_000,
  teams: 50,
  people: 500,
  components: 5_000,
  resources: 2_000,
  repositories: 3_000,
  products: 200,
  incidents: 60,
};
export const QUICK_SIZES: SeedSizes = {
  services: 20_000,
  teams: 50,
  people: 500,
  components: 1_000,
  resources: 400,
  repositories: 600,
  products: 40,
  incidents: 60,
};

/** The word that `q=` searches for; it appears in 5% of the service descriptions. */
export const SEARCH_WORD = 'payments';

const pad = (prefix: string, expr: string) => `'${prefix}-' || lpad((${expr})::text, 6, '0')`;

export async function seedCatalog(knex: Knex, tenantId: string, userId: string, n: SeedSizes, log: Log): Promise<Record<string, number>> {
  const t = tenantId;
  const step = async (label: string, sql: string, bindings: Knex.RawBinding[] = []) => {
    const started = Date.now();
    const result = await knex.raw(sql, bindings);
    // Fresh statistics before the next step joins on this table (else the planner guesses badly).
    const table = /INSERT INTO (\w+)/.exec(sql)?.[1];
    if (table) await knex.raw(`ANALYZE ${table}`);
    log(`seed ${label}: ${result.rowCount ?? '?'} rows in ${Date.now() - started} ms`);
  };
  // Names are prefix-<i>, so relations below find rows by (tenant_id, name): the live-name unique index.
  const byName = (table: string, prefix: string, expr: string, alias: string) =>
    `JOIN ${table} ${alias} ON ${alias}.tenant_id = :t AND ${alias}.name = ${pad(prefix, expr)} AND ${alias}.deleted_at IS NULL`;
  const named = (sql: string) => knex.raw(sql, { t }).toQuery();

  await step(
    'teams',
    named(`INSERT INTO teams (tenant_id, name, description, slack_channel, created_by, updated_by)
    SELECT :t, ${pad('team', 'i')}, 'Owns part of the ' || (ARRAY['orders','billing','search','identity','logistics'])[1 + i % 5] || ' domain',
           '#team-' || i, '${userId}', '${userId}'
      FROM generate_series(1, ${n.teams}) i`),
  );
  await step(
    'people',
    named(`INSERT INTO people (tenant_id, name, email, team_id, role_title, created_by, updated_by)
    SELECT :t, ${pad('person', 'i')}, 'person' || i || '@bench.example', tm.id,
           (ARRAY['Engineer','Senior Engineer','Architect','SRE','Manager'])[1 + i % 5], '${userId}', '${userId}'
      FROM generate_series(1, ${n.people}) i ${byName('teams', 'team', `1 + i % ${n.teams}`, 'tm')}`),
  );
  await step(
    'components',
    named(`INSERT INTO components (tenant_id, name, type, description, team_id, status, tags)
    SELECT :t, ${pad('cmp', 'i')}, (ARRAY['library','microservice','sdk','agent','ui_component'])[1 + i % 5],
           'Component ' || i, tm.id, (ARRAY['active','active','active','deprecated'])[1 + i % 4], '[]'::jsonb
      FROM generate_series(1, ${n.components}) i ${byName('teams', 'team', `1 + i % ${n.teams}`, 'tm')}`),
  );
  await step(
    'resources',
    named(`INSERT INTO resources (tenant_id, name, type, environment, team_id, attributes)
    SELECT :t, ${pad('res', 'i')},
           (ARRAY['ec2','virtual_machine','logic_app','storage_account','container_instance','kubernetes','function_app','load_balancer','api_gateway','cdn'])[1 + i % 10],
           (ARRAY['production','production','staging','development','dr'])[1 + i % 5], tm.id,
           jsonb_build_object('provider', (ARRAY['aws','azure','gcp'])[1 + i % 3], 'region', 'region-' || (i % 7))
      FROM generate_series(1, ${n.resources}) i ${byName('teams', 'team', `1 + i % ${n.teams}`, 'tm')}`),
  );
  await step(
    'repositories',
    named(`INSERT INTO repositories (tenant_id, name, provider, url, language, team_id)
    SELECT :t, ${pad('repo', 'i')}, (ARRAY['github','gitlab','azure_devops','bitbucket'])[1 + i % 4],
           'https://git.bench.example/repo-' || i, (ARRAY['TypeScript','Go','Java','Python','Rust'])[1 + i % 5], tm.id
      FROM generate_series(1, ${n.repositories}) i ${byName('teams', 'team', `1 + i % ${n.teams}`, 'tm')}`),
  );
  await step(
    'products',
    named(`INSERT INTO products (tenant_id, name, description, team_id, status, version, tags)
    SELECT :t, ${pad('product', 'i')}, 'Product line ' || i, tm.id, 'active', '1.' || (i % 9) || '.0', '["customer-facing"]'::jsonb
      FROM generate_series(1, ${n.products}) i ${byName('teams', 'team', `1 + i % ${n.teams}`, 'tm')}`),
  );

  // Services: 3 of 4 owned by a team; statuses 60% active, 10% planned, 10% maintenance, 20%
  // deprecated; the search word in 5% of descriptions; created and updated times spread out
  // (updated_at is a permutation of the rows, so the default sort is not the insertion order).
  // Which rows get what is decided by a hash of i, not by i modulo something: periodic data puts
  // every ANALYZE histogram bound on the same kind of row (all 'payments', say) and misleads the planner.
  const N = n.services;
  await step(
    'services',
    named(`INSERT INTO services
      (tenant_id, name, type, description, team_id, status, operational_status, tags, attributes, created_at, updated_at, created_by, updated_by)
    SELECT :t, ${pad('svc', 'i')},
           (ARRAY['api','web_application','database','message_queue','cache','infrastructure'])[1 + h % 6],
           CASE WHEN h % 20 = 0 THEN 'Handles card ${SEARCH_WORD} for the ' || (ARRAY['eu','us','apac'])[1 + h % 3] || ' region'
                WHEN h % 9 = 1 THEN NULL
                ELSE (ARRAY['Internal','Customer-facing','Batch','Partner'])[1 + h % 4] || ' service ' || i || ' of the '
                     || (ARRAY['orders','billing','search','identity','logistics','catalog','analytics'])[1 + h % 7] || ' domain' END,
           CASE WHEN h % 4 <> 0 THEN (SELECT id FROM teams WHERE tenant_id = :t AND name = ${pad('team', `1 + h % ${n.teams}`)}) END,
           (ARRAY['active','active','active','active','active','active','planned','maintenance','deprecated','deprecated'])[1 + (h / 7) % 10],
           CASE WHEN h % 499 = 0 THEN 'outage' WHEN h % 97 = 0 THEN 'degraded' ELSE 'operational' END,
           CASE WHEN h % 5 = 0 THEN '["pci"]'::jsonb WHEN h % 7 = 0 THEN '["tier-1","customer-facing"]'::jsonb ELSE '[]'::jsonb END,
           CASE h % 6 WHEN 0 THEN jsonb_build_object('protocol', 'https', 'sla', '99.9', 'auth_method', 'oauth2')
                      WHEN 2 THEN jsonb_build_object('db_type', 'postgres', 'version', '16', 'encryption', true)
                      ELSE '{}'::jsonb END,
           now() - make_interval(mins => i), now() - make_interval(secs => (i::bigint * 7919) % ${N}),
           '${userId}', '${userId}'
      FROM generate_series(1, ${N}) i CROSS JOIN LATERAL (SELECT abs(hashint4(i)::bigint) AS h) x`),
  );

  const svc = (expr: string) => byName('services', 'svc', expr, 's');
  await step(
    'service_components',
    named(`INSERT INTO service_components (service_id, component_id)
    SELECT s.id, c.id FROM generate_series(10, ${N}, 10) i CROSS JOIN generate_series(0, 2) j
      ${svc('i')} ${byName('components', 'cmp', `1 + (i * 3 + j * 17) % ${n.components}`, 'c')}
    ON CONFLICT DO NOTHING`),
  );
  await step(
    'service_dependencies',
    named(`INSERT INTO service_dependencies (service_id, depends_on_service_id)
    SELECT s.id, d.id FROM generate_series(1, ${N}, 10) i CROSS JOIN generate_series(0, 1) j
      ${svc('i')} ${byName('services', 'svc', `1 + (i + 1 + j * 1000) % ${N}`, 'd')}
    ON CONFLICT DO NOTHING`),
  );
  await step(
    'service_resources',
    named(`INSERT INTO service_resources (service_id, resource_id)
    SELECT s.id, r.id FROM generate_series(20, ${N}, 20) i ${svc('i')} ${byName('resources', 'res', `1 + i % ${n.resources}`, 'r')}`),
  );
  await step(
    'service_repositories',
    named(`INSERT INTO service_repositories (service_id, repository_id)
    SELECT s.id, r.id FROM generate_series(10, ${N}, 10) i ${svc('i')} ${byName('repositories', 'repo', `1 + i % ${n.repositories}`, 'r')}`),
  );
  await step(
    'product_services',
    named(`INSERT INTO product_services (product_id, service_id)
    SELECT p.id, s.id FROM generate_series(100, ${N}, 100) i ${svc('i')} ${byName('products', 'product', `1 + (i / 100) % ${n.products}`, 'p')}`),
  );
  await step(
    'entity_assignments',
    named(`INSERT INTO entity_assignments (tenant_id, entity_type, entity_id, person_id, role)
    SELECT :t, 'services', s.id, p.id, (ARRAY['Lead','On-Call'])[1 + j]
      FROM generate_series(10, ${N}, 10) i CROSS JOIN generate_series(0, 1) j
      ${svc('i')} ${byName('people', 'person', `1 + (i + j * 7) % ${n.people}`, 'p')}`),
  );
  await step(
    'incidents',
    named(`INSERT INTO incidents (tenant_id, title, description, severity, status, impact_type, created_at, resolved_at)
    SELECT :t, 'Incident ' || i, 'Elevated error rates', (ARRAY['critical','major','minor'])[1 + i % 3],
           (ARRAY['resolved','resolved','investigating','monitoring'])[1 + i % 4], (ARRAY['degraded','outage'])[1 + i % 2],
           now() - make_interval(hours => i), CASE WHEN i % 4 < 2 THEN now() - make_interval(hours => i - 1) END
      FROM generate_series(1, ${n.incidents}) i`),
  );
  await step(
    'incident_affected_entities',
    named(`INSERT INTO incident_affected_entities (incident_id, entity_type, entity_id)
    SELECT inc.id, 'services', s.id FROM generate_series(5, ${N}, 500) i ${svc('i')}
      JOIN incidents inc ON inc.tenant_id = :t AND inc.title = 'Incident ' || (1 + (i / 500) % ${n.incidents})`),
  );

  const started = Date.now();
  for (const table of [
    'teams',
    'people',
    'components',
    'resources',
    'repositories',
    'products',
    'services',
    'service_components',
    'service_dependencies',
    'service_resources',
    'service_repositories',
    'product_services',
    'entity_assignments',
    'incidents',
    'incident_affected_entities',
  ]) {
    await knex.raw(`VACUUM ANALYZE ${table}`);
  }
  log(`VACUUM ANALYZE in ${Date.now() - started} ms`);

  const counts: Record<string, number> = {};
  for (const table of ['services', 'service_components', 'service_dependencies', 'entity_assignments', 'incident_affected_entities']) {
    counts[table] = Number((await knex(table).count({ c: '*' }))[0]!.c);
  }
  return counts;
}
