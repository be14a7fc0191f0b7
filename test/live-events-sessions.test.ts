// Live sockets follow their session: a socket is disconnected at its login token's expiry unless it
// took a renewed token (`refresh_token`), and when its user's sessions end (logout, a password
// change), and when its tenant is deactivated — always with a `revoked` event first. One node,
// in-process bus, real socket.io-client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { startServer, type AppHandle } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { quietLogger } from './support/factories.js';
import { TEST_JWT_SECRET, mintToken } from './support/http-assertions.js';
import { connectError, connectLive, createTeam, holdHandshake, LiveClient, rest, signup, sleep, waitFor } from './support/live-events.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

const PASSWORD = 'live-sessions-passphrase-7ordinary';
const expiryOf = (token: string) => (jwt.decode(token) as { exp: number }).exp * 1000;
const TENANT_CLI = fileURLToPath(new URL('../src/cli/tenant.ts', import.meta.url));

describe('live events: sessions (expiry, refresh_token, logout, password change)', function () {
  this.timeout(20_000);
  let db: TestDatabase;
  let node: AppHandle;
  let tenant: { tenantId: string; token: string; userId: string };
  let slug: string;
  const clients: LiveClient[] = [];

  async function live(options: Parameters<typeof connectLive>[1]): Promise<LiveClient> {
    const client = await connectLive(node.url, options);
    clients.push(client);
    return client;
  }

  async function login(email: string, password = PASSWORD): Promise<string> {
    const res = await rest(node.url, 'POST', '/auth/login', undefined, { tenant_slug: slug, email, password });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.access_token as string;
  }

  /** A user with a password and a login token of theirs. */
  async function userWithLogin(role = 'admin') {
    const email = `live-session-${randomUUID().slice(0, 8)}@example.com`;
    const made = await rest(node.url, 'POST', '/users', tenant.token, { email, display_name: 'Live session', role, password: PASSWORD });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return { id: made.body.data.id as string, email, token: await login(email) };
  }

  before(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'error' });
    node = await startServer({ config, knex: db.knex, logger: quietLogger, live: { sweepIntervalMs: 300 } });
    tenant = await signup(node.url);
    slug = (await db.knex('tenants').where({ id: tenant.tenantId }).first()).slug as string;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await node?.close();
    await db?.drop();
  });

  it('disconnects a socket when its login token expires, with revoked token_expired first', async () => {
    const token = mintToken(tenant.tenantId, tenant.userId, 2);
    const expiresAt = expiryOf(token);
    const short = await live({ token });
    const long = await live({ token: tenant.token });
    await waitFor(() => !short.socket.connected, 'the expired socket to be disconnected', 6_000);
    assert.ok(Date.now() >= expiresAt, 'not before its expiry');
    assert.ok(Date.now() - expiresAt < 1_500, `${Date.now() - expiresAt} ms after its expiry`);
    assert.deepEqual(short.revocations, ['token_expired']);
    assert.deepEqual(short.disconnects, ['io server disconnect']);
    assert.ok(long.socket.connected, 'a socket whose token is still valid stays');
  });

  it('takes a renewed token on refresh_token without reconnecting: still connected and delivering after the old expiry', async () => {
    const token = mintToken(tenant.tenantId, tenant.userId, 2);
    const client = await live({ token });
    const renewed = await rest(node.url, 'POST', '/auth/refresh', token);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    const next = renewed.body.data.access_token as string;
    const ack = await client.refreshToken({ token: next });
    assert.deepEqual(ack, { ok: true, expires_at: new Date(expiryOf(next)).toISOString() });
    await sleep(Math.max(0, expiryOf(token) - Date.now()) + 700);
    assert.ok(client.socket.connected, 'still connected after the old token expired');
    assert.deepEqual(client.revocations, []);
    await createTeam(node.url, tenant.token);
    await waitFor(() => client.events.some((e) => e.type === 'teams.created'), 'an event after the old expiry');
    assert.deepEqual(client.disconnects, []);
  });

  it('refuses refresh_token with a bad payload, a token that does not sign in or another principal’s, and keeps the socket’s own expiry', async () => {
    const other = await signup(node.url);
    const key = await rest(node.url, 'POST', '/api-keys', tenant.token, { name: `refresh-${randomUUID().slice(0, 8)}`, scope: 'read' });
    const expired = mintToken(tenant.tenantId, tenant.userId, -10);
    const token = mintToken(tenant.tenantId, tenant.userId, 3);
    const client = await live({ token });
    const cases: [string, unknown, RegExp][] = [
      ['no token', {}, /./],
      ['not an object', 'just a string', /./],
      ['garbage', { token: 'garbage' }, /does not sign in/],
      ['an expired token', { token: expired }, /does not sign in/],
      ["another tenant's admin", { token: other.token }, /another principal/],
      ["the user's own API key", { token: key.body.data.key }, /another principal/],
    ];
    for (const [what, payload, message] of cases) {
      const ack = await client.refreshToken(payload);
      assert.equal(ack.ok, false, `${what}: ${JSON.stringify(ack)}`);
      if (!ack.ok) assert.match(ack.error.errors.map((e) => e.message).join('; '), message, what);
    }
    assert.ok(client.socket.connected, 'a refused refresh never drops the socket');
    await waitFor(() => !client.socket.connected, 'the socket to end at its own token’s expiry', 6_000);
    assert.deepEqual(client.revocations, ['token_expired']);
  });

  it("logout ends the user's login-token sockets (session_ended) on every session, not their API key's; a new session connects", async () => {
    const user = await userWithLogin();
    const second = await login(user.email);
    const sessions = [await live({ token: user.token }), await live({ token: second })];
    const key = await rest(node.url, 'POST', '/api-keys', user.token, { name: `keeps-${randomUUID().slice(0, 8)}`, scope: 'read' });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const byKey = await live({ token: key.body.data.key });
    const bystander = await live({ token: tenant.token });

    assert.equal((await rest(node.url, 'POST', '/auth/logout', user.token)).status, 204);
    await waitFor(() => sessions.every((c) => !c.socket.connected), "the user's login-token sockets to close");
    for (const client of sessions) {
      assert.deepEqual(client.revocations, ['session_ended']);
      assert.deepEqual(client.disconnects, ['io server disconnect']);
    }
    assert.equal((await connectError(node.url, { token: second })).message, 'unauthorized');

    const fresh = await live({ token: await login(user.email) });
    await createTeam(node.url, tenant.token);
    await waitFor(() => fresh.events.some((e) => e.type === 'teams.created'), 'an event on the new session');
    assert.ok(fresh.socket.connected && byKey.socket.connected && bystander.socket.connected);
    assert.deepEqual([...fresh.revocations, ...byKey.revocations, ...bystander.revocations], []);
  });

  it("a password change ends the user's login-token sockets with session_ended", async () => {
    const user = await userWithLogin('editor');
    const client = await live({ token: user.token });
    assert.equal((await rest(node.url, 'PATCH', `/users/${user.id}`, tenant.token, { password: `${PASSWORD}-changed` })).status, 200);
    await waitFor(() => !client.socket.connected, 'the socket to close');
    assert.deepEqual(client.revocations, ['session_ended']);
    assert.equal((await connectError(node.url, { token: user.token })).message, 'unauthorized');
  });

  it('a role change between the handshake check and joining the stream ends the socket (role_changed): no unredacted events for a demoted admin', async () => {
    const user = await userWithLogin('admin');
    const bystander = await live({ token: tenant.token }); // keeps the tenant's stream running
    // The handshake sees an admin; the demotion commits before the socket joins its stream.
    const handshake = holdHandshake(node.domain.auth, user.token);
    try {
      const racer = new LiveClient(node.url, { token: user.token });
      clients.push(racer);
      await waitFor(() => handshake.held(), 'the handshake to be held');
      assert.equal((await rest(node.url, 'PATCH', `/users/${user.id}`, tenant.token, { role: 'viewer' })).status, 200);
      await waitFor(() => bystander.events.some((e) => e.type === 'users.updated' && e.entity_id === user.id), 'the role change to be delivered');
      handshake.release();
      await racer.connected();
      await waitFor(() => !racer.socket.connected, 'the racing socket to be disconnected');
      assert.deepEqual(racer.revocations, ['role_changed']);
    } finally {
      handshake.restore();
    }
  });

  describe('tenant deactivation', () => {
    const slugOf = async (tenantId: string) => (await db.knex('tenants').where({ id: tenantId }).first()).slug as string;

    it("disconnects every socket of the tenant (tenant_deactivated), login tokens and keys, and no other tenant's; its tokens are refused at once", async () => {
      const off = await signup(node.url);
      const key = await rest(node.url, 'POST', '/api-keys', off.token, { name: 'wall', scope: 'read' });
      const sockets = [await live({ token: off.token }), await live({ token: key.body.data.key })];
      const otherTenant = await live({ token: tenant.token });
      assert.equal((await rest(node.url, 'GET', '/me', off.token)).status, 200); // the principal is cached now

      const updated = await node.domain.tenants.setActive(await slugOf(off.tenantId), false);
      assert.equal(updated.is_active, false);
      await waitFor(() => sockets.every((c) => !c.socket.connected), "the tenant's sockets to close");
      for (const client of sockets) {
        assert.deepEqual(client.revocations, ['tenant_deactivated']);
        assert.deepEqual(client.disconnects, ['io server disconnect']);
      }
      assert.ok(otherTenant.socket.connected);
      assert.equal((await rest(node.url, 'GET', '/me', off.token)).status, 401, 'the cached principal went with the event');
      assert.equal((await connectError(node.url, { token: key.body.data.key })).message, 'unauthorized');
      // Written like any record: an audit entry and a change event.
      const events = await db.knex('change_events').where({ tenant_id: off.tenantId, type: 'tenants.updated' });
      assert.deepEqual(
        events.map((e) => e.changes),
        [{ is_active: { old: true, new: false } }],
      );
      assert.equal((await db.knex('audit_logs').where({ tenant_id: off.tenantId, entity_type: 'tenants' })).length, 1);

      await node.domain.tenants.setActive(await slugOf(off.tenantId), true);
      assert.equal((await rest(node.url, 'GET', '/me', off.token)).status, 200, 'reactivated, its sessions are valid again');
    });

    it('`npm run tenant -- deactivate <slug>` turns a tenant off from another process: its sockets go (from the change log)', async function () {
      this.timeout(40_000);
      const off = await signup(node.url);
      const client = await live({ token: off.token });
      const slugOff = await slugOf(off.tenantId);
      await new Promise<void>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', TENANT_CLI, 'deactivate', slugOff],
          {
            env: { ...process.env, DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'error', REDIS_URL: '' },
            timeout: 30_000,
          },
          (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
        );
      });
      assert.equal((await db.knex('tenants').where({ id: off.tenantId }).first()).is_active, false);
      await waitFor(() => !client.socket.connected, 'the socket to close');
      assert.deepEqual(client.revocations, ['tenant_deactivated']);
    });
  });
});
