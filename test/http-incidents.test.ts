// Black-box HTTP: incidents: declaring one moves the affected entities' operational
// status, the timeline moves the incident through its lifecycle, roles are enforced.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, assertProblem, created, expectStatus, refused, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP incidents', () => {
  let app: TestApp;
  let admin: Tenant;
  let commander: Member;
  let viewer: Member;
  let s1: Record<string, any>;
  let s2: Record<string, any>;
  let c1: Record<string, any>;

  const statusOf = async (collection: string, id: string) => {
    const res = await viewer.client.get(`/api/v1/${collection}/${id}`);
    expectStatus(res, 200);
    return res.body.data.operational_status as string;
  };

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    commander = await addMember(app, admin, 'incident_commander');
    viewer = await addMember(app, admin, 'viewer');
    s1 = await created(admin.client, '/api/v1/services', { name: `checkout-${uniq()}`, type: 'api' });
    s2 = await created(admin.client, '/api/v1/services', { name: `search-${uniq()}`, type: 'api' });
    c1 = await created(admin.client, '/api/v1/components', { name: `payments-sdk-${uniq()}`, type: 'sdk' });
  });
  after(async () => {
    await app?.close();
  });

  it('runs an incident lifecycle: statuses follow the worst active incident, the timeline is oldest first', async () => {
    // An outage on S1 and C1, declared by an incident commander.
    const res = await commander.client.post('/api/v1/incidents', {
      title: 'Checkout down',
      severity: 'critical',
      impact_type: 'outage',
      affected: [
        { entity_type: 'services', entity_id: s1.id },
        { entity_type: 'components', entity_id: c1.id },
      ],
      message: 'Error rate at 100%',
    });
    expectStatus(res, 201);
    const outage = res.body.data;
    assert.equal(res.headers.get('location'), `/api/v1/incidents/${outage.id}`);
    assert.equal(res.headers.get('etag'), '"1"');
    assert.equal(outage.status, 'investigating');
    assert.equal(outage.resolved_at, null);
    assert.deepEqual(outage.affected.map((a: { entity_id: string }) => a.entity_id).sort(), [s1.id, c1.id].sort());
    assert.equal(await statusOf('services', s1.id), 'outage');
    assert.equal(await statusOf('components', c1.id), 'outage');
    assert.equal(await statusOf('services', s2.id), 'operational');

    // A degradation on S1 and S2: S1 keeps the worse status.
    const degraded = await created(commander.client, '/api/v1/incidents', {
      title: 'Slow search',
      severity: 'minor',
      impact_type: 'degraded',
      affected: [
        { entity_type: 'services', entity_id: s1.id },
        { entity_type: 'services', entity_id: s2.id },
      ],
    });
    assert.equal(await statusOf('services', s1.id), 'outage');
    assert.equal(await statusOf('services', s2.id), 'degraded');

    // Timeline: identified, monitoring, resolved.
    for (const [status, message] of [
      ['identified', 'Bad deploy found'],
      ['monitoring', 'Rolled back'],
      ['resolved', 'All clear'],
    ]) {
      const up = await commander.client.post(`/api/v1/incidents/${outage.id}/updates`, { status, message });
      expectStatus(up, 201, `update to ${status}`);
      assert.equal(up.body.data.entry.status, status);
      assert.equal(up.body.data.entry.message, message);
      assert.equal(up.body.data.incident.status, status);
    }
    const note = await commander.client.post(`/api/v1/incidents/${outage.id}/updates`, { message: 'Postmortem scheduled' });
    expectStatus(note, 201, 'a message without a status');
    assert.equal(note.body.data.entry.status, 'resolved');

    const got = await viewer.client.get(`/api/v1/incidents/${outage.id}`);
    expectStatus(got, 200);
    const incident = got.body.data;
    assert.equal(incident.status, 'resolved');
    assert.ok(incident.resolved_at, 'resolved sets resolved_at');
    assert.deepEqual(
      incident.timeline.map((e: { status: string }) => e.status),
      ['investigating', 'identified', 'monitoring', 'resolved', 'resolved'],
    );
    assert.deepEqual(
      incident.timeline.map((e: { message: string }) => e.message),
      ['Error rate at 100%', 'Bad deploy found', 'Rolled back', 'All clear', 'Postmortem scheduled'],
    );
    const times = incident.timeline.map((e: { timestamp: string }) => Date.parse(e.timestamp));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );
    assert.equal(got.headers.get('etag'), `"${incident.row_version}"`);

    // The outage is over: S1 is degraded (the other incident), C1 operational again.
    assert.equal(await statusOf('services', s1.id), 'degraded');
    assert.equal(await statusOf('components', c1.id), 'operational');

    expectStatus(await commander.client.post(`/api/v1/incidents/${degraded.id}/updates`, { status: 'resolved', message: 'Fixed' }), 201);
    assert.equal(await statusOf('services', s1.id), 'operational');
    assert.equal(await statusOf('services', s2.id), 'operational');

    // Reopening puts the outage back and clears resolved_at.
    const reopen = await commander.client.post(`/api/v1/incidents/${outage.id}/updates`, { status: 'investigating', message: 'It is back' });
    expectStatus(reopen, 201);
    assert.equal(reopen.body.data.incident.resolved_at, null);
    assert.equal(await statusOf('services', s1.id), 'outage');
    expectStatus(await commander.client.post(`/api/v1/incidents/${outage.id}/updates`, { status: 'resolved', message: 'Done' }), 201);
    assert.equal(await statusOf('services', s1.id), 'operational');
  });

  it('refuses moving back along the lifecycle (422 at status) and a stale If-Match (412), writing nothing', async () => {
    const inc = await created(commander.client, '/api/v1/incidents', { title: 'Backwards', severity: 'minor' });
    expectStatus(await commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'monitoring', message: 'skip ahead' }), 201);
    const tables = ['incidents', 'incident_timeline_entries'];
    await refused(
      app.db.knex,
      admin.tenantId,
      tables,
      () => commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'identified', message: 'back' }),
      422,
      { path: 'status' },
    );
    await refused(
      app.db.knex,
      admin.tenantId,
      tables,
      () => commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'resolved', message: 'x' }, { 'if-match': '"1"' }),
      412,
    );
    await refused(
      app.db.knex,
      admin.tenantId,
      tables,
      () => commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'bogus', message: 'x' }),
      422,
      { path: 'status' },
    );
    await refused(app.db.knex, admin.tenantId, tables, () => commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'resolved' }), 422, {
      path: 'message',
    });
  });

  it('lets an incident commander run incidents but not change the catalog (403)', async () => {
    const inc = await created(commander.client, '/api/v1/incidents', {
      title: 'IC rights',
      severity: 'major',
      affected: [{ entity_type: 'services', entity_id: s2.id }],
    });
    expectStatus(await commander.client.patch(`/api/v1/incidents/${inc.id}`, { severity: 'critical' }), 200);
    expectStatus(await commander.client.get('/api/v1/services'), 200, 'reads everything');
    expectStatus(await commander.client.get(`/api/v1/services/${s2.id}`), 200);
    await refused(
      app.db.knex,
      admin.tenantId,
      ['services'],
      () => commander.client.patch(`/api/v1/services/${s2.id}`, { operational_status: 'operational' }),
      403,
    );
    await refused(app.db.knex, admin.tenantId, ['services'], () => commander.client.post('/api/v1/services', { name: `ic-${uniq()}`, type: 'api' }), 403);
    await refused(app.db.knex, admin.tenantId, ['services'], () => commander.client.delete(`/api/v1/services/${s2.id}`), 403);
    expectStatus(await commander.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'resolved', message: 'ok' }), 201);
    assert.equal(await statusOf('services', s2.id), 'operational');
  });

  it('refuses a viewer any incident write (403) but lets them read', async () => {
    const inc = await created(commander.client, '/api/v1/incidents', { title: 'Viewer', severity: 'minor' });
    const tables = ['incidents', 'incident_timeline_entries', 'incident_affected_entities'];
    await refused(app.db.knex, admin.tenantId, tables, () => viewer.client.post('/api/v1/incidents', { title: 'nope', severity: 'minor' }), 403);
    await refused(
      app.db.knex,
      admin.tenantId,
      tables,
      () => viewer.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'identified', message: 'nope' }),
      403,
    );
    await refused(app.db.knex, admin.tenantId, tables, () => viewer.client.patch(`/api/v1/incidents/${inc.id}`, { title: 'nope' }), 403);
    await refused(app.db.knex, admin.tenantId, tables, () => viewer.client.delete(`/api/v1/incidents/${inc.id}`), 403);
    expectStatus(await viewer.client.get(`/api/v1/incidents/${inc.id}`), 200);
    const list = await viewer.client.get('/api/v1/incidents?status=investigating&limit=200');
    expectStatus(list, 200);
    assert.ok(list.body.data.some((i: { id: string }) => i.id === inc.id));
    assert.ok(list.body.data.every((i: { status: string }) => i.status === 'investigating'));
  });

  it('deleting an active incident returns its entities to operational; restoring brings the status back', async () => {
    const svc = await created(admin.client, '/api/v1/services', { name: `deleted-inc-${uniq()}`, type: 'cache' });
    const inc = await created(commander.client, '/api/v1/incidents', {
      title: 'To delete',
      severity: 'major',
      impact_type: 'outage',
      affected: [{ entity_type: 'services', entity_id: svc.id }],
    });
    assert.equal(await statusOf('services', svc.id), 'outage');
    expectStatus(await commander.client.delete(`/api/v1/incidents/${inc.id}`), 204);
    assertProblem(await viewer.client.get(`/api/v1/incidents/${inc.id}`), 404);
    assert.equal(await statusOf('services', svc.id), 'operational');
    expectStatus(await commander.client.post(`/api/v1/incidents/${inc.id}/restore`), 200);
    assert.equal(await statusOf('services', svc.id), 'outage');
  });

  it('refuses affected entities of another tenant (422 at affected.N.entity_id), nothing written', async () => {
    const other = await signupTenant(app);
    const foreign = await created(other.client, '/api/v1/services', { name: `foreign-${uniq()}`, type: 'api' });
    await refused(
      app.db.knex,
      admin.tenantId,
      ['incidents', 'incident_timeline_entries', 'incident_affected_entities'],
      () =>
        commander.client.post('/api/v1/incidents', {
          title: 'Cross-tenant',
          severity: 'minor',
          affected: [
            { entity_type: 'services', entity_id: s1.id },
            { entity_type: 'services', entity_id: foreign.id },
          ],
        }),
      422,
      { path: 'affected.1.entity_id' },
    );
    assert.equal((await other.client.get(`/api/v1/services/${foreign.id}`)).body.data.operational_status, 'operational');
  });
});
