// Black-box HTTP: scorecards computed on read, and dashboards with their widgets and filters.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, assertProblem, created, expectStatus, refused, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP scorecards and dashboards', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let editor: Member;
  let viewer: Member;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
  });
  after(async () => {
    await app?.close();
  });

  describe('scorecards', () => {
    let card: Record<string, any>;
    let good: Record<string, any>;
    let half: Record<string, any>;
    let bare: Record<string, any>;

    before(async () => {
      const team = await created(editor.client, '/api/v1/teams', { name: `sc-team-${uniq()}` });
      const owner = await created(editor.client, '/api/v1/people', { name: 'Owner', email: `owner-${uniq()}@example.com` });
      good = await created(editor.client, '/api/v1/services', {
        name: 'sc-good',
        type: 'api',
        team_id: team.id,
        tags: ['tier-1'],
        attributes: { endpoint: 'https://x.example' },
        assignments: [{ person_id: owner.id, role: 'owner' }],
      });
      half = await created(editor.client, '/api/v1/services', { name: 'sc-half', type: 'api', team_id: team.id });
      bare = await created(editor.client, '/api/v1/services', { name: 'sc-bare', type: 'cache' });
      const res = await editor.client.post('/api/v1/scorecards', {
        name: `Production readiness ${uniq()}`,
        entity_types: ['services'],
        criteria: [
          { name: 'has owner', check_type: 'has_assignment', check_config: { role: 'owner' } },
          { name: 'has team', check_type: 'has_field', check_config: { field: 'team_id' }, weight: 2 },
          { name: 'tier tagged', check_type: 'has_tag', check_config: { tag: 'tier-1' } },
        ],
      });
      expectStatus(res, 201);
      assert.equal(res.headers.get('location'), `/api/v1/scorecards/${res.body.data.id}`);
      assert.equal(res.headers.get('etag'), '"1"');
      card = res.body.data;
      assert.equal(card.criteria.length, 3);
    });

    it('GET /scorecards/:id/results scores every entity of its types', async () => {
      const res = await viewer.client.get(`/api/v1/scorecards/${card.id}/results`);
      expectStatus(res, 200);
      const byId = new Map(res.body.data.map((r: { entity_id: string }) => [r.entity_id, r]));
      const names = (list: { name: string }[]) => list.map((c) => c.name).sort();
      const g = byId.get(good.id) as any;
      assert.equal(g.entity_type, 'services');
      assert.equal(g.name, 'sc-good');
      assert.equal(g.score, 100);
      assert.deepEqual(names(g.passed), ['has owner', 'has team', 'tier tagged']);
      assert.deepEqual(g.failed, []);
      const h = byId.get(half.id) as any;
      assert.equal(h.score, 50, 'team (weight 2) of 4');
      assert.deepEqual(names(h.failed), ['has owner', 'tier tagged']);
      const b = byId.get(bare.id) as any;
      assert.equal(b.score, 0);
      assert.equal(b.passed.length, 0);
    });

    it('embeds the scores in the service detail, computed on read', async () => {
      let res = await viewer.client.get(`/api/v1/services/${half.id}`);
      let score = res.body.data.scorecards.find((s: { scorecard_id: string }) => s.scorecard_id === card.id);
      assert.equal(score.score, 50);
      expectStatus(await editor.client.patch(`/api/v1/services/${half.id}`, { tags: ['tier-1'] }), 200);
      res = await viewer.client.get(`/api/v1/services/${half.id}`);
      score = res.body.data.scorecards.find((s: { scorecard_id: string }) => s.scorecard_id === card.id);
      assert.equal(score.score, 75, 'the new tag counts at once');
    });

    it("takes the data model's example configs ({field: teamId}, {value: Lead}, {min: 2}), stored as the API spells them, and scores with them", async () => {
      const res = await editor.client.post('/api/v1/scorecards', {
        name: `Data model examples ${uniq()}`,
        entity_types: ['services'],
        criteria: [
          { name: 'team', check_type: 'has_field', check_config: { field: 'teamId' } },
          { name: 'owner', check_type: 'has_assignment', check_config: { value: 'owner' } },
          { name: 'two people', check_type: 'min_assignments', check_config: { min: 2 } },
          { name: 'endpoint', check_type: 'has_field', check_config: { field: 'attributes.endpoint' } },
        ],
      });
      expectStatus(res, 201);
      const configs = res.body.data.criteria.map((c: { name: string; check_config: unknown }) => [c.name, c.check_config]);
      assert.deepEqual(configs.sort(), [
        ['endpoint', { field: 'attributes.endpoint' }],
        ['owner', { role: 'owner' }],
        ['team', { field: 'team_id' }],
        ['two people', { min: 2 }],
      ]);
      const results = await viewer.client.get(`/api/v1/scorecards/${res.body.data.id}/results`);
      const g = results.body.data.find((r: { entity_id: string }) => r.entity_id === good.id);
      assert.deepEqual(g.passed.map((c: { name: string }) => c.name).sort(), ['endpoint', 'owner', 'team']);
      assert.deepEqual(
        g.failed.map((c: { name: string }) => c.name),
        ['two people'],
      );
      // role and value naming different roles is a contradiction, refused at value.
      const both = await editor.client.post('/api/v1/scorecards', {
        name: `Both ${uniq()}`,
        entity_types: ['services'],
        criteria: [{ name: 'x', check_type: 'has_assignment', check_config: { role: 'owner', value: 'Lead' } }],
      });
      assertProblem(both, 422, { path: 'criteria.0.check_config.value' });
    });

    it('refuses a bad check_config with 422 at the key, writing nothing', async () => {
      const tables = ['scorecards', 'scorecard_criteria'];
      const body = (criterion: Record<string, unknown>) => ({ name: `bad-${uniq()}`, entity_types: ['services'], criteria: [criterion] });
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post('/api/v1/scorecards', body({ name: 'typo', check_type: 'has_field', check_config: { feild: 'team_id' } })),
        422,
        { path: 'criteria.0.check_config' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post('/api/v1/scorecards', body({ name: 'no such field', check_type: 'has_field', check_config: { field: 'nonsense' } })),
        422,
        { path: 'criteria.0.check_config.field' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post('/api/v1/scorecards', body({ name: 'min', check_type: 'min_assignments', check_config: { min: 0 } })),
        422,
        { path: 'criteria.0.check_config.min' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post('/api/v1/scorecards', body({ name: 'what', check_type: 'is_awesome', check_config: {} })),
        422,
        { path: 'criteria.0' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.patch(`/api/v1/scorecards/${card.id}`, { criteria: [{ name: 'x', check_type: 'has_tag', check_config: { tag: '' } }] }),
        422,
        { path: 'criteria.0.check_config.tag' },
      );
      const got = await viewer.client.get(`/api/v1/scorecards/${card.id}`);
      assert.equal(got.body.data.criteria.length, 3);
    });

    it('refuses a viewer writing scorecards (403)', async () => {
      await refused(
        app.db.knex,
        admin.tenantId,
        ['scorecards'],
        () => viewer.client.post('/api/v1/scorecards', { name: `v-${uniq()}`, entity_types: ['services'] }),
        403,
      );
      await refused(app.db.knex, admin.tenantId, ['scorecards'], () => viewer.client.patch(`/api/v1/scorecards/${card.id}`, { name: 'renamed' }), 403);
    });
    describe('levels and paginated results', () => {
      const levels = [
        { name: 'bronze', min_score: 50 },
        { name: 'silver', min_score: 75 },
        { name: 'gold', min_score: 90 },
      ];

      it('refuses levels out of order, with duplicate names or too many (422 at the level)', async () => {
        const base = { name: `lv-${uniq()}`, entity_types: ['services'] };
        const paths = async (body: object) => {
          const res = await editor.client.post('/api/v1/scorecards', body);
          expectStatus(res, 422);
          return res.body.errors.map((e: { path: string }) => e.path);
        };
        assert.deepEqual(await paths({ ...base, levels: [levels[1], levels[0]] }), ['levels.1.min_score']);
        assert.deepEqual(await paths({ ...base, levels: [levels[0], { name: 'Bronze', min_score: 60 }] }), ['levels.1.name']);
        const many = Array.from({ length: 11 }, (_, i) => ({ name: `l${i}`, min_score: i * 5 }));
        assert.deepEqual(await paths({ ...base, levels: many }), ['levels']);
        const patch = await editor.client.patch(`/api/v1/scorecards/${card.id}`, { levels: [levels[2], levels[2]] });
        expectStatus(patch, 422);
      });

      it('stores levels and gives each result its level (null below the lowest), pages with cursor and limit', async () => {
        const res = await editor.client.patch(`/api/v1/scorecards/${card.id}`, { levels });
        expectStatus(res, 200);
        assert.deepEqual(res.body.data.levels, levels);
        const all = await viewer.client.get(`/api/v1/scorecards/${card.id}/results`);
        expectStatus(all, 200);
        const levelOf = new Map(all.body.data.map((r: { entity_id: string; level: string | null }) => [r.entity_id, r.level]));
        assert.equal(levelOf.get(good.id), 'gold');
        for (const r of all.body.data as { score: number; level: string | null }[]) {
          const expected = levels.filter((l) => r.score >= l.min_score).pop()?.name ?? null;
          assert.equal(r.level, expected, `score ${r.score}`);
        }
        assert.equal(levelOf.get(bare.id), null);
        assert.equal(all.body.meta.has_more, false);
        assert.equal(all.body.meta.next_cursor, null);

        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const q: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
          const page = await viewer.client.get(`/api/v1/scorecards/${card.id}/results${q}`);
          expectStatus(page, 200);
          assert.ok(page.body.data.length <= 2);
          assert.equal(page.body.meta.limit, 2);
          assert.equal(page.body.meta.has_more, page.body.meta.next_cursor !== null);
          seen.push(...page.body.data.map((r: { entity_id: string }) => r.entity_id));
          cursor = page.body.meta.next_cursor;
        } while (cursor);
        assert.deepEqual(
          seen,
          all.body.data.map((r: { entity_id: string }) => r.entity_id),
          'the pages walk the whole list once, in order',
        );
        assert.ok(seen.length >= 3);

        const bad = await viewer.client.get(`/api/v1/scorecards/${card.id}/results?cursor=nonsense`);
        expectStatus(bad, 400);
        expectStatus(await viewer.client.get(`/api/v1/scorecards/${card.id}/results?limit=0`), 422);
      });

      it("another tenant's scorecard results are a 404", async () => {
        expectStatus(await other.client.get(`/api/v1/scorecards/${card.id}/results?limit=1`), 404);
      });
    });
  });

  describe('dashboards', () => {
    let svc: Record<string, any>;
    let foreign: Record<string, any>;

    before(async () => {
      svc = await created(editor.client, '/api/v1/services', { name: `dash-svc-${uniq()}`, type: 'api' });
      foreign = await created(other.client, '/api/v1/services', { name: `foreign-${uniq()}`, type: 'api' });
    });

    it('creates with widgets and filters, then adds, patches and deletes a widget', async () => {
      const res = await editor.client.post('/api/v1/dashboards', {
        name: `Ops ${uniq()}`,
        description: 'On-call board',
        widgets: [
          {
            title: 'Checkout status',
            widget_type: 'status_board',
            source_entity_type: 'services',
            source_entity_id: svc.id,
            layout: { x: 0, y: 0, w: 6, h: 4 },
          },
          { title: 'Open incidents', widget_type: 'counter', config: { query: { status: 'investigating' } } },
        ],
        filters: [
          { filter_type: 'status', target_column: 'status' },
          { filter_type: 'team', target_column: 'team_id' },
        ],
      });
      expectStatus(res, 201);
      const dash = res.body.data;
      assert.equal(res.headers.get('location'), `/api/v1/dashboards/${dash.id}`);
      assert.equal(res.headers.get('etag'), '"1"');
      assert.equal(dash.widgets.length, 2);
      assert.deepEqual(dash.widgets.find((w: { title: string }) => w.title === 'Checkout status').layout, { x: 0, y: 0, w: 6, h: 4 });
      assert.deepEqual(
        dash.filters.map((f: { filter_type: string }) => f.filter_type),
        ['status', 'team'],
      );

      const add = await editor.client.post(`/api/v1/dashboards/${dash.id}/widgets`, {
        title: 'Scores',
        widget_type: 'scorecard',
        layout: { x: 6, y: 0, w: 6, h: 4 },
      });
      expectStatus(add, 201);
      const widget = add.body.data;
      assert.equal(widget.dashboard_id, dash.id);

      const patch = await editor.client.patch(`/api/v1/dashboards/${dash.id}/widgets/${widget.id}`, {
        title: 'Scorecards',
        layout: { x: 0, y: 4, w: 12, h: 4 },
      });
      expectStatus(patch, 200);
      assert.equal(patch.body.data.title, 'Scorecards');

      let got = await viewer.client.get(`/api/v1/dashboards/${dash.id}`);
      expectStatus(got, 200);
      assert.equal(got.body.data.widgets.length, 3);
      assert.equal(got.body.data.widgets.find((w: { id: string }) => w.id === widget.id).title, 'Scorecards');
      assert.equal(got.headers.get('etag'), '"3"', 'each widget write bumps the dashboard');

      expectStatus(await editor.client.delete(`/api/v1/dashboards/${dash.id}/widgets/${widget.id}`), 204);
      got = await viewer.client.get(`/api/v1/dashboards/${dash.id}`);
      assert.equal(got.body.data.widgets.length, 2);
      assert.ok(!got.body.data.widgets.some((w: { id: string }) => w.id === widget.id));
      await refused(
        app.db.knex,
        admin.tenantId,
        ['widgets', 'dashboards'],
        () => editor.client.patch(`/api/v1/dashboards/${dash.id}/widgets/${widget.id}`, { title: 'gone' }),
        404,
      );
      const unchanged = await viewer.client.get(`/api/v1/dashboards/${dash.id}`);
      assert.equal(unchanged.headers.get('etag'), got.headers.get('etag'), 'a 404 on a widget leaves the dashboard version');

      const list = await viewer.client.get('/api/v1/dashboards');
      expectStatus(list, 200);
      assert.ok(list.body.data.some((d: { id: string }) => d.id === dash.id));
    });

    it("refuses a widget pointing at another tenant's service (422), writing nothing", async () => {
      const tables = ['dashboards', 'widgets', 'dashboard_filters'];
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () =>
          editor.client.post('/api/v1/dashboards', {
            name: `Leaky ${uniq()}`,
            widgets: [
              { title: 'ok', widget_type: 'counter' },
              { title: 'foreign', widget_type: 'status_board', source_entity_type: 'services', source_entity_id: foreign.id },
            ],
          }),
        422,
        { path: 'widgets.1.source_entity_id' },
      );

      const dash = await created(editor.client, '/api/v1/dashboards', { name: `Tight ${uniq()}`, widgets: [{ title: 'w', widget_type: 'list' }] });
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () =>
          editor.client.post(`/api/v1/dashboards/${dash.id}/widgets`, {
            title: 'foreign',
            widget_type: 'status_board',
            source_entity_type: 'services',
            source_entity_id: foreign.id,
          }),
        422,
        { path: 'source_entity_id' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () =>
          editor.client.patch(`/api/v1/dashboards/${dash.id}/widgets/${dash.widgets[0].id}`, {
            source_entity_type: 'services',
            source_entity_id: foreign.id,
          }),
        422,
        { path: 'source_entity_id' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () =>
          editor.client.patch(`/api/v1/dashboards/${dash.id}`, {
            widgets: [{ title: 'foreign', widget_type: 'status_board', source_entity_type: 'services', source_entity_id: foreign.id }],
          }),
        422,
        { path: 'widgets.0.source_entity_id' },
      );
      const got = await editor.client.get(`/api/v1/dashboards/${dash.id}`);
      assert.equal(got.body.data.row_version, 1);
      assert.equal(got.body.data.widgets.length, 1);
      assert.equal(got.body.data.widgets[0].source_entity_id, null);
    });

    it('refuses bad widget shapes with 422 at the field', async () => {
      const dash = await created(editor.client, '/api/v1/dashboards', { name: `Shapes ${uniq()}` });
      const tables = ['dashboards', 'widgets'];
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'w', widget_type: 'pie_of_doom' }),
        422,
        { path: 'widget_type' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'w', widget_type: 'list', layout: { x: 0, y: 0, w: 99, h: 1 } }),
        422,
        { path: 'layout.w' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => editor.client.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'w', widget_type: 'list', source_entity_type: 'services' }),
        422,
        { path: 'source_entity_id' },
      );
    });

    it('refuses a viewer writing dashboards (403)', async () => {
      const dash = await created(editor.client, '/api/v1/dashboards', { name: `Viewer ${uniq()}` });
      const tables = ['dashboards', 'widgets'];
      await refused(app.db.knex, admin.tenantId, tables, () => viewer.client.post('/api/v1/dashboards', { name: `v-${uniq()}` }), 403);
      await refused(
        app.db.knex,
        admin.tenantId,
        tables,
        () => viewer.client.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'w', widget_type: 'list' }),
        403,
      );
    });
  });
});
