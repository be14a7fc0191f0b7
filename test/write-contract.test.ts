// The per-write contract (SPEC §4, §5), pinned before the write path moves: a representative write
// of every kind appends exactly one audit_logs row and exactly one change_events row per change,
// and the event's data is what REST returns for the record right after. Which REST view: the
// write's own response (catalog kinds: the record with its relation id lists, the shape of list
// items — GET /:id adds relation summaries, incidents and scorecards, so it is NOT the event's view);
// for incidents and dashboards GET /:id (the event carries the detail with timeline / widgets).
// Nothing secret is ever in an event or an audit entry.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { DERIVED_ACTIONS, created, expectStatus, lastSeq, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { uniq } from './support/pins.js';
import type { ApiResponse, TestApp } from './support/server.js';

const AUDIT_ACTION: Record<string, string> = {
  created: 'create',
  updated: 'update',
  deleted: 'delete',
  restored: 'restore',
  status_changed: 'status_change',
  timeline_entry: 'timeline_entry',
};

interface Written {
  res: ApiResponse;
  events: any[];
  audits: any[];
}

describe('the per-write contract: one audit entry and one event per change, event data as REST returns it', function () {
  this.timeout(60_000);
  let app: TestApp;
  let tenant: Tenant;
  let knex: Knex;
  const secrets: string[] = [];
  const PASSWORD = 'a very secret password 42';

  before(async function () {
    this.timeout(60_000);
    app = await startHttpApp();
    knex = app.db.knex;
    tenant = await signupTenant(app);
    secrets.push(tenant.password);
  });
  after(async () => {
    await app?.close();
  });

  /** Runs the write; asserts the event types (in seq order) and one audit entry per event, paired. */
  async function contract(write: () => Promise<ApiResponse>, status: number, types: string[]): Promise<Written> {
    const seq = await lastSeq(knex, tenant.tenantId);
    const auditIds = new Set((await knex('audit_logs').where('tenant_id', tenant.tenantId).select('id')).map((r) => r.id));
    const res = await write();
    assert.equal(res.status, status, res.text.slice(0, 400));
    // Events a follower derives after commit (a score moved by an earlier write) are not the write's.
    const events = await knex('change_events').where('tenant_id', tenant.tenantId).where('seq', '>', seq).whereNotIn('action', DERIVED_ACTIONS).orderBy('seq');
    const audits = (
      await knex('audit_logs')
        .where('tenant_id', tenant.tenantId)
        .orderBy([{ column: 'timestamp' }, { column: 'id' }])
    ).filter((r) => !auditIds.has(r.id));
    assert.deepEqual(
      events.map((e) => e.type),
      types,
      'the events of the write',
    );
    // Consecutive: one append; a derived event of an earlier write may come before them.
    const first = Number(events[0]?.seq ?? seq + 1);
    assert.ok(first > seq);
    assert.deepEqual(
      events.map((e) => Number(e.seq)),
      types.map((_, i) => first + i),
      'gapless seqs',
    );
    assert.equal(audits.length, events.length, 'one audit entry per change');
    const key = (entityType: string, entityId: string, action: string) => `${entityType}/${entityId}/${action}`;
    assert.deepEqual(
      audits.map((a) => key(a.entity_type, a.entity_id, a.action)).sort(),
      events.map((e) => key(e.entity_type, e.entity_id, AUDIT_ACTION[e.action])).sort(),
      'audit entries pair with the events',
    );
    for (const e of events) {
      const a = audits.find((x) => x.entity_id === e.entity_id && x.action === AUDIT_ACTION[e.action]);
      assert.deepEqual(a.changes ?? null, e.changes ?? null, `audit changes of ${e.type}`);
      assert.equal(a.user_id, tenant.userId);
      assert.equal(e.actor_id, tenant.userId);
      assert.equal(a.metadata.request_id, e.request_id, 'the same request id on both');
    }
    return { res, events, audits };
  }

  const a = () => tenant.client;
  const listItem = async (path: string, id: string, name: string, deleted = false) => {
    const res = await a().get(`/api/v1/${path}?q=${encodeURIComponent(name)}&limit=100${deleted ? '&include_deleted=true' : ''}`);
    expectStatus(res, 200);
    return res.body.data.find((r: { id: string }) => r.id === id);
  };

  const catalogBodies: Record<string, () => Record<string, unknown>> = {
    teams: () => ({ name: `team-${uniq()}`, description: 'd' }),
    people: () => ({ name: `person-${uniq()}`, email: `p-${uniq()}@example.com` }),
    products: () => ({ name: `product-${uniq()}`, tags: ['x'] }),
    services: () => ({ name: `service-${uniq()}`, type: 'api', attributes: { protocol: 'https' } }),
    components: () => ({ name: `component-${uniq()}`, type: 'library' }),
    resources: () => ({ name: `resource-${uniq()}`, type: 'ec2', environment: 'production' }),
    repositories: () => ({ name: `repo-${uniq()}`, provider: 'github' }),
  };

  for (const [path, body] of Object.entries(catalogBodies)) {
    it(`${path}: create, update, delete, restore — one event and one audit entry each, data = the write's response`, async () => {
      const c = await contract(() => a().post(`/api/v1/${path}`, body()), 201, [`${path}.created`]);
      const rec = c.res.body.data;
      assert.deepEqual(c.events[0].data, rec);
      assert.deepEqual(await listItem(path, rec.id, rec.name), rec, 'the list item is the same view');
      const detail = (await a().get(`/api/v1/${path}/${rec.id}`)).body.data;
      assert.equal(detail.row_version, rec.row_version);

      const newName = `${rec.name}-2`;
      const u = await contract(() => a().patch(`/api/v1/${path}/${rec.id}`, { name: newName }), 200, [`${path}.updated`]);
      assert.deepEqual(u.events[0].data, u.res.body.data);
      assert.deepEqual(u.events[0].changes, { name: { old: rec.name, new: newName } });
      assert.equal(u.res.body.data.row_version, rec.row_version + 1);

      const d = await contract(() => a().delete(`/api/v1/${path}/${rec.id}`), 204, [`${path}.deleted`]);
      const gone = await listItem(path, rec.id, newName, true);
      assert.ok(gone.deleted_at, 'listed as deleted for an admin');
      assert.deepEqual(d.events[0].data, gone);

      const r = await contract(() => a().post(`/api/v1/${path}/${rec.id}/restore`), 200, [`${path}.restored`]);
      assert.deepEqual(r.events[0].data, r.res.body.data);
      assert.equal(r.res.body.data.deleted_at, null);
    });
  }

  it('incidents: create with an affected service also announces services.updated (its operational_status moved)', async () => {
    const svc = await created(a(), '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
    assert.equal(svc.operational_status, 'operational');
    const c = await contract(
      () =>
        a().post('/api/v1/incidents', {
          title: `down-${uniq()}`,
          severity: 'major',
          impact_type: 'outage',
          affected: [{ entity_type: 'services', entity_id: svc.id }],
        }),
      201,
      ['incidents.created', 'services.updated'],
    );
    const incident = c.res.body.data;
    assert.deepEqual(c.events[0].data, incident);
    assert.deepEqual(c.events[0].data, (await a().get(`/api/v1/incidents/${incident.id}`)).body.data, 'the event carries GET /incidents/:id');
    assert.equal(incident.affected[0].operational_status, 'outage');
    assert.deepEqual(c.events[1].changes.operational_status, { old: 'operational', new: 'outage' });
    assert.deepEqual(c.events[1].data, await listItem('services', svc.id, svc.name));

    // A timeline entry without a status change: one event only.
    await contract(() => a().post(`/api/v1/incidents/${incident.id}/updates`, { message: 'looking' }), 201, ['incidents.timeline_entry']);

    // A status move that keeps the incident active: status_changed + timeline_entry, no service event.
    const mid = await contract(() => a().post(`/api/v1/incidents/${incident.id}/updates`, { status: 'identified', message: 'found it' }), 201, [
      'incidents.status_changed',
      'incidents.timeline_entry',
    ]);
    assert.deepEqual(mid.events[0].changes, { status: { old: 'investigating', new: 'identified' } });

    // Resolving: status_changed + timeline_entry + services.updated (back to operational).
    const res = await contract(() => a().post(`/api/v1/incidents/${incident.id}/updates`, { status: 'resolved', message: 'fixed' }), 201, [
      'incidents.status_changed',
      'incidents.timeline_entry',
      'services.updated',
    ]);
    const after = (await a().get(`/api/v1/incidents/${incident.id}`)).body.data;
    assert.deepEqual(res.events[0].data, after, 'status_changed carries the incident as GET returns it right after');
    assert.deepEqual(res.events[0].data, res.res.body.data.incident);
    assert.deepEqual(res.events[1].data, res.res.body.data.entry, 'timeline_entry carries the entry');
    assert.equal(after.timeline.at(-1).id, res.res.body.data.entry.id);
    assert.ok(after.resolved_at);
    assert.deepEqual(res.events[2].changes.operational_status, { old: 'outage', new: 'operational' });
    assert.deepEqual(res.events[2].data, await listItem('services', svc.id, svc.name));

    const up = await contract(() => a().patch(`/api/v1/incidents/${incident.id}`, { title: 'renamed' }), 200, ['incidents.updated']);
    assert.deepEqual(up.events[0].data, (await a().get(`/api/v1/incidents/${incident.id}`)).body.data);
    await contract(() => a().delete(`/api/v1/incidents/${incident.id}`), 204, ['incidents.deleted']);
    const rs = await contract(() => a().post(`/api/v1/incidents/${incident.id}/restore`), 200, ['incidents.restored']);
    assert.deepEqual(rs.events[0].data, rs.res.body.data);
  });

  it('scorecards: create and update carry the scorecard with its criteria', async () => {
    const c = await contract(
      () =>
        a().post('/api/v1/scorecards', {
          name: `card-${uniq()}`,
          entity_types: ['services'],
          criteria: [{ name: 'team', check_type: 'has_field', check_config: { field: 'team_id' } }],
        }),
      201,
      ['scorecards.created'],
    );
    assert.deepEqual(c.events[0].data, c.res.body.data);
    assert.deepEqual(c.events[0].data, (await a().get(`/api/v1/scorecards/${c.res.body.data.id}`)).body.data);
    const u = await contract(() => a().patch(`/api/v1/scorecards/${c.res.body.data.id}`, { description: 'why' }), 200, ['scorecards.updated']);
    assert.deepEqual(u.events[0].data, u.res.body.data);
    assert.deepEqual(u.events[0].changes, { description: { old: null, new: 'why' } });
    const d = await contract(() => a().delete(`/api/v1/scorecards/${c.res.body.data.id}`), 204, ['scorecards.deleted']);
    assert.ok(d.events[0].data.deleted_at);
    assert.deepEqual(d.events[0].data.criteria, u.res.body.data.criteria, 'the criteria stay with the deleted row');
    const r = await contract(() => a().post(`/api/v1/scorecards/${c.res.body.data.id}/restore`), 200, ['scorecards.restored']);
    assert.deepEqual(r.events[0].data, r.res.body.data);
  });

  it('dashboards: create, and each widget write is one dashboards.updated carrying the whole dashboard', async () => {
    const c = await contract(() => a().post('/api/v1/dashboards', { name: `board-${uniq()}` }), 201, ['dashboards.created']);
    const id = c.res.body.data.id;
    assert.deepEqual(c.events[0].data, (await a().get(`/api/v1/dashboards/${id}`)).body.data);
    const w = await contract(() => a().post(`/api/v1/dashboards/${id}/widgets`, { title: 'Open incidents', widget_type: 'counter' }), 201, [
      'dashboards.updated',
    ]);
    const board = (await a().get(`/api/v1/dashboards/${id}`)).body.data;
    assert.deepEqual(w.events[0].data, board, 'the event carries GET /dashboards/:id');
    assert.deepEqual(board.widgets, [w.res.body.data], 'the widget as the response returned it');
    assert.equal(board.row_version, 2);
    const p = await contract(() => a().patch(`/api/v1/dashboards/${id}/widgets/${w.res.body.data.id}`, { title: 'Renamed' }), 200, ['dashboards.updated']);
    assert.deepEqual(p.events[0].data, (await a().get(`/api/v1/dashboards/${id}`)).body.data);
    const d = await contract(() => a().delete(`/api/v1/dashboards/${id}/widgets/${w.res.body.data.id}`), 204, ['dashboards.updated']);
    assert.deepEqual(d.events[0].data.widgets, []);
    const u = await contract(() => a().patch(`/api/v1/dashboards/${id}`, { description: 'board' }), 200, ['dashboards.updated']);
    assert.deepEqual(u.events[0].data, u.res.body.data);
    const del = await contract(() => a().delete(`/api/v1/dashboards/${id}`), 204, ['dashboards.deleted']);
    assert.ok(del.events[0].data.deleted_at);
    const r = await contract(() => a().post(`/api/v1/dashboards/${id}/restore`), 200, ['dashboards.restored']);
    assert.deepEqual(r.events[0].data, r.res.body.data);
    assert.deepEqual(r.events[0].data, (await a().get(`/api/v1/dashboards/${id}`)).body.data);
  });

  it('comments and grants: data = the response', async () => {
    const svc = await created(a(), '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
    const c = await contract(() => a().post('/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'hello' }), 201, ['comments.created']);
    assert.deepEqual(c.events[0].data, c.res.body.data);
    assert.deepEqual(c.events[0].data, (await a().get(`/api/v1/comments/${c.res.body.data.id}`)).body.data);
    const r = await contract(() => a().post(`/api/v1/comments/${c.res.body.data.id}/resolve`), 200, ['comments.updated']);
    assert.deepEqual(r.events[0].data, r.res.body.data);
    // Deleting a comment takes its replies along: one deleted event (and audit entry) per comment.
    const reply = await created(a(), '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, parent_id: c.res.body.data.id, body: 'reply' });
    const del = await contract(() => a().delete(`/api/v1/comments/${c.res.body.data.id}`), 204, ['comments.deleted', 'comments.deleted']);
    assert.deepEqual(
      del.events.map((e) => e.entity_id),
      [c.res.body.data.id, reply.id],
    );
    const user = await created(a(), '/api/v1/users', { email: `v-${uniq()}@example.com`, display_name: 'V', role: 'viewer' });
    const g = await contract(() => a().post(`/api/v1/services/${svc.id}/permissions`, { user_id: user.id, level: 'COMMENT' }), 201, [
      'entity_permissions.created',
    ]);
    assert.deepEqual(g.events[0].data, g.res.body.data);
    // The same grant again: an upsert that changes nothing, records nothing.
    await contract(() => a().post(`/api/v1/services/${svc.id}/permissions`, { user_id: user.id, level: 'COMMENT' }), 201, []);
    await contract(() => a().delete(`/api/v1/services/${svc.id}/permissions/${g.res.body.data.id}`), 204, ['entity_permissions.deleted']);
  });

  it('users and API keys: data = the response, never a password, a hash or a key', async () => {
    const email = `pw-${uniq()}@example.com`;
    secrets.push(PASSWORD);
    const u = await contract(() => a().post('/api/v1/users', { email, display_name: 'With password', role: 'editor', password: PASSWORD }), 201, [
      'users.created',
    ]);
    assert.deepEqual(u.events[0].data, u.res.body.data);
    assert.deepEqual(u.events[0].data, (await a().get(`/api/v1/users/${u.res.body.data.id}`)).body.data);
    assert.ok(!('password_hash' in u.res.body.data) && !('password' in u.res.body.data));
    const pw = await contract(() => a().patch(`/api/v1/users/${u.res.body.data.id}`, { password: `${PASSWORD} 2` }), 200, ['users.updated']);
    secrets.push(`${PASSWORD} 2`);
    assert.deepEqual(pw.events[0].changes, { password: { old: '[redacted]', new: '[redacted]' } });
    assert.deepEqual(pw.events[0].data, pw.res.body.data);

    const k = await contract(() => a().post('/api/v1/api-keys', { name: `ci-${uniq()}`, scope: 'read_write' }), 201, ['api_keys.created']);
    const { key, ...shown } = k.res.body.data;
    assert.match(key, /^ail_/);
    secrets.push(key);
    assert.deepEqual(k.events[0].data, shown, 'the event carries the key record without the key');
    const listed = (await a().get('/api/v1/api-keys')).body.data.find((x: { id: string }) => x.id === shown.id);
    assert.deepEqual(k.events[0].data, listed);
    const rv = await contract(() => a().delete(`/api/v1/api-keys/${shown.id}`), 204, ['api_keys.deleted']);
    assert.ok(rv.events[0].data.revoked_at);
    assert.ok(!('key' in rv.events[0].data));
  });

  // Runs after the writes above (mocha runs a file's tests in order): it scans everything they wrote.
  it('no event and no audit entry of the tenant holds a raw key, a key hash, a password hash or a password', async () => {
    const hashes = (await knex('api_keys').where('tenant_id', tenant.tenantId).select('key_hash')).map((r) => r.key_hash as string);
    const pwHashes = (await knex('users').where('tenant_id', tenant.tenantId).whereNotNull('password_hash').select('password_hash')).map(
      (r) => r.password_hash as string,
    );
    assert.ok(hashes.length >= 1 && pwHashes.length >= 2, 'there are secrets to leak');
    assert.ok(secrets.length >= 4, 'the password, the changed password and a key were written');
    const events = await knex('change_events').where('tenant_id', tenant.tenantId).select('seq', 'type', 'data', 'changes');
    const audits = await knex('audit_logs').where('tenant_id', tenant.tenantId).select('id', 'changes', 'metadata');
    // Every event has its audit entry but the derived ones, which are nobody's action (their data is scanned too).
    const written = events.filter((e) => !DERIVED_ACTIONS.some((a) => String(e.type).endsWith(`.${a}`)));
    assert.ok(written.length > 30 && audits.length === written.length, `${written.length} written events, ${audits.length} audits`);
    const texts = [
      ...events.flatMap((e) => [`event ${e.seq} data`, JSON.stringify(e.data), `event ${e.seq} changes`, JSON.stringify(e.changes)]),
      ...audits.flatMap((x) => [`audit ${x.id} changes`, JSON.stringify(x.changes), `audit ${x.id} metadata`, JSON.stringify(x.metadata)]),
    ];
    for (let i = 0; i < texts.length; i += 2) {
      const [where, text] = [texts[i], texts[i + 1]];
      for (const needle of ['key_hash', 'password_hash', '"key":', ...secrets, ...hashes, ...pwHashes]) {
        assert.ok(!text.includes(needle), `${where} contains ${needle.slice(0, 12)}…`);
      }
    }
  });
});
