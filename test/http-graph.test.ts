// Black-box HTTP: GET /<kind>/:id/graph (the records around a record, by depth and direction,
// with the edges among them; cycles, the node limit, validation, tenancy, deleted records) and
// GET /<kind>/:id/impact from every kind that has dependencies, each answered by one statement.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { HTTP_DEFAULTS } from '../src/platform/config.js';
import { graphStatementOf } from '../src/modules/catalog/graph.js';
import { impactStatementOf } from '../src/modules/catalog/impact.js';
import { CATALOG_TYPES } from '../src/modules/catalog/kinds.js';
import { IMPACT_TYPES, RELATIONS } from '../src/modules/catalog/relations.js';
import { addMember, assertProblem, created, expectStatus, httpSuite, signupTenant, type Tenant } from './support/http-assertions.js';
import type { ApiClient } from './support/server.js';
import { counted, isPrincipalRead, scopedTables } from './support/sql.js';

/** The suite's node limit: small, so the limit is reached with a dozen records. */
const MAX_NODES = 8;

interface Node {
  type: string;
  id: string;
  name: string;
  depth: number;
}
interface Edge {
  from: string;
  to: string;
  relation: string;
}
interface Graph {
  nodes: Node[];
  edges: Edge[];
  truncated: boolean;
}

async function graphOf(client: ApiClient, type: string, id: string, query: string): Promise<Graph> {
  const res = await client.get(`/api/v1/${type}/${id}/graph?${query}`);
  expectStatus(res, 200, `graph of ${type} ${id} ?${query}`);
  return res.body.data as Graph;
}

describe('HTTP relation graph and impact', function () {
  this.timeout(120_000);
  const suite = httpSuite({ http: { ...HTTP_DEFAULTS, graphMaxNodes: MAX_NODES } });
  /** Names by id, for readable assertions. */
  const names = new Map<string, string>();
  const nodesOf = (g: Graph) => g.nodes.map((n) => `${n.type}:${names.get(n.id) ?? n.id}@${n.depth}`).sort();
  const edgesOf = (g: Graph) => g.edges.map((e) => `${names.get(e.from) ?? e.from} ${e.relation} ${names.get(e.to) ?? e.to}`).sort();

  async function make(client: ApiClient, type: string, body: Record<string, unknown>): Promise<string> {
    const row = await created(client, `/api/v1/${type}`, body);
    names.set(row.id, String(body.name));
    return row.id as string;
  }

  describe('around one service', () => {
    // The team owns A; Pat is a member and assigned to A; A depends on B, B on C; A runs on the
    // VM and is built from the repo; lib X depends on A; product P contains A.
    const ids: Record<string, string> = {};
    let c: ApiClient;

    before(async () => {
      c = suite.admin.client;
      ids.team = await make(c, 'teams', { name: 'Team' });
      ids.pat = await make(c, 'people', { name: 'Pat', email: 'pat@example.com', team_id: ids.team });
      ids.c = await make(c, 'services', { name: 'C', type: 'api' });
      ids.b = await make(c, 'services', { name: 'B', type: 'api', depends_on_service_ids: [ids.c] });
      ids.vm = await make(c, 'resources', { name: 'VM', type: 'ec2' });
      ids.repo = await make(c, 'repositories', { name: 'Repo', provider: 'github' });
      ids.a = await make(c, 'services', {
        name: 'A',
        type: 'api',
        team_id: ids.team,
        depends_on_service_ids: [ids.b],
        resource_ids: [ids.vm],
        repository_ids: [ids.repo],
        // Two roles are one assigned_to edge.
        assignments: [
          { person_id: ids.pat, role: 'Lead' },
          { person_id: ids.pat, role: 'On-Call' },
        ],
      });
      ids.x = await make(c, 'components', { name: 'X', type: 'library', depends_on_service_ids: [ids.a] });
      ids.p = await make(c, 'products', { name: 'P', service_ids: [ids.a] });
    });

    it('depth 1 out: what the service points at, and the edges to them', async () => {
      const g = await graphOf(c, 'services', ids.a, 'depth=1&direction=out');
      assert.deepEqual(nodesOf(g), ['repositories:Repo@1', 'resources:VM@1', 'services:A@0', 'services:B@1', 'teams:Team@1']);
      assert.deepEqual(edgesOf(g), ['A built_from Repo', 'A depends_on B', 'A owned_by Team', 'A runs_on VM']);
      assert.equal(g.truncated, false);
      assert.deepEqual(g.nodes[0], { type: 'services', id: ids.a, name: 'A', depth: 0 }, 'the record itself first');
    });

    it('depth 2 out reaches one hop further (B depends on C)', async () => {
      const g = await graphOf(c, 'services', ids.a, 'depth=2&direction=out');
      assert.deepEqual(nodesOf(g), ['repositories:Repo@1', 'resources:VM@1', 'services:A@0', 'services:B@1', 'services:C@2', 'teams:Team@1']);
      assert.ok(edgesOf(g).includes('B depends_on C'));
      // Out never walks an edge backwards: the team's member is not reached through the team.
      assert.ok(!g.nodes.some((n) => n.id === ids.pat));
    });

    it('depth 1 in: what points at the service', async () => {
      const g = await graphOf(c, 'services', ids.a, 'depth=1&direction=in');
      assert.deepEqual(nodesOf(g), ['components:X@1', 'people:Pat@1', 'products:P@1', 'services:A@0']);
      assert.deepEqual(edgesOf(g), ['P contains A', 'Pat assigned_to A', 'X depends_on A']);
    });

    it('both directions (the default) is the union, with every edge among the nodes', async () => {
      const g = await graphOf(c, 'services', ids.a, 'depth=1');
      assert.deepEqual(nodesOf(g), [
        'components:X@1',
        'people:Pat@1',
        'products:P@1',
        'repositories:Repo@1',
        'resources:VM@1',
        'services:A@0',
        'services:B@1',
        'teams:Team@1',
      ]);
      // Pat is a member of the team: both are nodes, so the edge between them is shown too.
      assert.ok(edgesOf(g).includes('Pat member_of Team'), edgesOf(g).join('; '));
      assert.equal(g.edges.length, 8);
    });

    it('answers from every catalog kind', async () => {
      const from: Record<string, [string, string[]]> = {
        teams: [ids.team, ['people:Pat@1', 'services:A@1', 'teams:Team@0']],
        people: [ids.pat, ['people:Pat@0', 'services:A@1', 'teams:Team@1']],
        products: [ids.p, ['products:P@0', 'services:A@1']],
        services: [ids.c, ['services:B@1', 'services:C@0']],
        components: [ids.x, ['components:X@0', 'services:A@1']],
        resources: [ids.vm, ['resources:VM@0', 'services:A@1']],
        repositories: [ids.repo, ['repositories:Repo@0', 'services:A@1']],
      };
      assert.deepEqual(Object.keys(from).sort(), [...CATALOG_TYPES].sort());
      for (const [type, [id, expected]] of Object.entries(from)) {
        assert.deepEqual(nodesOf(await graphOf(c, type, id, 'depth=1&direction=both')), expected, type);
      }
    });

    it('a viewer reads the same graph', async () => {
      const viewer = await addMember(suite.app, suite.admin, 'viewer');
      assert.deepEqual(await graphOf(viewer.client, 'services', ids.a, 'depth=2'), await graphOf(c, 'services', ids.a, 'depth=2'));
    });

    it('is one statement (beside authentication)', async () => {
      for (const url of [`/api/v1/services/${ids.a}/graph?depth=5`, `/api/v1/resources/${ids.vm}/impact`]) {
        const { result, statements } = await counted(suite.app.db.knex, () => c.get(url));
        expectStatus(result, 200);
        const reads = statements.filter((sql) => !isPrincipalRead(sql));
        assert.equal(reads.length, 1, `${url}: ${reads.join('\n---\n')}`);
      }
    });
  });

  it('a cycle ends: each record once, at its smallest depth', async () => {
    const c = suite.admin.client;
    const a = await make(c, 'services', { name: 'cycle-a', type: 'api' });
    const b = await make(c, 'services', { name: 'cycle-b', type: 'api', depends_on_service_ids: [a] });
    const z = await make(c, 'services', { name: 'cycle-c', type: 'api', depends_on_service_ids: [b] });
    expectStatus(await c.patch(`/api/v1/services/${a}`, { depends_on_service_ids: [z] }), 200);
    for (const direction of ['out', 'in', 'both']) {
      const g = await graphOf(c, 'services', a, `depth=5&direction=${direction}`);
      // One way round the cycle the other record is two hops away; both ways, each is one.
      assert.deepEqual(
        nodesOf(g),
        ['services:cycle-a@0', `services:cycle-b@${direction === 'out' ? 2 : 1}`, `services:cycle-c@${direction === 'in' ? 2 : 1}`],
        direction,
      );
      assert.deepEqual(edgesOf(g), ['cycle-a depends_on cycle-c', 'cycle-b depends_on cycle-a', 'cycle-c depends_on cycle-b'], direction);
    }
  });

  it(`keeps the nearest ${MAX_NODES} records and says it cut the rest`, async () => {
    const c = suite.admin.client;
    const team = await make(c, 'teams', { name: 'big-team' });
    // A service of the team the lib depends on: at depth 2 from the team, the farthest record.
    const owned: string[] = [];
    for (let i = 0; i < MAX_NODES - 3; i++) owned.push(await make(c, 'services', { name: `owned-${i}`, type: 'api', team_id: team }));
    await make(c, 'components', { name: 'far-lib', type: 'library', depends_on_service_ids: [owned[0]] });
    // The team, its services and the lib: one under the limit, then exactly at it.
    let g = await graphOf(c, 'teams', team, 'depth=2&direction=in');
    assert.equal(g.nodes.length, MAX_NODES - 1);
    assert.equal(g.truncated, false);
    owned.push(await make(c, 'services', { name: 'owned-at-limit', type: 'api', team_id: team }));
    g = await graphOf(c, 'teams', team, 'depth=2&direction=in');
    assert.equal(g.nodes.length, MAX_NODES);
    assert.equal(g.truncated, false);
    // One more: the farthest record goes, the answer says so, and no edge names it.
    owned.push(await make(c, 'services', { name: 'owned-past-limit', type: 'api', team_id: team }));
    g = await graphOf(c, 'teams', team, 'depth=2&direction=in');
    assert.equal(g.truncated, true);
    assert.equal(g.nodes.length, MAX_NODES);
    assert.deepEqual(g.nodes[0], { type: 'teams', id: team, name: 'big-team', depth: 0 });
    assert.ok(
      g.nodes.every((n) => n.depth <= 1),
      'the depth-2 lib is the one cut',
    );
    const kept = new Set(g.nodes.map((n) => n.id));
    assert.ok(g.edges.every((e) => kept.has(e.from) && kept.has(e.to)));
    assert.equal(g.edges.length, MAX_NODES - 1);
    // Depth 1 (the team and its services) is exactly at the limit: nothing cut.
    g = await graphOf(c, 'teams', team, 'depth=1');
    assert.equal(g.nodes.length, MAX_NODES);
    assert.equal(g.truncated, false);

    // Impact lists are held to the same limit (the root aside): a resource the team's services run on.
    const vm = await make(c, 'resources', { name: 'shared-vm', type: 'ec2' });
    for (const id of owned) expectStatus(await c.patch(`/api/v1/services/${id}`, { resource_ids: [vm] }), 200);
    let impact = (await c.get(`/api/v1/resources/${vm}/impact`)).body.data;
    assert.equal(impact.dependents.length, MAX_NODES, 'the services and the lib that depends on one');
    assert.equal(impact.truncated, false);
    await make(c, 'services', { name: 'one-more-on-vm', type: 'api', resource_ids: [vm] });
    impact = (await c.get(`/api/v1/resources/${vm}/impact`)).body.data;
    assert.equal(impact.dependents.length, MAX_NODES);
    assert.equal(impact.truncated, true);
    assert.ok(
      impact.dependents.every((n: { depth: number }) => n.depth === 1),
      'the farthest (the lib) is the one cut',
    );
  });

  it('refuses a depth outside 1-5, another direction and unknown parameters (422)', async () => {
    const c = suite.admin.client;
    const s = await make(c, 'services', { name: 'validated', type: 'api' });
    for (const [query, path] of [
      ['depth=0', 'query.depth'],
      ['depth=6', 'query.depth'],
      ['depth=1.5', 'query.depth'],
      ['depth=two', 'query.depth'],
      ['direction=sideways', 'query.direction'],
      ['deep=2', 'query'],
    ]) {
      assertProblem(await c.get(`/api/v1/services/${s}/graph?${query}`), 422, { path });
    }
    for (const depth of [1, 5]) await graphOf(c, 'services', s, `depth=${depth}`);
  });

  describe('tenancy and deleted records', () => {
    let other: Tenant;
    before(async () => {
      other = await signupTenant(suite.app);
    });

    it("another tenant's record, an unknown id and a deleted record are a 404", async () => {
      const c = suite.admin.client;
      const mine = await make(c, 'services', { name: 'tenant-mine', type: 'api' });
      const theirs = await make(other.client, 'services', { name: 'tenant-theirs', type: 'api', depends_on_service_ids: [] });
      const gone = await make(c, 'components', { name: 'tenant-gone', type: 'library', depends_on_service_ids: [mine] });
      expectStatus(await c.delete(`/api/v1/components/${gone}`), 204);
      for (const url of [
        `/api/v1/services/${theirs}/graph`,
        `/api/v1/services/${theirs}/impact`,
        `/api/v1/services/${randomUUID()}/graph`,
        `/api/v1/components/${gone}/graph`,
        `/api/v1/components/${gone}/impact`,
        // An id of another kind is no record of this one.
        `/api/v1/components/${mine}/graph`,
      ]) {
        assertProblem(await c.get(url), 404);
      }
      assertProblem(await c.get(`/api/v1/services/not-a-uuid/graph`), 400, { path: 'id' });
      // Teams and people depend on nothing: they have no impact route.
      expectStatus(await c.get(`/api/v1/teams/${randomUUID()}/impact`), 404);
      // Their own graph is theirs alone.
      const g = await graphOf(other.client, 'services', theirs, 'depth=5');
      assert.deepEqual(nodesOf(g), ['services:tenant-theirs@0']);
    });

    it('leaves out deleted records, and the records only they led to', async () => {
      const c = suite.admin.client;
      const end = await make(c, 'services', { name: 'chain-end', type: 'api' });
      const middle = await make(c, 'services', { name: 'chain-middle', type: 'api', depends_on_service_ids: [end] });
      const start = await make(c, 'services', { name: 'chain-start', type: 'api', depends_on_service_ids: [middle] });
      const lib = await make(c, 'components', { name: 'chain-lib', type: 'library', depends_on_service_ids: [start] });
      assert.deepEqual(nodesOf(await graphOf(c, 'services', start, 'depth=3')), [
        'components:chain-lib@1',
        'services:chain-end@2',
        'services:chain-middle@1',
        'services:chain-start@0',
      ]);
      expectStatus(await c.delete(`/api/v1/services/${middle}`), 204);
      expectStatus(await c.delete(`/api/v1/components/${lib}`), 204);
      const g = await graphOf(c, 'services', start, 'depth=3');
      assert.deepEqual(nodesOf(g), ['services:chain-start@0']);
      assert.deepEqual(g.edges, []);
      const impact = (await c.get(`/api/v1/services/${end}/impact`)).body.data;
      assert.deepEqual(impact.dependents, []);
      // Restored, the chain is whole again.
      expectStatus(await c.post(`/api/v1/services/${middle}/restore`, {}), 200);
      assert.deepEqual(nodesOf(await graphOf(c, 'services', start, 'depth=3&direction=out')), [
        'services:chain-end@2',
        'services:chain-middle@1',
        'services:chain-start@0',
      ]);
    });
  });

  describe('the statements', () => {
    const KEYWORDS = new Set(['cross', 'join', 'where', 'on', 'and', 'offset', 'limit', 'group', 'order']);
    let tenantTables: Set<string>;
    let softDeleteTables: Set<string>;
    before(async () => {
      ({ tenantTables, softDeleteTables } = await scopedTables(suite.app.db.knex));
    });

    /** Every table `sql` reads: tenant tables carry their tenant (and live-row) condition, link tables hang off the walk row. */
    function assertScoped(what: string, sql: string): number {
      let tables = 0;
      for (const m of sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_]+)(?:\s+([a-z][a-z0-9_]*))?/gi)) {
        const [table, alias] = [m[1], m[2] && !KEYWORDS.has(m[2].toLowerCase()) ? m[2] : undefined];
        if (/^(lateral|root|g_\w+|dependents_\w+|dependencies_\w+)$/i.test(table)) continue; // LATERAL, the statement's own CTEs
        tables++;
        if (!tenantTables.has(table)) {
          assert.match(sql, new RegExp(`\\b${table}\\.\\w+ = w\\.id\\b`), `${what}: link table ${table} hangs off the walk row`);
          continue;
        }
        assert.ok(alias, `${what}: ${table} has an alias to scope`);
        assert.ok(sql.includes(`${alias}.tenant_id = :tenant`), `${what}: ${table} ${alias} is tenant-scoped`);
        if (softDeleteTables.has(table)) assert.ok(sql.includes(`${alias}.deleted_at IS NULL`), `${what}: ${table} ${alias} is live rows only`);
      }
      return tables;
    }

    it('every table of every step, and of every statement, carries the tenant (and live-row) condition', () => {
      for (const r of RELATIONS) {
        // One step reads the neighbour's table and, for a link or an assignment, the link rows.
        for (const [end, sql] of Object.entries({ forward: r.forward, backward: r.backward })) {
          assert.ok(assertScoped(`${r.from} ${r.name} ${r.to} ${end}`, sql) >= 1);
        }
      }
      for (const type of CATALOG_TYPES) {
        for (const direction of ['out', 'in', 'both'] as const) assertScoped(`${type} graph ${direction}`, graphStatementOf(type, direction));
      }
      for (const type of IMPACT_TYPES) assertScoped(`${type} impact`, impactStatementOf(type));
      assert.deepEqual([...IMPACT_TYPES].sort(), ['components', 'products', 'repositories', 'resources', 'services']);
    });
  });

  describe('impact', () => {
    const view = (list: { entity_type: string; entity_id: string; depth: number }[]) =>
      list.map((n) => `${n.entity_type}:${names.get(n.entity_id)}@${n.depth}`).sort();

    it('from a resource: every service on it and what depends on those, not its owner', async () => {
      const c = suite.admin.client;
      const team = await make(c, 'teams', { name: 'cluster-owners' });
      const cluster = await make(c, 'resources', { name: 'k8s-cluster', type: 'kubernetes', team_id: team });
      const api = await make(c, 'services', { name: 'orders-api', type: 'api', resource_ids: [cluster], team_id: team });
      const web = await make(c, 'services', { name: 'shop-web', type: 'web_application', depends_on_service_ids: [api] });
      const sdk = await make(c, 'components', { name: 'orders-sdk', type: 'sdk', depends_on_service_ids: [api] });
      const app = await make(c, 'components', { name: 'mobile-app', type: 'ui_component', depends_on_component_ids: [sdk] });
      await make(c, 'products', { name: 'Shop', service_ids: [web] });
      const res = await c.get(`/api/v1/resources/${cluster}/impact`);
      expectStatus(res, 200);
      assert.deepEqual(res.body.data.resource, { id: cluster, name: 'k8s-cluster' });
      assert.deepEqual(view(res.body.data.dependents), [
        'components:mobile-app@3',
        'components:orders-sdk@2',
        'products:Shop@3',
        'services:orders-api@1',
        'services:shop-web@2',
      ]);
      assert.deepEqual(res.body.data.dependencies, [], 'a resource depends on nothing; its team is its owner, not a dependency');
      assert.equal(res.body.data.truncated, false);
      assert.ok(!res.body.data.dependents.some((n: { entity_id: string }) => n.entity_id === team));
      assert.ok(app);
    });

    it('from a component: what uses it, and what it depends on (services, components, repositories)', async () => {
      const c = suite.admin.client;
      const repo = await make(c, 'repositories', { name: 'money-repo', provider: 'gitlab' });
      const db = await make(c, 'services', { name: 'ledger-db', type: 'database' });
      const base = await make(c, 'components', { name: 'money-base', type: 'library' });
      const money = await make(c, 'components', {
        name: 'money-lib',
        type: 'library',
        depends_on_component_ids: [base],
        depends_on_service_ids: [db],
        repository_ids: [repo],
      });
      await make(c, 'services', { name: 'billing', type: 'api', component_ids: [money] });
      await make(c, 'components', { name: 'invoice-lib', type: 'library', depends_on_component_ids: [money] });
      const res = await c.get(`/api/v1/components/${money}/impact`);
      expectStatus(res, 200);
      assert.deepEqual(res.body.data.component, { id: money, name: 'money-lib' });
      assert.deepEqual(view(res.body.data.dependents), ['components:invoice-lib@1', 'services:billing@1']);
      assert.deepEqual(view(res.body.data.dependencies), ['components:money-base@1', 'repositories:money-repo@1', 'services:ledger-db@1']);
      // The repository's own impact: the component built from it, and what uses that.
      const fromRepo = (await c.get(`/api/v1/repositories/${repo}/impact`)).body.data;
      assert.deepEqual(view(fromRepo.dependents), ['components:invoice-lib@2', 'components:money-lib@1', 'services:billing@2']);
      // A product depends on its services: its dependents are none.
      const shop = (await c.get(`/api/v1/products/${await make(c, 'products', { name: 'Money', service_ids: [db] })}/impact`)).body.data;
      assert.deepEqual(view(shop.dependencies), ['services:ledger-db@1']);
      assert.deepEqual(shop.dependents, []);
    });
  });
});
