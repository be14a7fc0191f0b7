// Black-box: `dashboards.data_changed`, appended after commit by the change-log follower when a
// change moves the data of some of a dashboard's widgets, pushed to a subscribed socket with the
// widgets whose data changed (as GET /dashboards/:id/data computes them), and nothing otherwise.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DataChange } from '../src/modules/dashboards/data-events.js';
import { created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { connectLive, waitFor, type LiveClient } from './support/live-events.js';
import type { TestApp } from './support/server.js';
import { followerCaughtUp } from './support/sql.js';

const uniq = () => randomUUID().slice(0, 8);
const FOLLOWER = 'dashboard_data';
const at = (i: number) => ({ x: (i % 3) * 4, y: Math.floor(i / 3) * 3, w: 4, h: 3 });

describe('dashboards.data_changed: derived after commit from the change log', function () {
  this.timeout(60_000);
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let live: LiveClient;
  let dashboard: Record<string, any>;
  let team: Record<string, any>;

  const dataEvents = () => live.events.filter((e) => e.type === 'dashboards.data_changed');
  const settled = () => followerCaughtUp(app.db.knex, admin.tenantId, FOLLOWER);
  const widgetTitles = (i: number) => (dataEvents()[i].data as DataChange).widgets.map((w) => w.title).sort();
  const widget = (i: number, title: string) => (dataEvents()[i].data as DataChange).widgets.find((w) => w.title === title)!;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    team = await created(admin.client, '/api/v1/teams', { name: `payments-${uniq()}` });
    dashboard = await created(admin.client, '/api/v1/dashboards', {
      name: `ops-${uniq()}`,
      filters: [{ filter_type: 'team', target_column: 'team_id', config: { value: team.id } }],
      widgets: [
        { title: 'services', widget_type: 'counter', config: { entity_type: 'services' }, layout: at(0) },
        { title: 'by status', widget_type: 'status_board', config: { entity_type: 'services' }, layout: at(1) },
        { title: 'incidents', widget_type: 'list', config: { entity_type: 'incidents' }, layout: at(2) },
      ],
    });
    await settled();
    live = await connectLive(app.url, { token: admin.token });
    assert.deepEqual(await live.emitWithAck('subscribe', { types: ['dashboards.data_changed'] }), { ok: true });
  });
  after(async () => {
    live?.close();
    await app?.close();
  });

  it("pushes the widgets whose data a change moved, as /data computes them, and nothing for a record they don't count", async () => {
    // Another team's service: the dashboard's team filter leaves it out of every widget.
    const elsewhere = await created(admin.client, '/api/v1/teams', { name: `other-${uniq()}` });
    await created(admin.client, '/api/v1/services', { name: `not-counted-${uniq()}`, type: 'api', team_id: elsewhere.id });
    await settled();
    assert.equal(dataEvents().length, 0, 'a record no widget counts moves nothing');

    const svc = await created(admin.client, '/api/v1/services', { name: `counted-${uniq()}`, type: 'api', team_id: team.id, status: 'active' });
    await waitFor(() => dataEvents().length === 1, 'the counter and the status board moving');
    const event = dataEvents()[0];
    assert.equal(event.entity_type, 'dashboards');
    assert.equal(event.entity_id, dashboard.id);
    assert.equal(event.actor.type, 'system');
    assert.deepEqual(widgetTitles(0), ['by status', 'services'], 'the incident list did not change');
    assert.equal((widget(0, 'services').data as { count: number }).count, 1);
    const read = (await admin.client.get(`/api/v1/dashboards/${dashboard.id}/data`)).body.data;
    assert.deepEqual(
      widget(0, 'by status'),
      read.widgets.find((w: { title: string }) => w.title === 'by status'),
      'the pushed data is what /data computes',
    );

    // Moved out of the status it was counted under: only the status board changes.
    const patched = await admin.client.patch(`/api/v1/services/${svc.id}`, { status: 'deprecated' }, { 'if-match': `"${svc.row_version}"` });
    expectStatus(patched, 200);
    await waitFor(() => dataEvents().length === 2, 'the status board moving');
    assert.deepEqual(widgetTitles(1), ['by status']);

    // A change that moves nothing a widget shows: no event.
    expectStatus(
      await admin.client.patch(`/api/v1/services/${svc.id}`, { description: 'no widget shows it' }, { 'if-match': `"${patched.body.data.row_version}"` }),
      200,
    );
    await settled();
    assert.equal(dataEvents().length, 2);
  });

  it("re-baselines on the dashboard's own edit without a data_changed event, and compares with the new widgets after it", async () => {
    const before = dataEvents().length;
    const current = (await admin.client.get(`/api/v1/dashboards/${dashboard.id}`)).body.data;
    const edited = await admin.client.patch(
      `/api/v1/dashboards/${dashboard.id}`,
      {
        widgets: [
          { title: 'services', widget_type: 'counter', config: { entity_type: 'services' }, layout: at(0) },
          { title: 'incidents', widget_type: 'list', config: { entity_type: 'incidents' }, layout: at(1) },
        ],
      },
      { 'if-match': `"${current.row_version}"` },
    );
    expectStatus(edited, 200);
    await settled();
    assert.equal(dataEvents().length, before, 'its own dashboards.updated is the signal');

    await created(admin.client, '/api/v1/incidents', { title: `down-${uniq()}`, severity: 'major' });
    await waitFor(() => dataEvents().length === before + 1, 'the incident list moving');
    assert.deepEqual(widgetTitles(before), ['incidents']);
    assert.equal((widget(before, 'incidents').data as { total: number }).total, 1);
  });

  it("stays inside its tenant and stops with the dashboard's deletion", async () => {
    const before = dataEvents().length;
    await created(other.client, '/api/v1/dashboards', {
      name: 'theirs',
      widgets: [{ title: 'services', widget_type: 'counter', config: { entity_type: 'services' }, layout: at(0) }],
    });
    await followerCaughtUp(app.db.knex, other.tenantId, FOLLOWER);
    await created(other.client, '/api/v1/services', { name: `theirs-${uniq()}`, type: 'api' });
    await followerCaughtUp(app.db.knex, other.tenantId, FOLLOWER);
    const theirs = (await other.client.get('/api/v1/events?entity_type=dashboards&limit=1000')).body.data as { type: string }[];
    assert.equal(theirs.filter((e) => e.type === 'dashboards.data_changed').length, 1, 'their own counter moved');
    await settled();
    assert.equal(dataEvents().length, before, 'nothing of theirs here');
    assert.ok(live.events.every((e) => e.tenant_id === admin.tenantId));

    const current = (await admin.client.get(`/api/v1/dashboards/${dashboard.id}`)).body.data;
    expectStatus(await admin.client.delete(`/api/v1/dashboards/${dashboard.id}`, { 'if-match': `"${current.row_version}"` }), 204);
    await created(admin.client, '/api/v1/services', { name: `after-${uniq()}`, type: 'api', team_id: team.id });
    await settled();
    assert.equal(dataEvents().length, before, 'a deleted dashboard has no data');
    const digests = await app.db.knex('dashboard_data_digests').where({ dashboard_id: dashboard.id });
    assert.equal(digests.length, 0);
  });
});
