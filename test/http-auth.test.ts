// Black-box HTTP: sign-up, login, /me, users (admin) and API keys, against a real node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, assertProblem, created, expectStatus, refused, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { startTestApp, type TestApp } from './support/server.js';

describe('HTTP auth: two fresh nodes in one process, each over its own database', () => {
  let first: TestApp;
  let second: TestApp;

  before(async () => {
    first = await startTestApp();
    second = await startTestApp();
  });
  after(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('serves authenticated reads from its own database right after start', async () => {
    const a = await first.signup();
    const b = await second.signup();
    for (const [app, who] of [
      [first, a],
      [second, b],
      [first, a],
    ] as const) {
      const me = await app.client(who.token).get('/api/v1/me');
      expectStatus(me, 200, 'GET /me on a fresh node');
      assert.equal(me.body.data.user.id, who.userId);
      expectStatus(await app.client(who.token).get('/api/v1/services'), 200, 'GET /services on a fresh node');
    }
    // Each node knows only its own database's tenants.
    assertProblem(await first.client(b.token).get('/api/v1/me'), 401);
  });
});

describe('HTTP auth: signup, login, users and API keys', () => {
  let app: TestApp;
  let admin: Tenant;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
  });
  after(async () => {
    await app?.close();
  });

  describe('signup', () => {
    it('answers 201 with tenant, user and access_token, and no password hash', async () => {
      const slug = `s-${randomUUID().slice(0, 8)}`;
      const res = await app.client().post('/api/v1/auth/signup', {
        tenant_name: `Signup ${slug}`,
        tenant_slug: slug,
        email: `Boss@${slug}.example`,
        password: 'long enough password',
        display_name: 'Boss',
      });
      expectStatus(res, 201);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const { tenant, user, access_token } = res.body.data;
      assert.equal(tenant.slug, slug);
      assert.match(tenant.id, /^[0-9a-f-]{36}$/);
      assert.equal(user.email, `boss@${slug}.example`, 'emails are stored lower-case');
      assert.equal(user.role, 'admin');
      assert.equal(typeof access_token, 'string');
      assert.ok(!res.text.includes('password'), 'no password or hash in the response');
      const me = await app.client(access_token).get('/api/v1/me');
      expectStatus(me, 200);
      assert.equal(me.body.data.tenant_id, tenant.id);
    });

    it('refuses a taken slug with 409', async () => {
      const count = async (table: string) => Number((await app.db.knex(table).count('* as n'))[0].n);
      const [tenants, users] = [await count('tenants'), await count('users')];
      const res = await app.client().post('/api/v1/auth/signup', {
        tenant_name: 'Another name entirely',
        tenant_slug: admin.slug,
        email: 'x@y.example',
        password: 'long enough password',
        display_name: 'X',
      });
      assertProblem(res, 409);
      assert.deepEqual([await count('tenants'), await count('users')], [tenants, users], 'no tenant and no user left behind');
      assert.equal(await app.db.knex('tenants').where({ name: 'Another name entirely' }).first(), undefined);
    });

    it('refuses a short password and a bad slug with 422 naming the fields', async () => {
      const res = await app.client().post('/api/v1/auth/signup', {
        tenant_name: 'Bad',
        tenant_slug: 'Not A Slug!',
        email: 'x@y.example',
        password: 'short',
        display_name: 'X',
      });
      assertProblem(res, 422, { path: 'password' });
      assertProblem(res, 422, { path: 'tenant_slug' });
      assert.equal(await app.db.knex('tenants').where({ name: 'Bad' }).first(), undefined, 'no tenant was created');
    });
  });

  describe('login', () => {
    it('returns a working access token with expires_in and the user', async () => {
      const res = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: admin.email, password: admin.password });
      expectStatus(res, 200);
      const { access_token, expires_in, user } = res.body.data;
      assert.equal(typeof access_token, 'string');
      assert.ok(Number.isInteger(expires_in) && expires_in > 0, `expires_in: ${expires_in}`);
      assert.equal(user.id, admin.userId);
      assert.ok(!('password_hash' in user));
      const me = await app.client(access_token).get('/api/v1/me');
      expectStatus(me, 200);
      assert.equal(me.body.data.user.id, admin.userId);
    });

    it('answers wrong password, unknown tenant and unknown email alike: 401 with the same message', async () => {
      const attempts = [
        { tenant_slug: admin.slug, email: admin.email, password: 'not the password' },
        { tenant_slug: `nope-${randomUUID().slice(0, 8)}`, email: admin.email, password: admin.password },
        { tenant_slug: admin.slug, email: 'nobody@nowhere.example', password: admin.password },
      ];
      const details = new Set<string>();
      for (const body of attempts) {
        const res = await app.client().post('/api/v1/auth/login', body);
        assertProblem(res, 401);
        details.add(res.body.detail);
      }
      assert.equal(details.size, 1, `one message for every failure: ${[...details].join(' | ')}`);
    });

    it('still accepts passwords hashed before the native bcrypt (a $2b$ hash made by bcryptjs)', async () => {
      const password = 'a password hashed before the switch';
      const made = await app
        .client(admin.token)
        .post('/api/v1/users', { email: `legacy-${randomUUID().slice(0, 8)}@example.com`, display_name: 'Legacy', role: 'viewer' });
      expectStatus(made, 201);
      await app.db.knex('users').where({ id: made.body.data.id }).update({ password_hash: '$2b$12$Cre0DuH31xY46.OvDVTBv.8oNxq6CS44Je/DXBCV5jQ9QrrlIm1lC' });
      const ok = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: made.body.data.email, password });
      expectStatus(ok, 200);
      assert.equal(ok.body.data.user.id, made.body.data.id);
      const wrong = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: made.body.data.email, password: `${password}!` });
      assertProblem(wrong, 401);
    });
  });

  describe('GET /me', () => {
    it('describes a login-token caller', async () => {
      const res = await admin.client.get('/api/v1/me');
      expectStatus(res, 200);
      assert.equal(res.body.data.user.id, admin.userId);
      assert.equal(res.body.data.tenant_id, admin.tenantId);
      assert.equal(res.body.data.actor.type, 'user');
      assert.equal(res.body.data.actor.role, 'admin');
      for (const type of ['services', 'incidents', 'dashboards', 'users']) assert.ok(res.body.data.actor.writes.includes(type), type);
    });

    it("lists the types the caller's role may write (what a client offers)", async () => {
      const viewer = await addMember(app, admin, 'viewer');
      const ic = await addMember(app, admin, 'incident_commander');
      const viewerMe = await viewer.client.get('/api/v1/me');
      expectStatus(viewerMe, 200);
      assert.deepEqual(viewerMe.body.data.actor.writes, []);
      const icMe = await ic.client.get('/api/v1/me');
      assert.deepEqual(icMe.body.data.actor.writes, ['incidents']);
    });

    it('describes an API-key caller', async () => {
      const key = await created(admin.client, '/api/v1/api-keys', { name: 'me-key', scope: 'read' });
      const res = await app.client(key.key).get('/api/v1/me');
      expectStatus(res, 200);
      assert.equal(res.body.data.actor.type, 'api_key');
      assert.equal(res.body.data.actor.id, key.id);
      assert.equal(res.body.data.actor.can_write, false);
      assert.deepEqual(res.body.data.actor.writes, [], 'a read-scoped key writes nothing');
      assert.equal(res.body.data.user.id, admin.userId);
      assert.equal(res.body.data.tenant_id, admin.tenantId);
    });
  });

  describe('users (admin)', () => {
    it('creates an SSO-only user without a password, who then cannot log in', async () => {
      const email = `sso-${randomUUID().slice(0, 8)}@example.com`;
      const res = await admin.client.post('/api/v1/users', { email, display_name: 'SSO person', role: 'editor', auth_provider: 'okta' });
      expectStatus(res, 201);
      assert.equal(res.headers.get('location'), `/api/v1/users/${res.body.data.id}`);
      assert.equal(res.body.data.role, 'editor');
      assert.ok(!res.text.includes('password_hash'));
      const login = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email, password: 'anything at all' });
      assertProblem(login, 401);
    });

    it('creates a user with a password, who can log in', async () => {
      const email = `pw-${randomUUID().slice(0, 8)}@example.com`;
      await created(admin.client, '/api/v1/users', { email, display_name: 'With password', role: 'viewer', password: 'another long password' });
      const login = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email, password: 'another long password' });
      expectStatus(login, 200);
      assert.equal(login.body.data.user.role, 'viewer');
    });

    it('refuses a viewer creating or listing users (403), but lets them read themselves', async () => {
      const viewer = await addMember(app, admin, 'viewer');
      // No escalation: no user row, no audit entry, no event.
      await refused(
        app.db.knex,
        admin.tenantId,
        ['users'],
        () => viewer.client.post('/api/v1/users', { email: 'x@example.com', display_name: 'X', role: 'admin' }),
        403,
      );
      assertProblem(await viewer.client.get('/api/v1/users'), 403);
      assertProblem(await viewer.client.get(`/api/v1/users/${admin.userId}`), 403);
      const self = await viewer.client.get(`/api/v1/users/${viewer.id}`);
      expectStatus(self, 200);
      assert.equal(self.body.data.role, 'viewer');
    });

    it('applies a role change to the user’s existing token at once', async () => {
      const editor = await addMember(app, admin, 'editor');
      await created(editor.client, '/api/v1/teams', { name: `team-${randomUUID().slice(0, 8)}` });
      const patch = await admin.client.patch(`/api/v1/users/${editor.id}`, { role: 'viewer' });
      expectStatus(patch, 200);
      assert.equal(patch.body.data.role, 'viewer');
      const me = await editor.client.get('/api/v1/me');
      expectStatus(me, 200);
      assert.equal(me.body.data.actor.role, 'viewer');
      await refused(app.db.knex, admin.tenantId, ['teams'], () => editor.client.post('/api/v1/teams', { name: `team-${randomUUID().slice(0, 8)}` }), 403);
    });

    it('makes a deactivated user’s token 401 at once, and a deleted user’s too', async () => {
      const editor = await addMember(app, admin, 'editor');
      expectStatus(await editor.client.get('/api/v1/me'), 200);
      expectStatus(await admin.client.patch(`/api/v1/users/${editor.id}`, { is_active: false }), 200);
      assertProblem(await editor.client.get('/api/v1/me'), 401);
      assertProblem(await editor.client.get('/api/v1/services'), 401);

      const other = await addMember(app, admin, 'viewer');
      expectStatus(await other.client.get('/api/v1/me'), 200);
      expectStatus(await admin.client.delete(`/api/v1/users/${other.id}`), 204);
      assertProblem(await other.client.get('/api/v1/me'), 401);
    });

    it('keeps the last active admin (409)', async () => {
      const before = await app.db.knex('users').where({ id: admin.userId }).first();
      await refused(app.db.knex, admin.tenantId, ['users'], () => admin.client.patch(`/api/v1/users/${admin.userId}`, { role: 'viewer' }), 409);
      await refused(app.db.knex, admin.tenantId, ['users'], () => admin.client.patch(`/api/v1/users/${admin.userId}`, { is_active: false }), 409);
      assert.deepEqual(await app.db.knex('users').where({ id: admin.userId }).first(), before, 'the admin row is untouched');
      const me = await admin.client.get('/api/v1/me');
      expectStatus(me, 200);
      assert.equal(me.body.data.user.role, 'admin');
      assert.equal(me.body.data.user.is_active, true);
    });
  });

  describe('API keys', () => {
    it('shows the key once: in the create response, never in the list', async () => {
      const res = await admin.client.post('/api/v1/api-keys', { name: 'ci', scope: 'read_write' });
      expectStatus(res, 201);
      const { id, name, scope, key } = res.body.data;
      assert.equal(name, 'ci');
      assert.equal(scope, 'read_write');
      assert.equal(typeof key, 'string');
      assert.ok(key.length >= 32);
      const list = await admin.client.get('/api/v1/api-keys');
      expectStatus(list, 200);
      const listed = list.body.data.find((k: { id: string }) => k.id === id);
      assert.ok(listed, 'the key is listed');
      assert.ok(!('key' in listed), 'the list has no key field');
      assert.ok(!list.text.includes(key), 'the key appears nowhere in the list');
      assert.ok(!('key_hash' in listed), 'nor its hash');
    });

    it('authenticates; a read key reads but gets 403 on writes; revoking is immediate', async () => {
      const read = await created(admin.client, '/api/v1/api-keys', { name: 'reader', scope: 'read' });
      const reader = app.client(read.key);
      expectStatus(await reader.get('/api/v1/services'), 200);
      expectStatus(await reader.get('/api/v1/me'), 200);
      await refused(app.db.knex, admin.tenantId, ['teams'], () => reader.post('/api/v1/teams', { name: 'by a read key' }), 403);
      await refused(app.db.knex, admin.tenantId, ['api_keys'], () => reader.post('/api/v1/api-keys', { name: 'escalate', scope: 'read_write' }), 403);
      await refused(
        app.db.knex,
        admin.tenantId,
        ['users'],
        () => reader.post('/api/v1/users', { email: 'k@example.com', display_name: 'K', role: 'admin' }),
        403,
      );

      const team = await created(admin.client, '/api/v1/teams', { name: `keyed-${randomUUID().slice(0, 8)}` });
      await refused(app.db.knex, admin.tenantId, ['teams'], () => reader.patch(`/api/v1/teams/${team.id}`, { description: 'nope' }), 403);
      await refused(app.db.knex, admin.tenantId, ['teams'], () => reader.delete(`/api/v1/teams/${team.id}`), 403);
      const still = await admin.client.get(`/api/v1/teams/${team.id}`);
      expectStatus(still, 200);
      assert.deepEqual([still.body.data.description, still.body.data.deleted_at, still.body.data.row_version], [team.description, null, team.row_version]);

      const rw = await created(admin.client, '/api/v1/api-keys', { name: 'writer', scope: 'read_write' });
      const writer = app.client(rw.key);
      const t = await writer.post('/api/v1/teams', { name: `by-key-${randomUUID().slice(0, 8)}` });
      expectStatus(t, 201);
      assert.equal(t.body.data.created_by, admin.userId, 'a key acts for the admin who made it');

      expectStatus(await admin.client.delete(`/api/v1/api-keys/${read.id}`), 204);
      assertProblem(await reader.get('/api/v1/services'), 401);
      assertProblem(await reader.get('/api/v1/me'), 401);
      expectStatus(await writer.get('/api/v1/me'), 200, 'other keys keep working');
      const list = await admin.client.get('/api/v1/api-keys');
      assert.ok(list.body.data.find((k: { id: string }) => k.id === read.id).revoked_at, 'revoked_at is set');
    });

    it('records last_used_at when a key is used', async () => {
      const k = await created(admin.client, '/api/v1/api-keys', { name: 'used', scope: 'read' });
      let list = await admin.client.get('/api/v1/api-keys');
      assert.equal(list.body.data.find((x: { id: string }) => x.id === k.id).last_used_at, null);
      expectStatus(await app.client(k.key).get('/api/v1/teams'), 200);
      list = await admin.client.get('/api/v1/api-keys');
      const usedAt = list.body.data.find((x: { id: string }) => x.id === k.id).last_used_at;
      assert.ok(usedAt, 'last_used_at is set');
      assert.ok(Math.abs(Date.parse(usedAt) - Date.now()) < 60_000);
    });

    it('is admin-only: an editor and a viewer get 403', async () => {
      for (const role of ['editor', 'viewer'] as const) {
        const m = await addMember(app, admin, role);
        await refused(app.db.knex, admin.tenantId, ['api_keys'], () => m.client.post('/api/v1/api-keys', { name: 'mine', scope: 'read' }), 403);
        assertProblem(await m.client.get('/api/v1/api-keys'), 403);
      }
    });

    it('refuses an unknown scope with 422', async () => {
      await refused(app.db.knex, admin.tenantId, ['api_keys'], () => admin.client.post('/api/v1/api-keys', { name: 'bad', scope: 'everything' }), 422, {
        path: 'scope',
      });
    });
  });
});
