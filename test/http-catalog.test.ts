// Black-box HTTP: the seven catalog collections: CRUD with ETags and If-Match, soft
// delete and restore, detail views, cursor pagination, filters, tenant-checked references, impact.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  addMember,
  assertProblem,
  created,
  expectStatus,
  refused,
  signupTenant,
  startHttpApp,
  walkPages,
  type Member,
  type Tenant,
} from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

/** Per collection: a minimal valid create body and a patch that changes something. */
const COLLECTIONS: Record<string, { create: () => Record<string, unknown>; patch: Record<string, unknown> }> = {
  teams: { create: () => ({ name: `team-${uniq()}` }), patch: { description: 'patched' } },
  people: { create: () => ({ name: `Person ${uniq()}`, email: `p-${uniq()}@example.com` }), patch: { role_title: 'SRE' } },
  products: { create: () => ({ name: `product-${uniq()}` }), patch: { description: 'patched' } },
  services: { create: () => ({ name: `service-${uniq()}`, type: 'api' }), patch: { description: 'patched' } },
  components: { create: () => ({ name: `component-${uniq()}`, type: 'library' }), patch: { description: 'patched' } },
  resources: { create: () => ({ name: `resource-${uniq()}`, type: 'ec2' }), patch: { description: 'patched' } },
  repositories: { create: () => ({ name: `repo-${uniq()}`, provider: 'github' }), patch: { description: 'patched' } },
};

describe('HTTP catalog', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let viewer: Member;
  let editor: Member;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    viewer = await addMember(app, admin, 'viewer');
    editor = await addMember(app, admin, 'editor');
  });
  after(async () => {
    await app?.close();
  });

  for (const [collection, spec] of Object.entries(COLLECTIONS)) {
    describe(`/${collection}`, () => {
      it('creates (201, Location, ETag "1"), reads with ETag, patches with If-Match, refuses a stale If-Match (412)', async () => {
        const body = spec.create();
        const res = await editor.client.post(`/api/v1/${collection}`, body);
        expectStatus(res, 201, `POST /${collection}`);
        const id = res.body.data.id;
        assert.equal(res.headers.get('location'), `/api/v1/${collection}/${id}`);
        assert.equal(res.headers.get('etag'), '"1"');
        assert.equal(res.body.data.row_version, 1);
        assert.equal(res.body.data.name, body.name);
        assert.ok(!('tenant_id' in res.body.data), 'no tenant_id in responses');

        const got = await viewer.client.get(`/api/v1/${collection}/${id}`);
        expectStatus(got, 200);
        assert.equal(got.headers.get('etag'), '"1"');
        assert.equal(got.body.data.id, id);

        const patched = await editor.client.patch(`/api/v1/${collection}/${id}`, spec.patch, { 'if-match': '"1"' });
        expectStatus(patched, 200);
        assert.equal(patched.headers.get('etag'), '"2"');
        for (const [k, v] of Object.entries(spec.patch)) assert.equal(patched.body.data[k], v);

        await refused(
          app.db.knex,
          admin.tenantId,
          [collection],
          () => editor.client.patch(`/api/v1/${collection}/${id}`, { ...spec.patch, name: `stale-${uniq()}` }, { 'if-match': '"1"' }),
          412,
        );
        const after = await viewer.client.get(`/api/v1/${collection}/${id}`);
        assert.equal(after.headers.get('etag'), '"2"', 'nothing written by the stale PATCH');
        assert.equal(after.body.data.name, body.name);
      });

      it('soft-deletes (204, then 404, not listed), lists deleted for admins only, restores', async () => {
        const row = await created(editor.client, `/api/v1/${collection}`, spec.create());
        await refused(app.db.knex, admin.tenantId, [collection], () => editor.client.delete(`/api/v1/${collection}/${row.id}`, { 'if-match': '"7"' }), 412);
        const del = await editor.client.delete(`/api/v1/${collection}/${row.id}`, { 'if-match': '"1"' });
        expectStatus(del, 204);
        assert.equal(del.text, '');
        assertProblem(await viewer.client.get(`/api/v1/${collection}/${row.id}`), 404);

        const listed = await walkPages(admin.client, `/api/v1/${collection}?limit=200`);
        assert.ok(!listed.items.some((r) => r.id === row.id), 'a deleted row is not listed');
        const withDeleted = await walkPages(admin.client, `/api/v1/${collection}?limit=200&include_deleted=true`);
        const deleted = withDeleted.items.find((r) => r.id === row.id);
        assert.ok(deleted, 'include_deleted=true lists it for an admin');
        assert.ok(deleted.deleted_at, 'with deleted_at set');
        assertProblem(await viewer.client.get(`/api/v1/${collection}?include_deleted=true`), 403);
        assertProblem(await editor.client.get(`/api/v1/${collection}?include_deleted=true`), 403);

        const restored = await editor.client.post(`/api/v1/${collection}/${row.id}/restore`);
        expectStatus(restored, 200);
        assert.equal(restored.body.data.deleted_at, null);
        assert.equal(restored.headers.get('etag'), '"3"');
        const got = await viewer.client.get(`/api/v1/${collection}/${row.id}`);
        expectStatus(got, 200);
      });

      it('refuses a viewer writing (403) and writes nothing', async () => {
        const row = await created(editor.client, `/api/v1/${collection}`, spec.create());
        await refused(app.db.knex, admin.tenantId, [collection], () => viewer.client.post(`/api/v1/${collection}`, spec.create()), 403);
        await refused(app.db.knex, admin.tenantId, [collection], () => viewer.client.patch(`/api/v1/${collection}/${row.id}`, spec.patch), 403);
        await refused(app.db.knex, admin.tenantId, [collection], () => viewer.client.delete(`/api/v1/${collection}/${row.id}`), 403);
      });
    });
  }

  it('refuses a name already taken by a live record (409) and accepts it again once that one is deleted', async () => {
    const name = `dup-${uniq()}`;
    const first = await created(editor.client, '/api/v1/services', { name, type: 'api' });
    await refused(app.db.knex, admin.tenantId, ['services'], () => editor.client.post('/api/v1/services', { name, type: 'cache' }), 409);
    expectStatus(await editor.client.delete(`/api/v1/services/${first.id}`), 204);
    const second = await created(editor.client, '/api/v1/services', { name, type: 'cache' });
    assert.notEqual(second.id, first.id);
    await refused(app.db.knex, admin.tenantId, ['services'], () => editor.client.post(`/api/v1/services/${first.id}/restore`), 409);
  });

  describe('service detail', () => {
    it('embeds components, resources, depends_on, dependents, repositories, products, assignments with person, incidents, scorecards', async () => {
      const team = await created(editor.client, '/api/v1/teams', { name: `detail-team-${uniq()}` });
      const person = await created(editor.client, '/api/v1/people', { name: 'Dana Owner', email: `dana-${uniq()}@example.com`, team_id: team.id });
      const component = await created(editor.client, '/api/v1/components', { name: `detail-comp-${uniq()}`, type: 'microservice' });
      const resource = await created(editor.client, '/api/v1/resources', { name: `detail-res-${uniq()}`, type: 'kubernetes', environment: 'production' });
      const repo = await created(editor.client, '/api/v1/repositories', { name: `detail-repo-${uniq()}`, provider: 'gitlab' });
      const upstream = await created(editor.client, '/api/v1/services', { name: `detail-up-${uniq()}`, type: 'database' });
      const svc = await created(editor.client, '/api/v1/services', {
        name: `detail-svc-${uniq()}`,
        type: 'api',
        team_id: team.id,
        tags: ['tier-1'],
        attributes: { endpoint: 'https://api.example.com', protocol: 'https' },
        component_ids: [component.id],
        resource_ids: [resource.id],
        depends_on_service_ids: [upstream.id],
        repository_ids: [repo.id],
        assignments: [{ person_id: person.id, role: 'owner' }],
      });
      const downstream = await created(editor.client, '/api/v1/services', {
        name: `detail-down-${uniq()}`,
        type: 'web_application',
        depends_on_service_ids: [svc.id],
      });
      const product = await created(editor.client, '/api/v1/products', { name: `detail-prod-${uniq()}`, service_ids: [svc.id] });
      const incident = await created(editor.client, '/api/v1/incidents', {
        title: 'Detail incident',
        severity: 'minor',
        affected: [{ entity_type: 'services', entity_id: svc.id }],
      });
      const card = await created(editor.client, '/api/v1/scorecards', {
        name: `detail-card-${uniq()}`,
        entity_types: ['services'],
        criteria: [{ name: 'has owner', check_type: 'has_assignment', check_config: { role: 'owner' } }],
      });

      const res = await viewer.client.get(`/api/v1/services/${svc.id}`);
      expectStatus(res, 200);
      const d = res.body.data;
      const ids = (list: { id: string }[]) => list.map((x) => x.id);
      assert.deepEqual(ids(d.components), [component.id]);
      assert.equal(d.components[0].name, component.name);
      assert.deepEqual(ids(d.resources), [resource.id]);
      assert.deepEqual(ids(d.depends_on), [upstream.id]);
      assert.deepEqual(ids(d.dependents), [downstream.id]);
      assert.deepEqual(ids(d.repositories), [repo.id]);
      assert.deepEqual(ids(d.products), [product.id]);
      assert.equal(d.team.id, team.id);
      assert.equal(d.assignments.length, 1);
      assert.equal(d.assignments[0].role, 'owner');
      assert.equal(d.assignments[0].person.id, person.id);
      assert.equal(d.assignments[0].person.name, 'Dana Owner');
      assert.deepEqual(
        d.incidents.map((i: { id: string }) => i.id),
        [incident.id],
      );
      assert.equal(d.operational_status, 'degraded');
      const score = d.scorecards.find((s: { scorecard_id: string }) => s.scorecard_id === card.id);
      assert.ok(score, 'the scorecard is embedded');
      assert.equal(score.score, 100);
      assert.deepEqual(d.attributes, { endpoint: 'https://api.example.com', protocol: 'https' });
      assert.deepEqual(d.tags, ['tier-1']);

      const teamDetail = await viewer.client.get(`/api/v1/teams/${team.id}`);
      expectStatus(teamDetail, 200);
      assert.ok(
        teamDetail.body.data.services.some((s: { id: string }) => s.id === svc.id),
        'team detail lists its services',
      );
      assert.ok(
        teamDetail.body.data.people.some((p: { id: string }) => p.id === person.id),
        'and its people',
      );
    });
  });

  describe('person detail', () => {
    it("lists the person's assignments to live records only, and no tenant_id anywhere", async () => {
      const person = await created(editor.client, '/api/v1/people', { name: 'Assigned Person', email: `ap-${uniq()}@example.com` });
      const kept = await created(editor.client, '/api/v1/services', {
        name: `kept-${uniq()}`,
        type: 'api',
        assignments: [{ person_id: person.id, role: 'owner' }],
      });
      const gone = await created(editor.client, '/api/v1/components', {
        name: `gone-${uniq()}`,
        type: 'library',
        assignments: [{ person_id: person.id, role: 'maintainer' }],
      });
      const before = await viewer.client.get(`/api/v1/people/${person.id}`);
      expectStatus(before, 200);
      assert.deepEqual(before.body.data.assignments.map((a: { entity_id: string }) => a.entity_id).sort(), [kept.id, gone.id].sort());

      expectStatus(await editor.client.delete(`/api/v1/components/${gone.id}`), 204);
      const after = await viewer.client.get(`/api/v1/people/${person.id}`);
      expectStatus(after, 200);
      assert.deepEqual(
        after.body.data.assignments.map((a: { entity_type: string; entity_id: string; role: string }) => [a.entity_type, a.entity_id, a.role]),
        [['services', kept.id, 'owner']],
        'the deleted component is not listed',
      );
      assert.ok(!JSON.stringify(after.body).includes('tenant_id'), 'no tenant_id in the response');
      assert.ok(!JSON.stringify(after.body).includes(admin.tenantId), "nor the tenant's id");

      // Restored, it is listed again: the assignment itself was kept.
      expectStatus(await editor.client.post(`/api/v1/components/${gone.id}/restore`, {}), 200);
      const restored = await viewer.client.get(`/api/v1/people/${person.id}`);
      assert.equal(restored.body.data.assignments.length, 2);
    });
  });

  describe('deleting a team', () => {
    it('is refused (409, naming what) while live records still name it, and allowed once they are reassigned or deleted', async () => {
      const team = await created(editor.client, '/api/v1/teams', { name: `owning-${uniq()}` });
      const other = await created(editor.client, '/api/v1/teams', { name: `taking-over-${uniq()}` });
      const svc = await created(editor.client, '/api/v1/services', { name: `owned-${uniq()}`, type: 'api', team_id: team.id });
      const member = await created(editor.client, '/api/v1/people', { name: 'Member', email: `m-${uniq()}@example.com`, team_id: team.id });
      const refusal = await refused(app.db.knex, admin.tenantId, ['teams', 'services', 'people'], () => editor.client.delete(`/api/v1/teams/${team.id}`), 409);
      assert.match(refusal.body.detail, /1 person, 1 service/);
      expectStatus(await editor.client.patch(`/api/v1/services/${svc.id}`, { team_id: other.id }), 200);
      expectStatus(await editor.client.delete(`/api/v1/people/${member.id}`), 204);
      expectStatus(await editor.client.delete(`/api/v1/teams/${team.id}`), 204);
      // Nothing names a deleted team: the service's team is the one that took it over.
      assert.equal((await viewer.client.get(`/api/v1/services/${svc.id}`)).body.data.team_id, other.id);
    });
  });

  describe('pagination, sorting and filters', () => {
    let pager: Tenant;
    const names: string[] = [];
    let teamA: Record<string, any>;

    before(async () => {
      pager = await signupTenant(app);
      teamA = await created(pager.client, '/api/v1/teams', { name: 'Team A' });
      // Names deliberately not in creation order, so name and created_at orders differ.
      for (let i = 0; i < 25; i++) {
        const n = (i * 7) % 25;
        const name = `svc-${String(n).padStart(2, '0')}`;
        names.push(name);
        await created(pager.client, '/api/v1/services', {
          name,
          type: i % 3 === 0 ? 'database' : 'api',
          status: i < 5 ? 'deprecated' : 'active',
          operational_status: i % 5 === 1 ? 'degraded' : 'operational',
          tags: i % 2 === 0 ? ['tier-1'] : ['tier-2'],
          description: i === 4 ? 'Handles the Billing of things' : null,
          ...(i < 8 ? { team_id: teamA.id } : {}),
        });
      }
      // Touch a few, so -updated_at differs from -created_at.
      const all = await walkPages(pager.client, '/api/v1/services?limit=200&sort=name');
      for (const name of ['svc-05', 'svc-17', 'svc-00']) {
        const row = all.items.find((r) => r.name === name);
        expectStatus(await pager.client.patch(`/api/v1/services/${row.id}`, { description: `touched ${name}` }), 200);
      }
    });

    const expectFullWalk = (items: { id: string }[], metas: { total: number; limit: number }[]) => {
      assert.equal(items.length, 25, 'no gaps');
      assert.equal(new Set(items.map((r) => r.id)).size, 25, 'no duplicates');
      assert.deepEqual(
        metas.map((m) => m.total),
        [25, 25, 25],
      );
      assert.deepEqual(
        metas.map((m) => m.limit),
        [10, 10, 10],
      );
    };

    it('walks sort=name in pages of 10 via next_cursor', async () => {
      const { items, metas } = await walkPages(pager.client, '/api/v1/services?limit=10&sort=name');
      expectFullWalk(items, metas);
      assert.deepEqual(
        items.map((r) => r.name),
        [...names].sort(),
      );
      assert.equal(metas[2].next_cursor, null);
    });

    it('counts meta.total on the first page only and carries it in the cursor (recounted for other filters)', async () => {
      for (let i = 0; i < 5; i++) {
        expectStatus(await pager.client.post('/api/v1/repositories', { name: `carried-${i}`, provider: i < 2 ? 'gitlab' : 'github' }), 201);
      }
      const url = '/api/v1/repositories?limit=2&sort=name&q=carried-';
      const first = await pager.client.get(url);
      expectStatus(first, 200);
      assert.equal(first.body.meta.total, 5);
      expectStatus(await pager.client.post('/api/v1/repositories', { name: 'carried-5', provider: 'github' }), 201);
      const counts: string[] = [];
      const onQuery = (q: { sql: string }) => {
        if (/\bcount\(/i.test(q.sql)) counts.push(q.sql);
      };
      app.db.knex.on('query', onQuery);
      let second;
      try {
        second = await pager.client.get(`${url}&cursor=${first.body.meta.next_cursor}`);
      } finally {
        app.db.knex.off('query', onQuery);
      }
      expectStatus(second, 200);
      assert.deepEqual(
        second.body.data.map((r: { name: string }) => r.name),
        ['carried-2', 'carried-3'],
      );
      assert.equal(second.body.meta.total, 5, 'the first page’s total, carried');
      assert.deepEqual(counts, [], 'a cursor page runs no count');
      assert.equal((await pager.client.get(url)).body.meta.total, 6, 'a first page counts again');
      const otherFilter = await pager.client.get(`${url}&provider=github&cursor=${first.body.meta.next_cursor}`);
      expectStatus(otherFilter, 200);
      assert.equal(otherFilter.body.meta.total, 4, 'a cursor used with other filters is recounted');
      const tampered = JSON.parse(Buffer.from(first.body.meta.next_cursor, 'base64url').toString('utf8'));
      for (const t of [-1, 1.5, 'many']) {
        const bad = Buffer.from(JSON.stringify({ ...tampered, t })).toString('base64url');
        assertProblem(await pager.client.get(`${url}&cursor=${bad}`), 400);
      }
    });

    it('walks sort=-name', async () => {
      const { items, metas } = await walkPages(pager.client, '/api/v1/services?limit=10&sort=-name');
      expectFullWalk(items, metas);
      assert.deepEqual(
        items.map((r) => r.name),
        [...names].sort().reverse(),
      );
    });

    it('walks sort=-created_at (newest first)', async () => {
      const { items, metas } = await walkPages(pager.client, '/api/v1/services?limit=10&sort=-created_at');
      expectFullWalk(items, metas);
      assert.deepEqual(
        items.map((r) => r.name),
        [...names].reverse(),
      );
    });

    it('walks sort=-updated_at (the default), touched ones first', async () => {
      for (const url of ['/api/v1/services?limit=10&sort=-updated_at', '/api/v1/services?limit=10']) {
        const { items, metas } = await walkPages(pager.client, url);
        expectFullWalk(items, metas);
        assert.deepEqual(
          items.slice(0, 3).map((r) => r.name),
          ['svc-00', 'svc-17', 'svc-05'],
        );
        for (let i = 1; i < items.length; i++) {
          assert.ok(Date.parse(items[i - 1].updated_at) >= Date.parse(items[i].updated_at), 'newest updated first');
        }
      }
    });

    it('filters by status, type, operational_status, team_id, tag, and combines them with paging', async () => {
      const check = async (query: string, expected: number, pred: (r: any) => boolean) => {
        const { items, metas } = await walkPages(pager.client, `/api/v1/services?limit=4&${query}`);
        assert.equal(items.length, expected, query);
        assert.equal(metas[0].total, expected, `${query}: meta.total`);
        assert.equal(new Set(items.map((r) => r.id)).size, expected, `${query}: no duplicates`);
        assert.ok(items.every(pred), `${query}: every row matches`);
      };
      await check('status=deprecated', 5, (r) => r.status === 'deprecated');
      await check('type=database', 9, (r) => r.type === 'database');
      await check('operational_status=degraded', 5, (r) => r.operational_status === 'degraded');
      await check(`team_id=${teamA.id}`, 8, (r) => r.team_id === teamA.id);
      await check('tag=tier-1', 13, (r) => r.tags.includes('tier-1'));
      await check('tag=tier-1&type=database&sort=name', 5, (r) => r.tags.includes('tier-1') && r.type === 'database');
      await check('tag=no-such-tag', 0, () => true);
    });

    it('searches name and description with q, case-insensitively', async () => {
      let res = await pager.client.get('/api/v1/services?q=SVC-1');
      expectStatus(res, 200);
      assert.deepEqual(res.body.data.map((r: { name: string }) => r.name).sort(), names.filter((n) => n.startsWith('svc-1')).sort());
      res = await pager.client.get('/api/v1/services?q=billing');
      assert.deepEqual(
        res.body.data.map((r: { name: string }) => r.name),
        [names[4]],
      );
      res = await pager.client.get(`/api/v1/services?q=${encodeURIComponent('%')}`);
      expectStatus(res, 200);
      assert.equal(res.body.data.length, 0, "'%' is matched literally, not as a wildcard");
    });

    it('filters resources by environment and repositories by provider', async () => {
      for (const [environment, n] of [
        ['production', 2],
        ['staging', 1],
      ] as const) {
        for (let i = 0; i < n; i++) await created(pager.client, '/api/v1/resources', { name: `res-${environment}-${i}`, type: 'cdn', environment });
      }
      for (const provider of ['github', 'github', 'bitbucket']) {
        await created(pager.client, '/api/v1/repositories', { name: `repo-${provider}-${uniq()}`, provider });
      }
      let res = await pager.client.get('/api/v1/resources?environment=production');
      assert.equal(res.body.meta.total, 2);
      assert.ok(res.body.data.every((r: { environment: string }) => r.environment === 'production'));
      res = await pager.client.get('/api/v1/repositories?provider=bitbucket');
      assert.equal(res.body.meta.total, 1);
      assert.equal(res.body.data[0].provider, 'bitbucket');
      res = await pager.client.get('/api/v1/resources?type=cdn&environment=staging');
      assert.equal(res.body.meta.total, 1);
    });

    it('refuses a cursor made for another sort, and a garbage cursor, with 400', async () => {
      const first = await pager.client.get('/api/v1/services?limit=10&sort=name');
      const cursor = first.body.meta.next_cursor as string;
      assert.ok(cursor);
      assertProblem(await pager.client.get(`/api/v1/services?limit=10&sort=-created_at&cursor=${encodeURIComponent(cursor)}`), 400);
      assertProblem(await pager.client.get('/api/v1/services?limit=10&cursor=not-a-cursor!!'), 400);
      assertProblem(await pager.client.get('/api/v1/services?cursor=eyJmb28iOiJiYXIifQ'), 400); // {"foo":"bar"}
    });

    it('refuses limit=0, limit=201, a bad sort and an unknown parameter with 422', async () => {
      assertProblem(await pager.client.get('/api/v1/services?limit=0'), 422, { path: 'query.limit' });
      assertProblem(await pager.client.get('/api/v1/services?limit=201'), 422, { path: 'query.limit' });
      assertProblem(await pager.client.get('/api/v1/services?limit=ten'), 422, { path: 'query.limit' });
      assertProblem(await pager.client.get('/api/v1/services?sort=password'), 422, { path: 'query.sort' });
      assertProblem(await pager.client.get('/api/v1/services?status=exploded'), 422, { path: 'query.status' });
      assertProblem(await pager.client.get('/api/v1/services?team=abc'), 422, { path: 'query.team' });
      assertProblem(await pager.client.get('/api/v1/services?team_id=not-a-uuid'), 422, { path: 'query.team_id' });
      const ok = await pager.client.get('/api/v1/services?limit=200');
      expectStatus(ok, 200);
    });
  });

  describe('references into another tenant', () => {
    let foreign: Record<string, Record<string, any>>;

    before(async () => {
      foreign = {
        team: await created(other.client, '/api/v1/teams', { name: `foreign-team-${uniq()}` }),
        person: await created(other.client, '/api/v1/people', { name: 'Foreign', email: `f-${uniq()}@example.com` }),
        service: await created(other.client, '/api/v1/services', { name: `foreign-svc-${uniq()}`, type: 'api' }),
        component: await created(other.client, '/api/v1/components', { name: `foreign-comp-${uniq()}`, type: 'sdk' }),
        resource: await created(other.client, '/api/v1/resources', { name: `foreign-res-${uniq()}`, type: 'cdn' }),
        repository: await created(other.client, '/api/v1/repositories', { name: `foreign-repo-${uniq()}`, provider: 'github' }),
      };
    });

    const cases: [string, string, (f: Record<string, Record<string, any>>) => Record<string, unknown>, string][] = [
      ['services', 'team_id', (f) => ({ team_id: f.team.id }), 'team_id'],
      ['services', 'component_ids', (f) => ({ component_ids: [f.component.id] }), 'component_ids'],
      ['services', 'resource_ids', (f) => ({ resource_ids: [f.resource.id] }), 'resource_ids'],
      ['services', 'depends_on_service_ids', (f) => ({ depends_on_service_ids: [f.service.id] }), 'depends_on_service_ids'],
      ['services', 'repository_ids', (f) => ({ repository_ids: [f.repository.id] }), 'repository_ids'],
      ['services', 'assignments', (f) => ({ assignments: [{ person_id: f.person.id, role: 'owner' }] }), 'assignments.0.person_id'],
      ['products', 'service_ids', (f) => ({ service_ids: [f.service.id] }), 'service_ids'],
      ['components', 'depends_on_service_ids', (f) => ({ depends_on_service_ids: [f.service.id] }), 'depends_on_service_ids'],
      ['people', 'team_id', (f) => ({ team_id: f.team.id }), 'team_id'],
    ];

    for (const [collection, field, refs, path] of cases) {
      it(`${collection}.${field}: 422 naming the field on create and on patch, nothing written`, async () => {
        const base = COLLECTIONS[collection].create();
        await refused(
          app.db.knex,
          admin.tenantId,
          [collection, 'entity_assignments', 'service_components', 'product_services'],
          () => editor.client.post(`/api/v1/${collection}`, { ...base, ...refs(foreign) }),
          422,
          { path },
        );
        const row = await created(editor.client, `/api/v1/${collection}`, base);
        await refused(
          app.db.knex,
          admin.tenantId,
          [collection, 'entity_assignments', 'service_components', 'product_services'],
          () => editor.client.patch(`/api/v1/${collection}/${row.id}`, refs(foreign)),
          422,
          { path },
        );
        const got = await editor.client.get(`/api/v1/${collection}/${row.id}`);
        assert.equal(got.body.data.row_version, 1);
      });
    }

    it('a mix of own and foreign ids names only the foreign index', async () => {
      const mine = await created(editor.client, '/api/v1/components', { name: `mine-${uniq()}`, type: 'sdk' });
      const res = await editor.client.post('/api/v1/services', {
        ...COLLECTIONS.services.create(),
        component_ids: [mine.id, foreign.component.id],
      });
      assertProblem(res, 422, { path: 'component_ids.1' });
      assert.ok(!res.body.errors.some((e: { path: string }) => e.path === 'component_ids.0'));
      const linked = await app.db.knex('service_components').where({ component_id: mine.id });
      assert.deepEqual(linked, [], 'no service was written with the own component');
    });
  });

  describe('GET /services/:id/impact', () => {
    it('walks a cyclic graph once per node at its smallest depth, across components and products', async () => {
      const t = await signupTenant(app);
      const a = await created(t.client, '/api/v1/services', { name: 'A', type: 'api' });
      const b = await created(t.client, '/api/v1/services', { name: 'B', type: 'api' });
      const c = await created(t.client, '/api/v1/services', { name: 'C', type: 'api' });
      // A depends on B, B on C, C on A: a cycle.
      expectStatus(await t.client.patch(`/api/v1/services/${a.id}`, { depends_on_service_ids: [b.id] }), 200);
      expectStatus(await t.client.patch(`/api/v1/services/${b.id}`, { depends_on_service_ids: [c.id] }), 200);
      expectStatus(await t.client.patch(`/api/v1/services/${c.id}`, { depends_on_service_ids: [a.id] }), 200);
      const x = await created(t.client, '/api/v1/components', { name: 'X', type: 'microservice', depends_on_service_ids: [b.id] });
      const p = await created(t.client, '/api/v1/products', { name: 'P', service_ids: [c.id] });

      const started = Date.now();
      const res = await t.client.get(`/api/v1/services/${a.id}/impact`);
      expectStatus(res, 200);
      assert.ok(Date.now() - started < 5000, 'terminates promptly');
      const { dependents, dependencies } = res.body.data;
      const view = (list: { entity_type: string; entity_id: string; depth: number }[]) => list.map((n) => `${n.entity_type}:${n.entity_id}@${n.depth}`).sort();
      const keyOf = (list: { entity_type: string; entity_id: string }[]) => list.map((n) => `${n.entity_type}:${n.entity_id}`);
      assert.equal(new Set(keyOf(dependents)).size, dependents.length, 'each dependent once');
      assert.equal(new Set(keyOf(dependencies)).size, dependencies.length, 'each dependency once');
      assert.ok(!dependents.some((n: { entity_id: string }) => n.entity_id === a.id), 'the root is not its own dependent (depth 0 is smallest)');
      assert.ok(!dependencies.some((n: { entity_id: string }) => n.entity_id === a.id), 'the root is not its own dependency');
      // Who is hit when A fails: C (depends on A), B (on C), P (contains C), X (on B).
      assert.deepEqual(view(dependents), [`components:${x.id}@3`, `products:${p.id}@2`, `services:${b.id}@2`, `services:${c.id}@1`].sort());
      // What A needs: B, then C (then A itself, which is the root, not an impact of itself).
      assert.deepEqual(view(dependencies), [`services:${b.id}@1`, `services:${c.id}@2`].sort());
      assert.equal(res.body.data.service.id, a.id);
    });
  });
});
