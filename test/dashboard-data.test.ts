// Black-box HTTP: GET /dashboards/:id/data computes each widget type from its source and the
// dashboard's filters (team, severity applied where the kind has the column, ignored elsewhere),
// for any member of the tenant only; a gone source is `data: null` with a reason; the read costs
// a bounded number of statements. Also the pure widgetInputTypes and the system-context call.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { systemContext } from '../src/platform/context.js';
import { widgetInputTypes } from '../src/modules/dashboards/data.js';
import { addMember, created, expectStatus, assertProblem, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';
import { counted, followerCaughtUp, isPrincipalRead } from './support/sql.js';

const uniq = () => randomUUID().slice(0, 8);
const at = (y: number) => ({ x: 0, y, w: 4, h: 1 });

describe('HTTP dashboard data', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let editor: Member;
  let viewer: Member;
  const rec: Record<string, Record<string, any>> = {};
  let dashboard: Record<string, any>;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    const c = editor.client;
    rec.t1 = await created(c, '/api/v1/teams', { name: `dd-team1-${uniq()}` });
    rec.t2 = await created(c, '/api/v1/teams', { name: `dd-team2-${uniq()}` });
    rec.s1 = await created(c, '/api/v1/services', { name: 'dd-s1', type: 'api', team_id: rec.t1.id, status: 'active', tags: ['tier-1'] });
    rec.s2 = await created(c, '/api/v1/services', { name: 'dd-s2', type: 'api', team_id: rec.t2.id, status: 'deprecated' });
    rec.s3 = await created(c, '/api/v1/services', { name: 'dd-s3', type: 'cache', team_id: rec.t1.id, status: 'active' });
    rec.s4 = await created(c, '/api/v1/services', { name: 'dd-s4', type: 'database', status: 'planned' });
    rec.i1 = await created(c, '/api/v1/incidents', { title: 'dd database down', severity: 'critical' });
    rec.i2 = await created(c, '/api/v1/incidents', { title: 'dd slow page', severity: 'minor' });
    expectStatus(await c.post(`/api/v1/incidents/${rec.i1.id}/updates`, { status: 'identified', message: 'found it' }), 201);
    rec.card = await created(c, '/api/v1/scorecards', {
      name: `dd readiness ${uniq()}`,
      entity_types: ['services'],
      levels: [
        { name: 'bronze', min_score: 50 },
        { name: 'gold', min_score: 100 },
      ],
      criteria: [
        { name: 'has team', check_type: 'has_field', check_config: { field: 'team_id' } },
        { name: 'tier tagged', check_type: 'has_tag', check_config: { tag: 'tier-1' } },
      ],
    });
    dashboard = await created(c, '/api/v1/dashboards', {
      name: `dd-${uniq()}`,
      filters: [
        { filter_type: 'team', target_column: 'team_id', config: { value: rec.t1.id } },
        { filter_type: 'severity', target_column: 'severity', config: { value: 'critical' } },
        // Only resources have an environment: ignored by every widget below.
        { filter_type: 'environment', target_column: 'environment', config: { default: 'production' } },
      ],
      widgets: [
        { title: 'services', widget_type: 'counter', config: { entity_type: 'services' }, layout: at(0) },
        { title: 'incidents', widget_type: 'list', config: { entity_type: 'incidents' }, layout: at(1) },
        { title: 'status', widget_type: 'status_board', config: { entity_type: 'services' }, layout: at(2) },
        { title: 'by type', widget_type: 'chart', config: { entity_type: 'services', field: 'type' }, layout: at(3) },
        { title: 'latest', widget_type: 'timeline', config: { entity_type: 'incidents', limit: 5 }, layout: at(4) },
        { title: 'slow page', widget_type: 'timeline', source_entity_type: 'incidents', source_entity_id: rec.i2.id, layout: at(5) },
        { title: 'readiness', widget_type: 'scorecard', source_entity_type: 'scorecards', source_entity_id: rec.card.id, layout: at(6) },
        { title: 'one service', widget_type: 'counter', source_entity_type: 'services', source_entity_id: rec.s2.id, layout: at(7) },
        { title: 'last by name', widget_type: 'list', config: { entity_type: 'services', limit: 1, sort: '-name' }, layout: at(8) },
        { title: 'no field', widget_type: 'chart', config: { entity_type: 'incidents' }, layout: at(9) },
      ],
    });
  });
  after(async () => {
    await app?.close();
  });

  const byTitle = (body: any) => new Map<string, any>(body.data.widgets.map((w: any) => [w.title, w]));

  it('computes each widget type, with the filters applied where the kind has the column', async () => {
    const res = await viewer.client.get(`/api/v1/dashboards/${dashboard.id}/data`);
    expectStatus(res, 200);
    assert.equal(res.body.data.dashboard_id, dashboard.id);
    assert.equal(res.body.data.row_version, dashboard.row_version);
    assert.ok(!Number.isNaN(Date.parse(res.body.data.computed_at)));
    assert.deepEqual(
      res.body.data.widgets.map((w: any) => w.title),
      dashboard.widgets.map((w: any) => w.title),
      "in the dashboard's grid order",
    );
    const w = byTitle(res.body);

    // team_id narrows services to team 1 (s1, s3); severity and environment are not service columns.
    assert.deepEqual(w.get('services').data, { entity_type: 'services', count: 2, record: null });
    assert.equal(w.get('services').error, undefined);

    // severity narrows incidents; team_id is not an incident column.
    const list = w.get('incidents').data;
    assert.equal(list.total, 1);
    assert.equal(list.limit, 10);
    assert.deepEqual(
      list.records.map((r: any) => r.id),
      [rec.i1.id],
    );
    assert.equal(list.records[0].title, 'dd database down');

    const status = w.get('status').data;
    assert.equal(status.field, 'status');
    assert.equal(status.total, 2);
    assert.deepEqual(
      status.counts.filter((c: any) => c.count > 0),
      [{ value: 'active', count: 2 }],
    );
    assert.equal(status.counts.length, 4, 'every value of the enum, zeros included');

    const chart = w.get('by type').data;
    assert.equal(chart.field, 'type');
    assert.deepEqual(
      chart.counts.filter((c: any) => c.count > 0),
      [
        { value: 'api', count: 1 },
        { value: 'cache', count: 1 },
      ],
    );

    const latest = w.get('latest').data;
    assert.equal(latest.incident_id, null);
    assert.deepEqual(
      latest.entries.map((e: any) => [e.incident_id, e.message]),
      [
        [rec.i1.id, 'found it'],
        [rec.i1.id, 'Incident declared'],
      ],
      'newest first, only the critical incident',
    );
    assert.equal(latest.entries[0].incident_title, 'dd database down');

    const slow = w.get('slow page').data;
    assert.equal(slow.incident_id, rec.i2.id);
    assert.deepEqual(
      slow.entries.map((e: any) => e.message),
      ['Incident declared'],
      'a source incident is not narrowed by the severity filter',
    );

    // 100 (s1), 50 (s2, s3: team, no tag), 0 (s4): filters do not apply to a scorecard.
    assert.deepEqual(w.get('readiness').data, {
      scorecard_id: rec.card.id,
      name: rec.card.name,
      entity_types: ['services'],
      entities_scored: 4,
      average_score: 50,
      levels: [
        { level: 'bronze', count: 2 },
        { level: 'gold', count: 1 },
      ],
      below_levels: 1,
      truncated: false,
    });

    const one = w.get('one service').data;
    assert.equal(one.count, 1, 'a source record of another team is not filtered away');
    assert.equal(one.record.id, rec.s2.id);
    assert.equal(one.record.name, 'dd-s2');
    assert.equal(one.record.status, 'deprecated');

    const last = w.get('last by name').data;
    assert.deepEqual(
      last.records.map((r: any) => r.name),
      ['dd-s3'],
    );
    assert.equal(last.total, 2);

    const noField = w.get('no field');
    assert.equal(noField.data, null);
    assert.equal(noField.error.code, 'invalid_config');
  });

  it('follows the records: a change of a source moves the data, and the same records give the same body', async () => {
    const read = async () => {
      const res = await viewer.client.get(`/api/v1/dashboards/${dashboard.id}/data`);
      expectStatus(res, 200);
      const { computed_at: _at, ...rest } = res.body.data;
      return rest;
    };
    const first = await read();
    assert.deepEqual(await read(), first, 'deterministic but for computed_at');
    expectStatus(await editor.client.patch(`/api/v1/services/${rec.s4.id}`, { team_id: rec.t1.id }), 200);
    const moved = byTitle({ data: await read() });
    assert.equal(moved.get('services').data.count, 3);
    expectStatus(await editor.client.patch(`/api/v1/services/${rec.s4.id}`, { team_id: null }), 200);
  });

  it('answers any member and API key of the tenant, and 404 to another tenant', async () => {
    const asAdmin = await admin.client.get(`/api/v1/dashboards/${dashboard.id}/data`);
    const asViewer = await viewer.client.get(`/api/v1/dashboards/${dashboard.id}/data`);
    expectStatus(asAdmin, 200);
    assert.deepEqual(asAdmin.body.data.widgets, asViewer.body.data.widgets, 'a viewer sees what an admin sees');
    const key = await created(admin.client, '/api/v1/api-keys', { name: `dd-key-${uniq()}`, scope: 'read' });
    const asKey = await app.client(key.key).get(`/api/v1/dashboards/${dashboard.id}/data`);
    expectStatus(asKey, 200);
    assertProblem(await other.client.get(`/api/v1/dashboards/${dashboard.id}/data`), 404);
    assertProblem(await app.client().get(`/api/v1/dashboards/${dashboard.id}/data`), 401);
  });

  it('gives data: null with a reason for a gone source, a filter value the kind refuses, or a type that cannot show its kind', async () => {
    const c = editor.client;
    const gone = await created(c, '/api/v1/services', { name: `dd-gone-${uniq()}`, type: 'api' });
    const goneIncident = await created(c, '/api/v1/incidents', { title: 'dd gone', severity: 'minor' });
    const goneCard = await created(c, '/api/v1/scorecards', { name: `dd gone ${uniq()}`, entity_types: ['services'], criteria: [] });
    const broken = await created(c, '/api/v1/dashboards', {
      name: `dd-broken-${uniq()}`,
      filters: [{ filter_type: 'status', target_column: 'status', config: { value: 'bogus' } }],
      widgets: [
        { title: 'gone service', widget_type: 'counter', source_entity_type: 'services', source_entity_id: gone.id, layout: at(0) },
        { title: 'gone incident', widget_type: 'timeline', source_entity_type: 'incidents', source_entity_id: goneIncident.id, layout: at(1) },
        { title: 'gone card', widget_type: 'scorecard', source_entity_type: 'scorecards', source_entity_id: goneCard.id, layout: at(2) },
        { title: 'bogus status', widget_type: 'counter', config: { entity_type: 'services' }, layout: at(3) },
        { title: 'service timeline', widget_type: 'timeline', config: { entity_type: 'services' }, layout: at(4) },
        { title: 'nothing', widget_type: 'counter', layout: at(5) },
        { title: 'teams', widget_type: 'counter', config: { entity_type: 'teams' }, layout: at(6) },
      ],
    });
    for (const url of [`/api/v1/services/${gone.id}`, `/api/v1/incidents/${goneIncident.id}`, `/api/v1/scorecards/${goneCard.id}`]) {
      expectStatus(await c.delete(url), 204, url);
    }
    const res = await viewer.client.get(`/api/v1/dashboards/${broken.id}/data`);
    expectStatus(res, 200);
    const w = byTitle(res.body);
    const codes = Object.fromEntries([...w].map(([title, v]) => [title, v.error?.code ?? null]));
    assert.deepEqual(codes, {
      'gone service': 'source_missing',
      'gone incident': 'source_missing',
      'gone card': 'source_missing',
      'bogus status': 'invalid_config',
      'service timeline': 'unsupported',
      nothing: 'no_source',
      // Teams have no status column: the status filter is ignored there.
      teams: null,
    });
    for (const [title, v] of w) if (title !== 'teams') assert.equal(v.data, null, title);
    assert.match(w.get('bogus status').error.message, /status/);
    assert.equal(w.get('teams').data.count, 2);
  });

  it('costs a bounded number of statements: the dashboard, then about one per widget', async () => {
    // The followers derive scores and dashboard data in the background after commit: done before counting.
    await followerCaughtUp(app.db.knex, admin.tenantId, ['scorecard_scores', 'dashboard_data']);
    const { result, statements } = await counted(app.db.knex, () => viewer.client.get(`/api/v1/dashboards/${dashboard.id}/data`));
    expectStatus(result, 200);
    const sql = statements.filter((s) => !isPrincipalRead(s));
    // The dashboard (row, widgets, filters): 3. counter 1, list of incidents 3 (page, count, affected),
    // status board 1, chart 1, timeline 1, source timeline 1, scorecard 4 (row, criteria, page, count),
    // source counter 2 (row, lists), list of services 2 (page with lists, count); the chart without a field 0.
    assert.equal(sql.length, 19, sql.join('\n'));
  });

  it('is callable with a system context, and names the entity types its data depends on', async () => {
    const domain = app.app.domain;
    const data = await domain.dashboards.data(systemContext(admin.tenantId, app.db.knex), dashboard.id);
    const http = await viewer.client.get(`/api/v1/dashboards/${dashboard.id}/data`);
    assert.deepEqual(JSON.parse(JSON.stringify(data)), { dashboard_id: dashboard.id, row_version: dashboard.row_version, widgets: http.body.data.widgets });
    assert.deepEqual(
      [...widgetInputTypes(dashboard as any)].sort(),
      ['components', 'dashboards', 'incidents', 'repositories', 'resources', 'scorecards', 'services', 'products'].sort(),
    );
    assert.deepEqual([...widgetInputTypes({ widgets: [{ widget_type: 'counter', source_entity_type: null, config: { entity_type: 'teams' } }] })].sort(), [
      'dashboards',
      'teams',
    ]);
  });
});
