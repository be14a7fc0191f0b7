// Black-box HTTP: the cross-kind search (GET /search) and the facet counts (GET /<kind>/facets):
// ranking (exact > prefix > similar), every kind in one answer, tenancy, soft deletes, bounds.
import assert from 'node:assert/strict';
import { addMember, assertProblem, created, expectStatus, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import { isPrincipalRead, counted } from './support/sql.js';
import type { TestApp } from './support/server.js';

const MATCH_ORDER = ['exact', 'prefix', 'similar'];

interface Hit {
  type: string;
  id: string;
  name: string;
  match: string;
  score: number;
  team_id: string | null;
  summary: Record<string, string>;
}

/** Hits come tier by tier, and within a tier the most similar first. */
function assertRanked(hits: Hit[]): void {
  for (let i = 1; i < hits.length; i++) {
    const [a, b] = [hits[i - 1]!, hits[i]!];
    const [ta, tb] = [MATCH_ORDER.indexOf(a.match), MATCH_ORDER.indexOf(b.match)];
    assert.ok(ta <= tb, `${a.name} (${a.match}) before ${b.name} (${b.match})`);
    if (ta === tb) assert.ok(a.score >= b.score, `${a.name} (${a.score}) before ${b.name} (${b.score})`);
  }
}

describe('HTTP search and facets', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let viewer: Member;
  const ids: Record<string, string> = {};
  let otherIds: string[];

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    viewer = await addMember(app, admin, 'viewer');
    const c = admin.client;
    ids.team = (await created(c, '/api/v1/teams', { name: 'Payments' })).id;
    ids.exact = (await created(c, '/api/v1/services', { name: 'payments', type: 'api', team_id: ids.team, status: 'deprecated' })).id;
    ids.prefix = (await created(c, '/api/v1/services', { name: 'payments-api', type: 'api', status: 'active' })).id;
    ids.contains = (await created(c, '/api/v1/services', { name: 'checkout-payments', type: 'web_application', status: 'active' })).id;
    ids.unrelated = (await created(c, '/api/v1/services', { name: 'inventory-sync', type: 'cache', status: 'active' })).id;
    ids.person = (await created(c, '/api/v1/people', { name: 'Payments Bot', email: 'bot@example.com' })).id;
    ids.repository = (await created(c, '/api/v1/repositories', { name: 'payments-monorepo', provider: 'github' })).id;
    ids.incident = (await created(c, '/api/v1/incidents', { title: 'Payments outage', severity: 'major' })).id;
    ids.deleted = (await created(c, '/api/v1/services', { name: 'payments-legacy', type: 'api', status: 'active' })).id;
    expectStatus(await c.delete(`/api/v1/services/${ids.deleted}`), 204);
    otherIds = [
      (await created(other.client, '/api/v1/services', { name: 'payments', type: 'api', status: 'active' })).id,
      (await created(other.client, '/api/v1/teams', { name: 'payments-team' })).id,
    ];
  });
  after(async () => {
    await app?.close();
  });

  describe('GET /search', () => {
    it('ranks exact names first (case-insensitive, every kind), then prefixes, then names containing q', async () => {
      const res = await viewer.client.get('/api/v1/search?q=payments');
      expectStatus(res, 200);
      const hits = res.body.data as Hit[];
      assertRanked(hits);
      const byId = new Map(hits.map((h) => [h.id, h]));
      assert.deepEqual(
        hits
          .filter((h) => h.match === 'exact')
          .map((h) => `${h.type}:${h.name}`)
          .sort(),
        ['services:payments', 'teams:Payments'],
        'both exact names, whatever their case',
      );
      assert.deepEqual(
        hits
          .filter((h) => h.match === 'prefix')
          .map((h) => `${h.type}:${h.name}`)
          .sort(),
        ['incidents:Payments outage', 'people:Payments Bot', 'repositories:payments-monorepo', 'services:payments-api'],
      );
      assert.equal(byId.get(ids.contains)?.match, 'similar');
      assert.equal(byId.has(ids.unrelated), false, 'a name without q is not a hit');
      assert.equal(hits.length, 7);
      const service = byId.get(ids.exact)!;
      assert.equal(service.score, 1);
      assert.equal(service.team_id, ids.team);
      assert.deepEqual(service.summary, { type: 'api', status: 'deprecated', operational_status: 'operational' });
      assert.deepEqual(byId.get(ids.person)!.summary, { email: 'bot@example.com' });
      assert.deepEqual(byId.get(ids.incident)!.summary, { status: 'investigating', severity: 'major', impact_type: 'degraded' });
    });

    it('finds a misspelt name by trigram similarity', async () => {
      const res = await viewer.client.get('/api/v1/search?q=paymnts');
      expectStatus(res, 200);
      const hits = res.body.data as Hit[];
      assertRanked(hits);
      const exact = hits.find((h) => h.id === ids.exact);
      assert.equal(exact?.match, 'similar');
      assert.ok(exact.score > 0.3 && exact.score < 1, `score ${exact.score}`);
      assert.ok(!hits.some((h) => h.id === ids.unrelated));
    });

    it('never shows another tenant’s records or deleted ones', async () => {
      for (const q of ['payments', 'payments-legacy', 'payments-team']) {
        const hits = (await admin.client.get(`/api/v1/search?q=${q}`)).body.data as Hit[];
        assert.ok(!hits.some((h) => otherIds.includes(h.id)), `q=${q}: another tenant's record`);
        assert.ok(!hits.some((h) => h.id === ids.deleted), `q=${q}: a deleted record`);
      }
      const theirs = (await other.client.get('/api/v1/search?q=payments')).body.data as Hit[];
      assert.deepEqual(theirs.map((h) => h.id).sort(), [...otherIds].sort());
    });

    it('searches only the kinds named in types', async () => {
      const res = await viewer.client.get('/api/v1/search?q=payments&types=teams,incidents');
      expectStatus(res, 200);
      assert.deepEqual(
        (res.body.data as Hit[]).map((h) => h.id),
        [ids.team, ids.incident],
      );
    });

    it('pages with next_cursor through the same hits in the same order, each once', async () => {
      const whole = (await viewer.client.get('/api/v1/search?q=payments&limit=50')).body;
      assert.equal(whole.meta.next_cursor, null);
      const walked: Hit[] = [];
      let url = '/api/v1/search?q=payments&limit=2';
      for (;;) {
        const res = await viewer.client.get(url);
        expectStatus(res, 200);
        assert.ok(res.body.data.length <= 2);
        walked.push(...res.body.data);
        if (!res.body.meta.next_cursor) break;
        url = `/api/v1/search?q=payments&limit=2&cursor=${encodeURIComponent(res.body.meta.next_cursor)}`;
      }
      assert.deepEqual(
        walked.map((h) => h.id),
        (whole.data as Hit[]).map((h) => h.id),
      );
    });

    it('refuses a cursor made for another search (400)', async () => {
      const first = (await viewer.client.get('/api/v1/search?q=payments&limit=1')).body;
      assertProblem(await viewer.client.get(`/api/v1/search?q=checkout&limit=1&cursor=${first.meta.next_cursor}`), 400);
      assertProblem(await viewer.client.get(`/api/v1/search?q=payments&types=teams&limit=1&cursor=${first.meta.next_cursor}`), 400);
      assertProblem(await viewer.client.get('/api/v1/search?q=payments&cursor=not-a-cursor'), 400);
    });

    it('answers in one SQL statement', async () => {
      const { result, statements } = await counted(app.db.knex, () => viewer.client.get('/api/v1/search?q=payments'));
      expectStatus(result, 200);
      const own = statements.filter((s) => !isPrincipalRead(s));
      assert.equal(own.length, 1, own.join('\n'));
      assert.match(own[0]!, /union all/i);
    });

    it('refuses what is out of bounds with a 422 naming the parameter', async () => {
      const cases: [string, string][] = [
        [`q=${'a'.repeat(256)}`, 'query.q'],
        ['q=', 'query.q'],
        ['limit=5', 'query.q'],
        ['q=pay&limit=51', 'query.limit'],
        ['q=pay&limit=0', 'query.limit'],
        ['q=pay&types=services,users', 'query.types'],
        ['q=pay&sort=name', 'query'],
      ];
      for (const [query, path] of cases) assertProblem(await viewer.client.get(`/api/v1/search?${query}`), 422, { path });
      expectStatus(await viewer.client.get(`/api/v1/search?q=${'a'.repeat(255)}`), 200);
    });

    it('takes LIKE wildcards in q literally', async () => {
      const res = await viewer.client.get(`/api/v1/search?q=${encodeURIComponent('pay%_')}`);
      expectStatus(res, 200);
      const hits = res.body.data as Hit[];
      // pg_trgm reads the word "pay" in it, so the names with that word are similar, none a prefix.
      assert.ok(hits.some((h) => h.id === ids.prefix));
      assert.ok(!hits.some((h) => h.match !== 'similar'), JSON.stringify(hits));
    });
  });

  describe('GET /<kind>/facets', () => {
    it('counts the live records of the tenant by an enum field, every value listed', async () => {
      const res = await viewer.client.get('/api/v1/services/facets?field=status');
      expectStatus(res, 200);
      // payments (deprecated), payments-api, checkout-payments, inventory-sync (active); payments-legacy is deleted.
      assert.deepEqual(res.body.data, {
        field: 'status',
        total: 4,
        counts: [
          { value: 'active', count: 3 },
          { value: 'planned', count: 0 },
          { value: 'maintenance', count: 0 },
          { value: 'deprecated', count: 1 },
        ],
      });
      const theirs = (await other.client.get('/api/v1/services/facets?field=status')).body.data;
      assert.equal(theirs.total, 1);
    });

    it('narrows the counted rows with the list filters', async () => {
      const byType = (await viewer.client.get('/api/v1/services/facets?field=type&status=active')).body.data;
      assert.equal(byType.total, 3);
      const counts = Object.fromEntries(byType.counts.map((c: { value: string; count: number }) => [c.value, c.count]));
      assert.deepEqual([counts.api, counts.web_application, counts.cache, counts.database], [1, 1, 1, 0]);
      const searched = (await viewer.client.get('/api/v1/services/facets?field=status&q=payments')).body.data;
      assert.equal(searched.total, 3);
      const ofTeam = (await viewer.client.get(`/api/v1/services/facets?field=status&team_id=${ids.team}`)).body.data;
      assert.deepEqual([ofTeam.total, ofTeam.counts.find((c: { value: string }) => c.value === 'deprecated').count], [1, 1]);
      const repos = (await viewer.client.get('/api/v1/repositories/facets?field=provider')).body.data;
      assert.equal(repos.counts.find((c: { value: string }) => c.value === 'github').count, 1);
    });

    it('refuses a field that is not one of the kind’s enum fields (422), and is not taken for an id', async () => {
      assertProblem(await viewer.client.get('/api/v1/services/facets?field=name'), 422, { path: 'query.field' });
      assertProblem(await viewer.client.get('/api/v1/services/facets?field=environment'), 422, { path: 'query.field' });
      assertProblem(await viewer.client.get('/api/v1/services/facets'), 422, { path: 'query.field' });
      assertProblem(await viewer.client.get('/api/v1/services/facets?field=status&limit=5'), 422, { path: 'query' });
      expectStatus(await viewer.client.get('/api/v1/resources/facets?field=environment'), 200);
    });
  });
});
