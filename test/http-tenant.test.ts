// Black-box HTTP: the caller's tenant. Every member and key reads it; only admins rename or
// reconfigure it, through the write path (one audit entry, one tenants.updated event); the slug
// logins use never changes; names stay unique among tenants.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, assertProblem, created, expectStatus, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

describe('HTTP /tenant', () => {
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

  /** The tenant row as stored, and how many tenants.updated events and audit entries it has. */
  async function stored(tenantId = admin.tenantId) {
    const tenant = await app.db.knex('tenants').where({ id: tenantId }).first('name', 'slug', 'settings');
    const events = await app.db.knex('change_events').where({ tenant_id: tenantId, type: 'tenants.updated' }).count<{ n: string }[]>('* as n');
    const audits = await app.db.knex('audit_logs').where({ tenant_id: tenantId, entity_type: 'tenants' }).count<{ n: string }[]>('* as n');
    return { tenant, events: Number(events[0].n), audits: Number(audits[0].n) };
  }

  it('is read by every member and by a read-only API key: its own tenant, never another', async () => {
    const key = await created(admin.client, '/api/v1/api-keys', { name: 'reader', scope: 'read' });
    for (const client of [admin.client, viewer.client, editor.client, app.client(key.key)]) {
      const res = await client.get('/api/v1/tenant');
      expectStatus(res, 200);
      assert.equal(res.body.data.id, admin.tenantId);
      assert.equal(res.body.data.slug, admin.slug);
      assert.equal(res.body.data.is_active, true);
      assert.deepEqual(res.body.data.settings, {});
    }
    const theirs = await other.client.get('/api/v1/tenant');
    assert.equal(theirs.body.data.id, other.tenantId);
    assertProblem(await app.client().get('/api/v1/tenant'), 401);
  });

  it('is renamed and configured by an admin: one audit entry and one tenants.updated event with the changes', async () => {
    const before = await stored();
    const name = `Renamed ${randomUUID().slice(0, 8)}`;
    const res = await admin.client.patch('/api/v1/tenant', { name, settings: { default_environment: 'production', tiers: [1, 2] } });
    expectStatus(res, 200);
    assert.equal(res.body.data.name, name);
    assert.equal(res.body.data.slug, admin.slug, 'the slug stays');
    assert.deepEqual(res.body.data.settings, { default_environment: 'production', tiers: [1, 2] });
    const after = await stored();
    assert.equal(after.tenant.name, name);
    assert.equal(after.events, before.events + 1);
    assert.equal(after.audits, before.audits + 1);
    const events = await admin.client.get('/api/v1/events?since=0&limit=500');
    const event = events.body.data.filter((e: { type: string }) => e.type === 'tenants.updated').at(-1);
    assert.equal(event.data.name, name);
    assert.equal(event.changes.name.new, name);
    assert.deepEqual(event.changes.settings.new, { default_environment: 'production', tiers: [1, 2] });

    // The same values again: nothing to write, no event.
    expectStatus(await admin.client.patch('/api/v1/tenant', { name }), 200);
    assert.equal((await stored()).events, after.events);
    // Sessions go on: the rename drops cached principals, it ends nobody's access.
    expectStatus(await viewer.client.get('/api/v1/me'), 200);
    const login = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: admin.email, password: admin.password });
    expectStatus(login, 200);
  });

  it('refuses non-admins, a read-only key, a taken name and bad input, changing nothing', async () => {
    const key = await created(admin.client, '/api/v1/api-keys', { name: 'writer', scope: 'read_write' });
    const reader = await created(admin.client, '/api/v1/api-keys', { name: 'ro', scope: 'read' });
    const before = await stored();
    assertProblem(await viewer.client.patch('/api/v1/tenant', { name: 'By a viewer' }), 403);
    assertProblem(await editor.client.patch('/api/v1/tenant', { name: 'By an editor' }), 403);
    assertProblem(await app.client(reader.key).patch('/api/v1/tenant', { name: 'By a read key' }), 403);
    const theirName = (await other.client.get('/api/v1/tenant')).body.data.name;
    assertProblem(await admin.client.patch('/api/v1/tenant', { name: theirName }), 409);
    assertProblem(await admin.client.patch('/api/v1/tenant', { slug: 'new-slug' }), 422, { path: 'slug' });
    assertProblem(await admin.client.patch('/api/v1/tenant', { is_active: false }), 422, { path: 'is_active' });
    assertProblem(await admin.client.patch('/api/v1/tenant', {}), 422);
    assertProblem(await admin.client.patch('/api/v1/tenant', { name: '   ' }), 422, { path: 'name' });
    assertProblem(await admin.client.patch('/api/v1/tenant', { settings: { big: 'x'.repeat(17_000) } }), 422, { path: 'settings' });
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    assertProblem(await admin.client.patch('/api/v1/tenant', { settings: many }), 422, { path: 'settings' });
    assert.deepEqual(await stored(), before, 'nothing written');
    // A read-write key of an admin writes like its owner.
    expectStatus(await app.client(key.key).patch('/api/v1/tenant', { settings: { by: 'key' } }), 200);
  });
});
