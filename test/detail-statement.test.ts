// The catalog detail view is one SQL statement, and every table in it is tenant-scoped: the text
// of each kind's statement is read (each tenant table carries its tenant condition, each
// soft-deletable one its live-row condition), and a GET of every kind over HTTP is counted from
// the driver — one statement, beside authentication's when the principal is not cached — and
// answered in full.
import assert from 'node:assert/strict';
import { detailStatement, listPageColumns } from '../src/modules/catalog/detail.js';
import { CATALOG_TYPES } from '../src/modules/catalog/kinds.js';
import { created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';
import { counted, followerCaughtUp, isPrincipalRead, scopedTables } from './support/sql.js';

const KEYWORDS = new Set(['join', 'where', 'on', 'and', 'order', 'left', 'inner', 'limit', 'group']);

describe('catalog detail view: one statement, every table scoped', function () {
  this.timeout(60_000);
  let app: TestApp;
  let admin: Tenant;
  let tenantTables: Set<string>;
  let softDeleteTables: Set<string>;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    ({ tenantTables, softDeleteTables } = await scopedTables(app.db.knex));
  });
  after(async () => {
    await app?.close();
  });

  /** Every tenant table in `sql` carries the tenant (and live-row) condition; link tables hang off the record. */
  function assertScoped(type: string, sql: string): void {
    const references = [...sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+)(?:\s+([a-z][a-z0-9_]*))?/gi)].map((m) => ({
      table: m[1],
      alias: m[2] && !KEYWORDS.has(m[2].toLowerCase()) ? m[2] : undefined,
    }));
    assert.ok(references.length > 0);
    for (const { table, alias } of references) {
      if (!tenantTables.has(table)) {
        // A link table has no tenant of its own: it hangs off the record (r, of this tenant) and
        // joins a target that is scoped itself.
        assert.match(sql, new RegExp(`\\b${alias ?? table}\\.\\w+ = r\\.id\\b`), `${type}: link table ${table} hangs off the record`);
        continue;
      }
      assert.ok(alias, `${type}: ${table} has an alias to scope`);
      assert.ok(sql.includes(`${alias}.tenant_id = :tenant`), `${type}: ${table} ${alias} is tenant-scoped`);
      if (softDeleteTables.has(table)) assert.ok(sql.includes(`${alias}.deleted_at IS NULL`), `${type}: ${table} ${alias} is live rows only`);
    }
  }

  for (const type of CATALOG_TYPES) {
    it(`${type}: every table in the statement carries the tenant (and live-row) condition`, () => {
      assertScoped(type, detailStatement(type).sql);
    });
  }

  it("reads a list page with its rows' relation id lists in one statement, every table scoped, for every kind", async () => {
    const c = admin.client;
    const team = await created(c, '/api/v1/teams', { name: 'List team' });
    const repo = await created(c, '/api/v1/repositories', { name: 'list-repo', provider: 'github', team_id: team.id });
    const person = await created(c, '/api/v1/people', { name: 'Lis Ting', email: 'lis@example.com', team_id: team.id });
    const first = await created(c, '/api/v1/services', {
      name: 'list-a',
      type: 'api',
      repository_ids: [repo.id],
      assignments: [{ person_id: person.id, role: 'Lead' }],
    });
    await created(c, '/api/v1/services', { name: 'list-b', type: 'api', depends_on_service_ids: [first.id] });
    for (const type of CATALOG_TYPES) {
      const columns = listPageColumns(type);
      if (columns) assertScoped(type, `SELECT r.* FROM ${type} r WHERE r.tenant_id = :tenant AND r.deleted_at IS NULL, ${columns}`);
      // The first page: the page (with its lists) and its count, side by side.
      const page1 = await counted(app.db.knex, () => c.get(`/api/v1/${type}?limit=1`));
      expectStatus(page1.result, 200);
      const reads1 = page1.statements.filter((sql) => !isPrincipalRead(sql));
      assert.equal(reads1.length, 2, `${type}: ${reads1.join('\n---\n')}`);
      const cursor = page1.result.body.meta.next_cursor as string | null;
      if (!cursor) continue;
      // A later page: the keyset page alone (the total comes in the cursor).
      const page2 = await counted(app.db.knex, () => c.get(`/api/v1/${type}?limit=1&cursor=${cursor}`));
      expectStatus(page2.result, 200);
      const reads2 = page2.statements.filter((sql) => !isPrincipalRead(sql));
      assert.equal(reads2.length, 1, `${type}: ${reads2.join('\n---\n')}`);
      assert.equal(page2.result.body.meta.total, page1.result.body.meta.total);
    }
    const listed = (await c.get('/api/v1/services?sort=name&limit=10')).body.data as Record<string, unknown>[];
    const byName = new Map(listed.map((row) => [row.name, row]));
    assert.deepEqual(byName.get('list-a')!.repository_ids, [repo.id]);
    assert.deepEqual(byName.get('list-a')!.assignments, [{ person_id: person.id, role: 'Lead' }]);
    assert.deepEqual(byName.get('list-b')!.depends_on_service_ids, [first.id]);
    assert.deepEqual(byName.get('list-b')!.repository_ids, []);
    assert.deepEqual(
      listed.map((row) => row.name),
      [...listed.map((row) => row.name as string)].sort(),
    );
    // A list row is the record as its detail view shows it, without the related summaries (a
    // detail's assignments also name each person).
    for (const row of listed) {
      const detail = (await c.get(`/api/v1/services/${row.id as string}`)).body.data as Record<string, unknown>;
      const { assignments, ...rest } = row;
      assert.deepEqual(rest, Object.fromEntries(Object.keys(rest).map((k) => [k, detail[k]])));
      assert.deepEqual(
        assignments,
        (detail.assignments as { person_id: string; role: string }[]).map(({ person_id, role }) => ({ person_id, role })),
      );
    }
  });

  it("builds a list shape's statements once: other values, the same text, their own rows", async () => {
    const c = admin.client;
    await created(c, '/api/v1/services', { name: 'shape-alpha', type: 'api', status: 'active' });
    await created(c, '/api/v1/services', { name: 'shape-beta', type: 'api', status: 'deprecated' });
    const run = (q: string) => counted(app.db.knex, () => c.get(`/api/v1/services?${q}`));
    const alpha = await run('q=shape-alpha&status=active');
    const beta = await run('q=shape-beta&status=deprecated');
    const none = await run('q=shape-beta&status=active');
    assert.deepEqual(
      alpha.result.body.data.map((r: { name: string }) => r.name),
      ['shape-alpha'],
    );
    assert.deepEqual(
      beta.result.body.data.map((r: { name: string }) => r.name),
      ['shape-beta'],
    );
    assert.deepEqual(none.result.body.data, []);
    assert.equal(none.result.body.meta.total, 0);
    const texts = (r: { statements: string[] }) => r.statements.filter((sql) => !isPrincipalRead(sql));
    assert.deepEqual(texts(alpha), texts(beta));
    assert.ok(
      texts(alpha).every((sql) => !sql.includes('shape-')),
      'values travel as parameters, never in the text',
    );
  });

  it('answers GET /<kind>/:id with authentication plus one statement, for every kind', async () => {
    const c = admin.client;
    const team = await created(c, '/api/v1/teams', { name: 'Detail team' });
    const person = await created(c, '/api/v1/people', { name: 'Dee Tail', email: 'dee@example.com', team_id: team.id });
    const repo = await created(c, '/api/v1/repositories', { name: 'detail-repo', provider: 'github', team_id: team.id });
    const resource = await created(c, '/api/v1/resources', { name: 'detail-vm', type: 'ec2', team_id: team.id });
    const component = await created(c, '/api/v1/components', { name: 'detail-lib', type: 'library', repository_ids: [repo.id] });
    const service = await created(c, '/api/v1/services', {
      name: 'detail-api',
      type: 'api',
      team_id: team.id,
      component_ids: [component.id],
      resource_ids: [resource.id],
      repository_ids: [repo.id],
      assignments: [{ person_id: person.id, role: 'Lead' }],
    });
    const product = await created(c, '/api/v1/products', { name: 'detail-product', service_ids: [service.id] });
    await created(c, '/api/v1/incidents', { title: 'Detail down', severity: 'major', affected: [{ entity_type: 'services', entity_id: service.id }] });
    await created(c, '/api/v1/scorecards', {
      name: 'Detail card',
      entity_types: ['services'],
      criteria: [{ name: 'owned', weight: 1, check_type: 'has_field', check_config: { field: 'team_id' } }],
    });
    // The scorecard's scores are derived in the background after commit: done before counting a read.
    await followerCaughtUp(app.db.knex, admin.tenantId, 'scorecard_scores');
    const ids: Record<string, string> = {
      teams: team.id,
      people: person.id,
      products: product.id,
      services: service.id,
      components: component.id,
      resources: resource.id,
      repositories: repo.id,
    };
    for (const type of CATALOG_TYPES) {
      const { result: res, statements } = await counted(app.db.knex, () => c.get(`/api/v1/${type}/${ids[type]}`));
      expectStatus(res, 200);
      assert.equal(res.body.data.id, ids[type]);
      // The token's principal may come from the node's cache (then there is no users read at all).
      const reads = statements.filter((sql) => !isPrincipalRead(sql));
      assert.equal(reads.length, 1, `${type}: ${statements.join('\n---\n')}`);
      assert.ok(statements.length <= 2, `${type}: ${statements.join('\n---\n')}`);
    }
    const detail = (await c.get(`/api/v1/services/${service.id}`)).body.data;
    assert.deepEqual(detail.component_ids, [component.id]);
    assert.deepEqual(
      detail.components.map((x: { name: string }) => x.name),
      ['detail-lib'],
    );
    assert.deepEqual(detail.team, { id: team.id, name: 'Detail team' });
    assert.deepEqual(detail.assignments, [{ person_id: person.id, role: 'Lead', person: { id: person.id, name: 'Dee Tail', email: 'dee@example.com' } }]);
    assert.deepEqual(
      detail.incidents.map((i: { title: string }) => i.title),
      ['Detail down'],
    );
    assert.match(detail.incidents[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      detail.scorecards.map((s: { scorecard_name: string; score: number }) => [s.scorecard_name, s.score]),
      [['Detail card', 100]],
    );
    assert.deepEqual(
      detail.products.map((x: { id: string }) => x.id),
      [product.id],
    );
    const own = (await c.get(`/api/v1/people/${person.id}`)).body.data;
    assert.ok(
      own.assignments.every((a: Record<string, unknown>) => !('tenant_id' in a)),
      'no tenant_id inside the view',
    );
  });
});
