// If-Match on every versioned route, pinned before the write path moves (respond.ts expectedVersion):
// `"n"`, `W/"n"` and `*` with n current → the write happens; a stale `"n-1"` → 412 and nothing
// written; a header that is no ETag (`abc`) → 412 as well (today's rule: unparseable is refused,
// never ignored). Widget writes are versioned by their dashboard. And every versioned response
// carries ETag `"<row_version>"`.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { CATALOG, assertRefused, rowOf, uniq } from './support/pins.js';
import type { ApiResponse, TestApp } from './support/server.js';

interface Target {
  /** The version If-Match is checked against. */
  version: number;
  send(ifMatch: string): Promise<ApiResponse>;
  /** The rows the write would change. */
  snapshot: () => Promise<unknown>;
}

describe('If-Match on every versioned route, and ETags', function () {
  this.timeout(60_000);
  let app: TestApp;
  let tenant: Tenant;
  let knex: Knex;

  before(async function () {
    this.timeout(60_000);
    app = await startHttpApp();
    knex = app.db.knex;
    tenant = await signupTenant(app);
  });
  after(async () => {
    await app?.close();
  });

  const a = () => tenant.client;
  const h = (ifMatch: string) => ({ 'if-match': ifMatch });

  /** A record at version 2 (created, then changed once), so a stale version is a real earlier one. */
  async function atVersion2(path: string, body: Record<string, unknown>, change: Record<string, unknown>) {
    const rec = await created(a(), `/api/v1/${path}`, body);
    const res = await a().patch(`/api/v1/${path}/${rec.id}`, change);
    expectStatus(res, 200);
    assert.equal(res.body.data.row_version, 2);
    return res.body.data;
  }

  const scorecard = () => ({
    name: `card-${uniq()}`,
    entity_types: ['services'],
    criteria: [{ name: 't', check_type: 'has_field', check_config: { field: 'team_id' } }],
  });

  async function dashboardWithWidget() {
    const board = await atVersion2('dashboards', { name: `board-${uniq()}`, widgets: [{ title: 'w', widget_type: 'counter' }] }, { description: 'v2' });
    return { board, widgetId: board.widgets[0].id as string };
  }
  async function comment(resolved = false) {
    const svc = await created(a(), '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
    const c = await created(a(), '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'first' });
    const res = await a().patch(`/api/v1/comments/${c.id}`, { body: 'second' });
    expectStatus(res, 200);
    if (!resolved) return res.body.data;
    const r = await a().post(`/api/v1/comments/${c.id}/resolve`);
    expectStatus(r, 200);
    return r.body.data;
  }

  const ROUTES: Record<string, { status: number; make: () => Promise<Target> }> = {};
  for (const [path, body] of Object.entries(CATALOG)) {
    ROUTES[`PATCH /${path}/:id`] = {
      status: 200,
      make: async () => {
        const rec = await atVersion2(path, body(), { name: `v2-${uniq()}` });
        return {
          version: rec.row_version,
          send: (m) => a().patch(`/api/v1/${path}/${rec.id}`, { name: `v3-${uniq()}` }, h(m)),
          snapshot: () => rowOf(knex, path, rec.id),
        };
      },
    };
    ROUTES[`DELETE /${path}/:id`] = {
      status: 204,
      make: async () => {
        const rec = await atVersion2(path, body(), { name: `v2-${uniq()}` });
        return { version: rec.row_version, send: (m) => a().delete(`/api/v1/${path}/${rec.id}`, h(m)), snapshot: () => rowOf(knex, path, rec.id) };
      },
    };
  }
  const incident = () => atVersion2('incidents', { title: `inc-${uniq()}`, severity: 'minor' }, { title: `v2-${uniq()}` });
  const incidentSnapshot = (id: string) => async () => ({
    row: await rowOf(knex, 'incidents', id),
    timeline: (await knex('incident_timeline_entries').where({ incident_id: id }).select('id')).length,
  });
  ROUTES['PATCH /incidents/:id'] = {
    status: 200,
    make: async () => {
      const rec = await incident();
      return { version: 2, send: (m) => a().patch(`/api/v1/incidents/${rec.id}`, { severity: 'critical' }, h(m)), snapshot: incidentSnapshot(rec.id) };
    },
  };
  ROUTES['DELETE /incidents/:id'] = {
    status: 204,
    make: async () => {
      const rec = await incident();
      return { version: 2, send: (m) => a().delete(`/api/v1/incidents/${rec.id}`, h(m)), snapshot: incidentSnapshot(rec.id) };
    },
  };
  ROUTES['POST /incidents/:id/updates'] = {
    status: 201,
    make: async () => {
      const rec = await incident();
      return {
        version: 2,
        send: (m) => a().post(`/api/v1/incidents/${rec.id}/updates`, { status: 'identified', message: 'found' }, h(m)),
        snapshot: incidentSnapshot(rec.id),
      };
    },
  };
  const scorecardSnapshot = (id: string) => async () => ({
    row: await rowOf(knex, 'scorecards', id),
    criteria: await knex('scorecard_criteria').where({ scorecard_id: id }).orderBy('id'),
  });
  ROUTES['PATCH /scorecards/:id'] = {
    status: 200,
    make: async () => {
      const rec = await atVersion2('scorecards', scorecard(), { description: 'v2' });
      return { version: 2, send: (m) => a().patch(`/api/v1/scorecards/${rec.id}`, { description: 'v3' }, h(m)), snapshot: scorecardSnapshot(rec.id) };
    },
  };
  ROUTES['DELETE /scorecards/:id'] = {
    status: 204,
    make: async () => {
      const rec = await atVersion2('scorecards', scorecard(), { description: 'v2' });
      return { version: 2, send: (m) => a().delete(`/api/v1/scorecards/${rec.id}`, h(m)), snapshot: scorecardSnapshot(rec.id) };
    },
  };
  const boardSnapshot = (id: string) => async () =>
    JSON.parse(
      JSON.stringify({
        row: await rowOf(knex, 'dashboards', id),
        widgets: await knex('widgets').where({ dashboard_id: id }).orderBy('id'),
      }),
    );
  ROUTES['PATCH /dashboards/:id'] = {
    status: 200,
    make: async () => {
      const { board } = await dashboardWithWidget();
      return { version: 2, send: (m) => a().patch(`/api/v1/dashboards/${board.id}`, { description: 'v3' }, h(m)), snapshot: boardSnapshot(board.id) };
    },
  };
  ROUTES['DELETE /dashboards/:id'] = {
    status: 204,
    make: async () => {
      const { board } = await dashboardWithWidget();
      return { version: 2, send: (m) => a().delete(`/api/v1/dashboards/${board.id}`, h(m)), snapshot: boardSnapshot(board.id) };
    },
  };
  ROUTES['POST /dashboards/:id/widgets'] = {
    status: 201,
    make: async () => {
      const { board } = await dashboardWithWidget();
      return {
        version: 2,
        send: (m) => a().post(`/api/v1/dashboards/${board.id}/widgets`, { title: 'new', widget_type: 'list' }, h(m)),
        snapshot: boardSnapshot(board.id),
      };
    },
  };
  ROUTES['PATCH /dashboards/:id/widgets/:widgetId'] = {
    status: 200,
    make: async () => {
      const { board, widgetId } = await dashboardWithWidget();
      return {
        version: 2,
        send: (m) => a().patch(`/api/v1/dashboards/${board.id}/widgets/${widgetId}`, { title: 'renamed' }, h(m)),
        snapshot: boardSnapshot(board.id),
      };
    },
  };
  ROUTES['DELETE /dashboards/:id/widgets/:widgetId'] = {
    status: 204,
    make: async () => {
      const { board, widgetId } = await dashboardWithWidget();
      return { version: 2, send: (m) => a().delete(`/api/v1/dashboards/${board.id}/widgets/${widgetId}`, h(m)), snapshot: boardSnapshot(board.id) };
    },
  };
  const commentSnapshot = (id: string) => async () => JSON.parse(JSON.stringify(await knex('comments').where({ id }).first()));
  ROUTES['PATCH /comments/:id'] = {
    status: 200,
    make: async () => {
      const c = await comment();
      return { version: c.row_version, send: (m) => a().patch(`/api/v1/comments/${c.id}`, { body: 'third' }, h(m)), snapshot: commentSnapshot(c.id) };
    },
  };
  ROUTES['DELETE /comments/:id'] = {
    status: 204,
    make: async () => {
      const c = await comment();
      return { version: c.row_version, send: (m) => a().delete(`/api/v1/comments/${c.id}`, h(m)), snapshot: commentSnapshot(c.id) };
    },
  };
  ROUTES['POST /comments/:id/resolve'] = {
    status: 200,
    make: async () => {
      const c = await comment();
      return { version: c.row_version, send: (m) => a().post(`/api/v1/comments/${c.id}/resolve`, undefined, h(m)), snapshot: commentSnapshot(c.id) };
    },
  };
  ROUTES['POST /comments/:id/unresolve'] = {
    status: 200,
    make: async () => {
      const c = await comment(true);
      assert.equal(c.row_version, 3);
      return { version: 3, send: (m) => a().post(`/api/v1/comments/${c.id}/unresolve`, undefined, h(m)), snapshot: commentSnapshot(c.id) };
    },
  };
  ROUTES['PATCH /users/:id'] = {
    status: 200,
    make: async () => {
      const u = await atVersion2('users', { email: `u-${uniq()}@example.com`, display_name: 'U', role: 'viewer' }, { display_name: 'U2' });
      return { version: 2, send: (m) => a().patch(`/api/v1/users/${u.id}`, { display_name: 'U3' }, h(m)), snapshot: () => rowOf(knex, 'users', u.id) };
    },
  };

  ROUTES['DELETE /users/:id'] = {
    status: 204,
    make: async () => {
      const u = await atVersion2('users', { email: `u-${uniq()}@example.com`, display_name: 'U', role: 'viewer' }, { display_name: 'U2' });
      return { version: 2, send: (m) => a().delete(`/api/v1/users/${u.id}`, h(m)), snapshot: () => rowOf(knex, 'users', u.id) };
    },
  };

  for (const [route, { status, make }] of Object.entries(ROUTES)) {
    it(`${route}: "n", W/"n" and * write; stale "n-1" and "abc" are 412 with nothing written`, async () => {
      // A bare n is accepted too (respond.ts: `"3"`, `W/"3"` or `3`).
      const forms = ['"n"', 'W/"n"', '*', 'n'];
      // A fresh record per form, plus one for the refusals, set up in parallel.
      const made = await Promise.all([...forms, 'refusals'].map(() => make()));
      for (const [i, form] of forms.entries()) {
        const t = made[i];
        const header = form.replace('n', String(t.version));
        const before = await t.snapshot();
        const res = await t.send(header);
        assert.equal(res.status, status, `${route} with If-Match ${header}: ${res.text.slice(0, 300)}`);
        assert.notDeepEqual(await t.snapshot(), before, `${route} with If-Match ${header} wrote nothing`);
      }
      const t = made[forms.length];
      for (const header of [`"${t.version - 1}"`, `W/"${t.version - 1}"`, `"${t.version + 1}"`, 'abc', '"abc"', '"2", "3"']) {
        const res = await assertRefused(knex, tenant.tenantId, t.snapshot, () => t.send(header), 412, `${route} with If-Match ${header}`);
        if (/^W?\/?"\d+"$/.test(header)) assert.match(res.body.detail, new RegExp(`version ${t.version}\\b`), 'names the current version');
      }
    });
  }

  it('an API key has no version a client sees (revoking is idempotent): its DELETE takes no If-Match, even garbage is ignored', async () => {
    const k = await created(a(), '/api/v1/api-keys', { name: `k-${uniq()}`, scope: 'read' });
    expectStatus(await a().delete(`/api/v1/api-keys/${k.id}`, h('"999"')), 204);
  });

  describe('ETag "<row_version>" on every versioned response', () => {
    const etag = (res: ApiResponse) => res.headers.get('etag');

    it('catalog kinds, incidents, scorecards, dashboards, comments, users: create, read, update, restore', async () => {
      const kinds: Record<string, () => Record<string, unknown>> = {
        ...CATALOG,
        incidents: () => ({ title: `inc-${uniq()}`, severity: 'minor' }),
        scorecards: scorecard,
        dashboards: () => ({ name: `board-${uniq()}` }),
      };
      const change: Record<string, Record<string, unknown>> = { incidents: { title: 'changed' }, people: { role_title: 'changed' } };
      for (const [path, body] of Object.entries(kinds)) {
        const c = await a().post(`/api/v1/${path}`, body());
        expectStatus(c, 201);
        assert.equal(etag(c), '"1"', `POST /${path}`);
        const id = c.body.data.id;
        const g = await a().get(`/api/v1/${path}/${id}`);
        assert.equal(etag(g), `"${g.body.data.row_version}"`, `GET /${path}/:id`);
        const p = await a().patch(`/api/v1/${path}/${id}`, change[path] ?? { description: 'changed' });
        expectStatus(p, 200, `PATCH /${path}`);
        assert.equal(etag(p), '"2"', `PATCH /${path}/:id`);
        expectStatus(await a().delete(`/api/v1/${path}/${id}`, h('"2"')), 204);
        const r = await a().post(`/api/v1/${path}/${id}/restore`);
        expectStatus(r, 200);
        assert.equal(etag(r), '"4"', `POST /${path}/:id/restore`);
      }
      const svc = await created(a(), '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
      const cm = await a().post('/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'x' });
      assert.equal(etag(cm), '"1"');
      assert.equal(etag(await a().get(`/api/v1/comments/${cm.body.data.id}`)), '"1"');
      assert.equal(etag(await a().patch(`/api/v1/comments/${cm.body.data.id}`, { body: 'y' })), '"2"');
      assert.equal(etag(await a().post(`/api/v1/comments/${cm.body.data.id}/resolve`)), '"3"');
      assert.equal(etag(await a().post(`/api/v1/comments/${cm.body.data.id}/unresolve`)), '"4"');
      const u = await a().post('/api/v1/users', { email: `e-${uniq()}@example.com`, display_name: 'E', role: 'viewer' });
      assert.equal(etag(u), '"1"');
      assert.equal(etag(await a().get(`/api/v1/users/${u.body.data.id}`)), '"1"');
      assert.equal(etag(await a().patch(`/api/v1/users/${u.body.data.id}`, { display_name: 'F' })), '"2"');
    });

    it("incident updates: the incident's version; widget writes: the WIDGET's own row_version (not the dashboard's, which If-Match checks)", async () => {
      const inc = await created(a(), '/api/v1/incidents', { title: `inc-${uniq()}`, severity: 'minor' });
      const up = await a().post(`/api/v1/incidents/${inc.id}/updates`, { message: 'no move' });
      expectStatus(up, 201);
      assert.equal(etag(up), '"1"', 'a timeline entry without a status move leaves the version');
      const moved = await a().post(`/api/v1/incidents/${inc.id}/updates`, { status: 'monitoring', message: 'move' }, h('"1"'));
      expectStatus(moved, 201);
      assert.equal(etag(moved), '"2"');
      assert.equal(moved.body.data.incident.row_version, 2);

      // Surprising but today's behaviour: sendData takes the ETag from the widget in the response.
      const board = await created(a(), '/api/v1/dashboards', { name: `board-${uniq()}` });
      const w = await a().post(`/api/v1/dashboards/${board.id}/widgets`, { title: 'w', widget_type: 'counter' }, h('"1"'));
      expectStatus(w, 201);
      assert.equal(w.body.data.row_version, 1);
      assert.equal(etag(w), '"1"', 'the widget is at 1 while the dashboard is at 2');
      assert.equal((await a().get(`/api/v1/dashboards/${board.id}`)).body.data.row_version, 2);
      const wp = await a().patch(`/api/v1/dashboards/${board.id}/widgets/${w.body.data.id}`, { title: 'w2' }, h('"2"'));
      expectStatus(wp, 200);
      assert.equal(etag(wp), '"2"', 'the widget at 2, the dashboard at 3');
      assert.equal((await a().get(`/api/v1/dashboards/${board.id}`)).body.data.row_version, 3);
    });
  });
});
