// Review fixes over HTTP and sockets: admin-only records in the change log, read-scoped admin
// keys, lower-cased UUIDs, no-op user PATCHes and the last-admin rule under concurrency.
import assert from 'node:assert/strict';
import type { TestApp } from './support/server.js';
import { addMember, created, expectStatus, refused, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { connectLive, waitFor, type LiveClient } from './support/live-events.js';

describe('HTTP: who sees what', () => {
  let app: TestApp;
  let tenant: Tenant;
  const sockets: LiveClient[] = [];

  before(async () => {
    app = await startHttpApp();
    tenant = await signupTenant(app);
  });
  after(async () => {
    for (const s of sockets) s.close();
    await app?.close();
  });

  it('shows admin-only records (users, keys, grants) to non-admins by id only, in /events and live', async () => {
    const viewer = await addMember(app, tenant, 'viewer');
    const adminSocket = await connectLive(app.url, { token: tenant.token });
    const viewerSocket = await connectLive(app.url, { token: viewer.token });
    sockets.push(adminSocket, viewerSocket);
    const key = await created(tenant.client, '/api/v1/api-keys', { name: 'ci', scope: 'read' });
    await waitFor(() => viewerSocket.events.some((e) => e.entity_id === key.id) && adminSocket.events.some((e) => e.entity_id === key.id), 'key events');

    const seen = viewerSocket.events.find((e) => e.entity_id === key.id)!;
    assert.deepEqual(seen.data, { id: key.id });
    assert.equal(JSON.stringify(seen).includes(key.key_prefix), false);
    const adminSeen = adminSocket.events.find((e) => e.entity_id === key.id)!;
    assert.equal((adminSeen.data as { name: string }).name, 'ci');

    const asViewer = await viewer.client.get('/api/v1/events?since=0&limit=1000');
    expectStatus(asViewer, 200);
    const userEvents = asViewer.body.data.filter((e: { entity_type: string }) => e.entity_type === 'users');
    assert.ok(userEvents.length >= 2);
    for (const e of userEvents) {
      assert.deepEqual(Object.keys(e.data), ['id']);
      assert.equal(JSON.stringify(e).includes('@'), false, 'no email reaches a viewer');
    }
    const seqs = asViewer.body.data.map((e: { seq: number }) => e.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_: number, i: number) => i + 1),
      'the seq stays gapless for everyone',
    );
    const asAdmin = await tenant.client.get('/api/v1/events?since=0&limit=1000');
    assert.ok(asAdmin.body.data.some((e: { entity_type: string; data: { email?: string } }) => e.entity_type === 'users' && e.data.email));
  });

  it('lets a read-scoped admin key read admin-only lists but not write them', async () => {
    const key = await created(tenant.client, '/api/v1/api-keys', { name: 'auditor', scope: 'read' });
    const auditor = app.client(key.key);
    expectStatus(await auditor.get('/api/v1/audit-logs?limit=5'), 200);
    expectStatus(await auditor.get('/api/v1/users'), 200);
    expectStatus(await auditor.get('/api/v1/api-keys'), 200);
    await refused(app.db.knex, tenant.tenantId, ['users'], () => auditor.post('/api/v1/users', { email: 'x@example.com', display_name: 'X' }), 403);
    await refused(app.db.knex, tenant.tenantId, ['api_keys'], () => auditor.post('/api/v1/api-keys', { name: 'more', scope: 'read' }), 403);
  });

  it('accepts upper-case UUIDs in bodies and paths as the same ids', async () => {
    const comp = await created(tenant.client, '/api/v1/components', { name: 'upper-lib', type: 'library' });
    const svc = await created(tenant.client, '/api/v1/services', {
      name: 'upper-svc',
      type: 'api',
      component_ids: [comp.id.toUpperCase(), comp.id],
    });
    assert.deepEqual(svc.component_ids, [comp.id]);
    expectStatus(await tenant.client.get(`/api/v1/services/${svc.id.toUpperCase()}`), 200);
    const note = await tenant.client.post('/api/v1/comments', { entity_type: 'services', entity_id: svc.id.toUpperCase(), body: 'hi' });
    expectStatus(note, 201);
  });

  it('writes nothing for a user PATCH that changes nothing', async () => {
    const editor = await addMember(app, tenant, 'editor');
    const before = (await tenant.client.get('/api/v1/events?since=0&limit=1000')).body.data.length;
    const res = await tenant.client.patch(`/api/v1/users/${editor.id}`, { role: 'editor' });
    expectStatus(res, 200);
    assert.equal(res.body.data.row_version, 1);
    assert.equal((await tenant.client.get('/api/v1/events?since=0&limit=1000')).body.data.length, before);
  });

  it('keeps one active admin when two admins demote each other at the same time', async () => {
    const other = await signupTenant(app);
    const second = await addMember(app, other, 'admin');
    const [a, b] = await Promise.all([
      other.client.patch(`/api/v1/users/${second.id}`, { role: 'viewer' }),
      second.client.patch(`/api/v1/users/${other.userId}`, { role: 'viewer' }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    const admins = await app.db.knex('users').where({ tenant_id: other.tenantId, role: 'admin', is_active: true });
    assert.equal(admins.length, 1);
  });
});
