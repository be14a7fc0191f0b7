// Black-box HTTP: login tokens and sessions. A token must carry exp, iat, iss and aud and its
// user's token version; logout, a password change and deactivation end every session of the user
// at once; POST /auth/refresh renews a valid token.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/modules/auth/tokens.js';
import { addMember, assertProblem, created, expectStatus, httpSuite, signClaims, type Tenant } from './support/http-assertions.js';
import { dereference } from './support/openapi.js';
import type { TestApp } from './support/server.js';

const PASSWORD = 'sessions-test-passphrase-7ordinary';

describe('HTTP sessions: token claims, token version, logout and refresh', () => {
  const suite = httpSuite();
  let app: TestApp;
  let admin: Tenant;
  before(() => ({ app, admin } = suite));

  /** A user of the tenant with a password, and a login token of theirs. */
  async function userWithLogin(role = 'editor') {
    const email = `session-${randomUUID().slice(0, 8)}@example.com`;
    const user = await created(admin.client, '/api/v1/users', { email, display_name: 'Session', role, password: PASSWORD });
    return { id: user.id as string, email, token: await login(email) };
  }

  async function login(email: string, password = PASSWORD): Promise<string> {
    const res = await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email, password });
    expectStatus(res, 200, 'login');
    return res.body.data.access_token as string;
  }

  const me = (token: string) => app.client(token).get('/api/v1/me');

  it('issues login tokens with sub, tid, ver, jti, iat, exp (an hour), iss and aud', async () => {
    const { id, token } = await userWithLogin();
    const claims = jwt.decode(token) as Record<string, unknown>;
    assert.equal(claims.sub, id);
    assert.equal(claims.tid, admin.tenantId);
    assert.equal(claims.ver, 0);
    assert.equal(claims.iss, TOKEN_ISSUER);
    assert.equal(claims.aud, TOKEN_AUDIENCE);
    assert.equal(typeof claims.iat, 'number');
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);
    const signup = jwt.decode(admin.token) as Record<string, unknown>;
    assert.equal(signup.iss, TOKEN_ISSUER);
    assert.equal(typeof signup.exp, 'number');
  });

  it('refuses a token without exp, iat, iss, aud or ver, or of another issuer or audience, with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: admin.userId, tid: admin.tenantId, ver: 0, iat: now, exp: now + 600 };
    expectStatus(await me(signClaims(base)), 200, 'the complete token');
    const { exp: _exp, ...noExp } = base;
    const { iat: _iat, ...noIat } = base;
    const { ver: _ver, ...noVer } = base;
    const refused: [string, string][] = [
      ['no exp', signClaims(noExp)],
      ['no iat', signClaims(noIat)],
      ['no ver', signClaims(noVer)],
      ['no iss', signClaims(base, { issuer: null })],
      ['no aud', signClaims(base, { audience: null })],
      ['another issuer', signClaims(base, { issuer: 'someone-else' })],
      ['another audience', signClaims(base, { audience: 'another-api' })],
      ['a later token version', signClaims({ ...base, ver: 1 })],
    ];
    for (const [what, token] of refused) {
      const res = await me(token);
      assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
      assertProblem(res, 401, { detail: /invalid, expired or revoked/ });
    }
  });

  it('logout ends every session of the user at once (REST); their API keys and other users stay signed in', async () => {
    const user = await userWithLogin('admin');
    const second = await login(user.email);
    assert.notEqual(second, user.token, 'two logins are two tokens');
    const key = await created(app.client(user.token), '/api/v1/api-keys', { name: `keep-${randomUUID().slice(0, 8)}`, scope: 'read' });
    const bystander = await addMember(app, admin, 'viewer');
    for (const token of [user.token, second, key.key, bystander.token]) expectStatus(await me(token), 200); // cached now

    const out = await app.client(user.token).post('/api/v1/auth/logout');
    expectStatus(out, 204);
    assertProblem(await me(user.token), 401);
    assertProblem(await me(second), 401, { detail: /invalid, expired or revoked/ });
    assertProblem(await app.client(second).post('/api/v1/teams', { name: `late-${randomUUID().slice(0, 8)}` }), 401);
    expectStatus(await me(key.key), 200, 'an API key is not a session');
    expectStatus(await me(bystander.token), 200);
    // A new login is a new session.
    const again = await login(user.email);
    expectStatus(await me(again), 200);
    assert.equal((jwt.decode(again) as { ver: number }).ver, 1);
    // Audited and announced as a user write.
    const events = await app.db.knex('change_events').where({ tenant_id: admin.tenantId, entity_id: user.id, type: 'users.updated' });
    assert.ok(
      events.some((e) => e.changes?.token_version?.new === 1),
      JSON.stringify(events.map((e) => e.changes)),
    );
  });

  it('refuses logout by an API key (403): a key is revoked, not logged out', async () => {
    const key = await created(admin.client, '/api/v1/api-keys', { name: `logout-${randomUUID().slice(0, 8)}`, scope: 'read_write' });
    assertProblem(await app.client(key.key).post('/api/v1/auth/logout'), 403);
    expectStatus(await me(admin.token), 200);
    assertProblem(await app.client().post('/api/v1/auth/logout'), 401);
  });

  it('a password change ends every session of the user', async () => {
    const user = await userWithLogin();
    expectStatus(await me(user.token), 200);
    expectStatus(await admin.client.patch(`/api/v1/users/${user.id}`, { password: `${PASSWORD}-new` }), 200);
    assertProblem(await me(user.token), 401);
    expectStatus(await me(await login(user.email, `${PASSWORD}-new`)), 200);
  });

  it('a deactivated user’s tokens stay refused when they are reactivated', async () => {
    const user = await userWithLogin();
    expectStatus(await admin.client.patch(`/api/v1/users/${user.id}`, { is_active: false }), 200);
    assertProblem(await me(user.token), 401);
    expectStatus(await admin.client.patch(`/api/v1/users/${user.id}`, { is_active: true }), 200);
    assertProblem(await me(user.token), 401, { detail: /invalid, expired or revoked/ });
    expectStatus(await me(await login(user.email)), 200);
  });

  it('POST /auth/refresh renews a valid login token: a new expiry, the same session', async () => {
    const user = await userWithLogin();
    const now = Math.floor(Date.now() / 1000);
    const shortLived = signClaims({ sub: user.id, tid: admin.tenantId, ver: 0, iat: now, exp: now + 30 });
    const res = await app.client(shortLived).post('/api/v1/auth/refresh');
    expectStatus(res, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store', 'a token is never cached');
    assert.equal(res.body.data.token_type, 'Bearer');
    assert.equal(res.body.data.expires_in, 3600);
    const renewed = jwt.decode(res.body.data.access_token) as Record<string, number | string>;
    assert.equal(renewed.sub, user.id);
    assert.equal(renewed.tid, admin.tenantId);
    assert.equal(renewed.ver, 0);
    assert.ok((renewed.exp as number) >= now + 3600, 'a new expiry');
    expectStatus(await me(res.body.data.access_token), 200);
    // The renewed token belongs to the same session: logout ends it too.
    expectStatus(await app.client(res.body.data.access_token).post('/api/v1/auth/logout'), 204);
    assertProblem(await app.client(res.body.data.access_token).post('/api/v1/auth/refresh'), 401);
    assertProblem(await app.client(shortLived).post('/api/v1/auth/refresh'), 401);
  });

  it('POST /auth/refresh refuses an expired token, an API key and no token (401)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signClaims({ sub: admin.userId, tid: admin.tenantId, ver: 0, iat: now - 120, exp: now - 60 });
    assertProblem(await app.client(expired).post('/api/v1/auth/refresh'), 401);
    const key = await created(admin.client, '/api/v1/api-keys', { name: `refresh-${randomUUID().slice(0, 8)}`, scope: 'read' });
    assertProblem(await app.client(key.key).post('/api/v1/auth/refresh'), 401);
    assertProblem(await app.client().post('/api/v1/auth/refresh'), 401);
  });

  it('documents refresh and logout in the OpenAPI document', async () => {
    const doc = dereference((await app.client().get('/api/v1/openapi.json')).body);
    const refresh = doc.paths['/api/v1/auth/refresh'].post;
    // Every operation names its security now: refresh takes a login token only (no API key, not public).
    assert.deepEqual(refresh.security, [{ bearer: [] }], 'refresh takes the bearer token');
    assert.ok(refresh.responses['200'].content['application/json'].schema.properties.data.properties.access_token);
    assert.ok(doc.paths['/api/v1/auth/logout'].post.responses['204']);
  });
});
