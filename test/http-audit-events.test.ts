// Black-box HTTP: the audit log (admin) and the change log (`GET /events`), whose entries
// are the same envelopes the live events push.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  addMember,
  assertProblem,
  created,
  expectStatus,
  lastSeq,
  signupTenant,
  startHttpApp,
  walkPages,
  type Member,
  type Tenant,
} from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP audit log and change log', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let editor: Member;
  let viewer: Member;
  let svc: Record<string, any>;
  const requestId = `audit-${uniq()}`;
  const USER_AGENT = 'audit-test/1.0 (checks the audit metadata)';
  let startedAt: string;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    startedAt = new Date(Date.now() - 1000).toISOString();
    const res = await admin.client.post(
      '/api/v1/services',
      { name: `audited-${uniq()}`, type: 'api' },
      { 'x-request-id': requestId, 'user-agent': USER_AGENT },
    );
    expectStatus(res, 201);
    assert.equal(res.headers.get('x-request-id'), requestId);
    svc = res.body.data;
    expectStatus(await editor.client.patch(`/api/v1/services/${svc.id}`, { name: `${svc.name}-renamed`, description: 'now described' }), 200);
    expectStatus(await editor.client.delete(`/api/v1/services/${svc.id}`), 204);
    expectStatus(await admin.client.post(`/api/v1/services/${svc.id}/restore`), 200);
    // Noise in this tenant and in another one.
    for (let i = 0; i < 4; i++) await created(editor.client, '/api/v1/teams', { name: `audit-team-${i}-${uniq()}` });
    for (let i = 0; i < 3; i++) await created(other.client, '/api/v1/teams', { name: `other-team-${i}` });
  });
  after(async () => {
    await app?.close();
  });

  describe('GET /audit-logs', () => {
    it('finds a write by the X-Request-Id it was sent with, with actor, action, target and ip', async () => {
      const res = await admin.client.get(`/api/v1/audit-logs?entity_id=${svc.id}&action=create`);
      expectStatus(res, 200);
      assert.equal(res.body.data.length, 1);
      const entry = res.body.data[0];
      assert.equal(entry.request_id, requestId);
      assert.equal(entry.action, 'create');
      assert.equal(entry.actor.id, admin.userId);
      assert.equal(entry.actor.type, 'user');
      assert.deepEqual({ type: entry.target.entity_type, id: entry.target.entity_id }, { type: 'services', id: svc.id });
      assert.ok(typeof entry.ip === 'string' && entry.ip.length > 0, 'ip recorded');
      assert.equal(entry.user_agent, USER_AGENT);
      assert.equal(entry.metadata.user_agent, USER_AGENT);
    });

    it('lists what a create set as changes (old null), without identity or bookkeeping', async () => {
      const [entry] = (await admin.client.get(`/api/v1/audit-logs?entity_id=${svc.id}&action=create`)).body.data;
      assert.deepEqual(entry.changes.name, { old: null, new: svc.name });
      assert.deepEqual(entry.changes.type, { old: null, new: 'api' });
      for (const field of ['id', 'version', 'created_at', 'updated_at', 'deleted_at', 'description']) {
        assert.ok(!(field in entry.changes), `${field} is not a change of the create`);
      }
      const [event] = (await admin.client.get(`/api/v1/events?entity_type=services&entity_id=${svc.id}`)).body.data;
      assert.equal(event.type, 'services.created');
      assert.deepEqual(event.changes, entry.changes, "the event's changes are the audit entry's");
    });

    it('gives a delete and a restore the move of deleted_at as changes', async () => {
      const [deleted] = (await admin.client.get(`/api/v1/audit-logs?entity_id=${svc.id}&action=delete`)).body.data;
      const [restored] = (await admin.client.get(`/api/v1/audit-logs?entity_id=${svc.id}&action=restore`)).body.data;
      assert.deepEqual(Object.keys(deleted.changes), ['deleted_at']);
      assert.equal(deleted.changes.deleted_at.old, null);
      assert.ok(Date.parse(deleted.changes.deleted_at.new) > 0, 'the time of deletion');
      assert.deepEqual(restored.changes, { deleted_at: { old: deleted.changes.deleted_at.new, new: null } });
    });

    it('audits a login (action login, address, User-Agent, last_login_at) and nothing for a failed one', async () => {
      const login = (password: string) =>
        app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: admin.email, password }, { 'user-agent': USER_AGENT });
      const entries = async () => (await admin.client.get(`/api/v1/audit-logs?action=login&actor_id=${admin.userId}`)).body.data;
      const seq = await lastSeq(app.db.knex, admin.tenantId);
      assertProblem(await login(`${admin.password}-wrong`), 401);
      assert.deepEqual(await entries(), [], 'a failed login writes nothing');
      assert.equal(await lastSeq(app.db.knex, admin.tenantId), seq);
      const ok = await login(admin.password);
      expectStatus(ok, 200);
      const [entry] = await entries();
      assert.equal(entry.action, 'login');
      assert.deepEqual({ type: entry.target.entity_type, id: entry.target.entity_id }, { type: 'users', id: admin.userId });
      assert.equal(entry.user_agent, USER_AGENT);
      assert.ok(entry.ip, 'the address');
      assert.deepEqual(entry.changes, { last_login_at: { old: null, new: ok.body.data.user.last_login_at } });
      assert.ok(Date.parse(ok.body.data.user.last_login_at) > 0, 'the login returns the user as it now is');
      const events = (await admin.client.get(`/api/v1/events?since=${seq}`)).body.data;
      assert.deepEqual(
        events.map((e: any) => [e.type, e.entity_id]),
        [['users.updated', admin.userId]],
      );
      assert.deepEqual(events[0].changes, entry.changes);
    });

    it('carries before/after diffs as changes {field: {old, new}}', async () => {
      const res = await admin.client.get(`/api/v1/audit-logs?entity_id=${svc.id}&action=update`);
      expectStatus(res, 200);
      assert.equal(res.body.data.length, 1);
      const { changes } = res.body.data[0];
      assert.deepEqual(changes.name, { old: svc.name, new: `${svc.name}-renamed` });
      assert.deepEqual(changes.description, { old: null, new: 'now described' });
      assert.ok(!('row_version' in changes), 'bookkeeping columns are not diffs');
    });

    it('filters by entity_type, entity_id, actor_id, action and since', async () => {
      const all = (await walkPages(admin.client, '/api/v1/audit-logs?limit=200')).items;
      const check = async (query: string, pred: (e: any) => boolean) => {
        const { items, metas } = await walkPages(admin.client, `/api/v1/audit-logs?limit=200&${query}`);
        const expected = all.filter(pred);
        assert.ok(expected.length > 0, `${query}: the fixture has matches`);
        assert.deepEqual(items.map((e) => e.id).sort(), expected.map((e) => e.id).sort(), query);
        assert.equal(metas[0].total, expected.length, `${query}: meta.total`);
      };
      await check('entity_type=teams', (e) => e.target.entity_type === 'teams');
      await check(`entity_id=${svc.id}`, (e) => e.target.entity_id === svc.id);
      await check(`actor_id=${editor.id}`, (e) => e.actor.id === editor.id);
      await check('action=delete', (e) => e.action === 'delete');
      await check('action=restore', (e) => e.action === 'restore');
      await check(`entity_type=services&actor_id=${editor.id}`, (e) => e.target.entity_type === 'services' && e.actor.id === editor.id);
      await check(`since=${encodeURIComponent(startedAt)}`, (e) => Date.parse(e.timestamp) >= Date.parse(startedAt));
      const future = await admin.client.get(`/api/v1/audit-logs?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`);
      expectStatus(future, 200);
      assert.deepEqual(future.body.data, []);
      assert.ok(!all.some((e) => e.target.name?.startsWith('other-team')), "no other tenant's entries");
    });

    it('pages with a cursor: newest first, no duplicates, no gaps', async () => {
      const full = await walkPages(admin.client, '/api/v1/audit-logs?limit=200');
      const paged = await walkPages(admin.client, '/api/v1/audit-logs?limit=3');
      assert.ok(paged.metas.length >= 3, 'several pages');
      assert.deepEqual(
        paged.items.map((e) => e.id),
        full.items.map((e) => e.id),
      );
      assert.ok(paged.metas.every((m) => m.total === full.items.length));
      for (let i = 1; i < paged.items.length; i++) {
        assert.ok(Date.parse(paged.items[i - 1].timestamp) >= Date.parse(paged.items[i].timestamp), 'newest first');
      }
      assertProblem(await admin.client.get('/api/v1/audit-logs?cursor=garbage!'), 400);
    });

    it('is admin-only: 403 for a viewer and an editor', async () => {
      assertProblem(await viewer.client.get('/api/v1/audit-logs'), 403);
      assertProblem(await editor.client.get('/api/v1/audit-logs'), 403);
    });

    it('refuses bad filters with 422 naming the parameter', async () => {
      assertProblem(await admin.client.get('/api/v1/audit-logs?entity_id=nope'), 422, { path: 'query.entity_id' });
      assertProblem(await admin.client.get('/api/v1/audit-logs?since=yesterday'), 422, { path: 'query.since' });
      assertProblem(await admin.client.get('/api/v1/audit-logs?limit=0'), 422, { path: 'query.limit' });
    });
  });

  describe('GET /events', () => {
    it("returns the tenant's own change log in seq order, as live-event envelopes", async () => {
      const { body } = await viewer.client.get('/api/v1/events?since=0&limit=1000');
      const events = body.data as any[];
      const last = await lastSeq(app.db.knex, admin.tenantId);
      assert.equal(events.length, last);
      assert.deepEqual(
        events.map((e) => e.seq),
        Array.from({ length: last }, (_, i) => i + 1),
        'gapless, in order',
      );
      assert.ok(
        events.every((e) => e.tenant_id === admin.tenantId),
        'only this tenant',
      );
      const created = events.find((e) => e.entity_id === svc.id && e.action === 'created');
      assert.equal(created.type, 'services.created');
      assert.equal(created.entity_type, 'services');
      assert.deepEqual(created.actor, { type: 'user', id: admin.userId });
      assert.equal(created.data.id, svc.id);
      assert.ok(!Number.isNaN(Date.parse(created.at)));
      const updated = events.find((e) => e.entity_id === svc.id && e.action === 'updated');
      assert.deepEqual(updated.changes.name, { old: svc.name, new: `${svc.name}-renamed` });
      assert.deepEqual(
        events.filter((e) => e.entity_id === svc.id).map((e) => e.type),
        ['services.created', 'services.updated', 'services.deleted', 'services.restored'],
      );
    });

    it('returns only what follows since, honours limit, and is empty past the end', async () => {
      const last = await lastSeq(app.db.knex, admin.tenantId);
      let res = await admin.client.get(`/api/v1/events?since=${last - 2}`);
      expectStatus(res, 200);
      assert.deepEqual(
        res.body.data.map((e: { seq: number }) => e.seq),
        [last - 1, last],
      );
      res = await admin.client.get('/api/v1/events?since=0&limit=2');
      assert.deepEqual(
        res.body.data.map((e: { seq: number }) => e.seq),
        [1, 2],
      );
      res = await admin.client.get(`/api/v1/events?since=${last}`);
      assert.deepEqual(res.body.data, []);
      res = await admin.client.get(`/api/v1/events?since=${last + 1000}`);
      expectStatus(res, 200);
      assert.deepEqual(res.body.data, []);
      const mine = await other.client.get('/api/v1/events?since=0');
      assert.ok(mine.body.data.every((e: { tenant_id: string }) => e.tenant_id === other.tenantId));
      assert.ok(!mine.body.data.some((e: { entity_id: string }) => e.entity_id === svc.id));
    });

    it('refuses a bad since or limit with 422', async () => {
      assertProblem(await admin.client.get('/api/v1/events?since=-1'), 422, { path: 'query.since' });
      assertProblem(await admin.client.get('/api/v1/events?since=abc'), 422, { path: 'query.since' });
      assertProblem(await admin.client.get('/api/v1/events?limit=0'), 422, { path: 'query.limit' });
      assertProblem(await admin.client.get('/api/v1/events?since=99999999999999999999999'), 422, { path: 'query.since' });
    });
  });
});
