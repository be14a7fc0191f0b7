// The scale of the latency targets (a list page under 100 ms at 100K entities per type per tenant):
// 100,000 services in one tenant. The list queries the API runs (default sort, a filter, text
// search, other sorts, a deep cursor) must be served by indexes: EXPLAIN shows no sequential scan
// on the entity table. Timings are the benchmarks' business, not this test's.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { KINDS } from '../src/modules/catalog/kinds.js';
import { parseSearchQuery, search, searchStatement } from '../src/modules/search/service.js';
import { SEARCH_TYPES } from '../src/modules/search/schemas.js';
import { buildListQueries, type ListQuery } from '../src/platform/listing.js';
import type { ServiceContext } from '../src/platform/context.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';

const ROWS = 100_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('list queries at 100K services in one tenant', function () {
  this.timeout(180_000);
  let h: Awaited<ReturnType<typeof createHarness>>;
  let ctx: ServiceContext;
  let teamId: string;

  before(async () => {
    h = await createHarness();
    const tenantId = await createTenant(h.knex);
    ctx = await actingAs(h.knex, tenantId, 'viewer');
    const [team] = await h.knex('teams').insert({ tenant_id: tenantId, name: 'Bulk team' }).returning('id');
    teamId = team.id;
    // Bulk seeding straight into the table: the write path is not what this test measures.
    await h.knex.raw(
      `INSERT INTO services (tenant_id, name, type, description, team_id, status, operational_status, tags, attributes, created_at, updated_at)
       SELECT ?, 'svc-' || lpad(i::text, 6, '0'),
              (ARRAY['api','web_application','database','message_queue','cache','infrastructure'])[1 + i % 6],
              CASE WHEN i % 10 = 0 THEN 'handles payments for region ' || (i % 37) ELSE 'internal service number ' || i END,
              CASE WHEN i % 50 = 0 THEN ?::uuid END,
              (ARRAY['active','planned','maintenance','deprecated'])[1 + i % 4],
              'operational',
              CASE WHEN i % 100 = 0 THEN '["pci"]'::jsonb ELSE '[]'::jsonb END,
              '{}'::jsonb,
              now() - (i || ' seconds')::interval,
              now() - ((i * 7919) % ${ROWS} || ' seconds')::interval
         FROM generate_series(1, ${ROWS}) AS i`,
      [tenantId, teamId],
    );
    // A second tenant, so tenant_id is not constant across the table.
    const other = await createTenant(h.knex);
    await h.knex.raw(`INSERT INTO services (tenant_id, name, type) SELECT ?, 'other-' || i, 'api' FROM generate_series(1, 5000) AS i`, [other]);
    // As the owner: the runtime role may not analyze the table, and the plans need its statistics.
    await h.owner().raw('VACUUM ANALYZE services');
  });
  after(async () => h?.close());

  async function explain(sql: string, bindings: readonly unknown[]) {
    const result = await h.knex.raw(`EXPLAIN (FORMAT JSON) ${sql}`, bindings as readonly Knex.RawBinding[]);
    return nodes(result.rows[0]['QUERY PLAN'][0].Plan as PlanNode);
  }

  async function plan(query: Partial<ListQuery>) {
    const full: ListQuery = { limit: 50, sort: '-updated_at', filters: {}, ...query };
    const { page } = buildListQueries(ctx, KINDS.services, full);
    const { sql, bindings } = page.toKnexQuery().toSQL();
    return { all: await explain(sql, bindings), rows: (await page).length };
  }

  const cases: [string, Partial<ListQuery>][] = [
    ['the default sort (-updated_at)', {}],
    ['a status filter', { filters: { status: 'deprecated' } }],
    ['a type filter with sort by name', { filters: { type: 'cache' }, sort: 'name' }],
    ['text search q', { q: 'payments' }],
    ['a tag filter', { tag: 'pci' }],
    ['a team filter', { teamId: 'TEAM' }],
    ['sort by -created_at', { sort: '-created_at' }],
  ];

  for (const [label, query] of cases) {
    it(`uses an index, not a sequential scan on services, for ${label}`, async () => {
      const resolved = query.teamId ? { ...query, teamId } : query;
      const { all, rows } = await plan(resolved);
      const seq = all.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'services');
      assert.deepEqual(seq, [], `sequential scan in plan: ${JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name'] ?? n['Relation Name']]))}`);
      assert.ok(
        all.some((n) => /Index|Bitmap/.test(n['Node Type'])),
        'an index is used',
      );
      assert.ok(rows > 0, 'the query returns rows');
    });
  }

  it('pages deep with a cursor through an index and returns the next rows in order', async () => {
    const first = await h.entities.services.list(ctx, { limit: 200, sort: '-updated_at', filters: {} });
    assert.equal(first.meta.total, ROWS);
    const second = await h.entities.services.list(ctx, { limit: 200, sort: '-updated_at', filters: {}, cursor: first.meta.next_cursor! });
    const last = first.data[first.data.length - 1];
    assert.ok(String(second.data[0].updated_at) <= String(last.updated_at));
    assert.ok(!second.data.some((r) => first.data.some((f) => f.id === r.id)), 'no row twice');
    const { all } = await plan({ cursor: first.meta.next_cursor!, limit: 200 });
    assert.ok(!all.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'services'));
  });

  it('searches every kind by name through the name trigram indexes (GET /search), the exact name first', async () => {
    const input = parseSearchQuery({ q: 'svc-012345' });
    const { sql, bindings } = searchStatement(ctx, input, SEARCH_TYPES).toSQL();
    const all = await explain(sql, bindings);
    const seq = all.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'services');
    assert.deepEqual(seq, [], `sequential scan in plan: ${JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name'] ?? n['Relation Name']]))}`);
    assert.ok(
      all.some((n) => n['Index Name'] === 'services_name_trgm_index'),
      JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name'] ?? n['Relation Name']])),
    );
    const { data } = await search(ctx, input);
    assert.deepEqual([data[0]?.name, data[0]?.match], ['svc-012345', 'exact']);
  });
});
