// Live sockets' bounds: concurrent sockets per user and per tenant (refused at the handshake with
// `too_many_sockets`, counted across nodes over Redis), and slow consumers: a socket that stops
// reading is dropped once what it has not been sent passes SOCKET_MAX_BUFFERED_BYTES, while the
// tenant's other sockets keep receiving everything.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import WebSocket from 'ws';
import { startServer, type AppHandle } from '../src/app.js';
import { LIVE_LIMIT_DEFAULTS, type Config } from '../src/platform/config.js';
import { createKnex } from '../src/platform/db.js';
import { quietLogger } from './support/factories.js';
import { addMember, signupTenant, type Tenant } from './support/http-assertions.js';
import * as collab from './support/collab-client.js';
import { connectError, connectLive, waitFor, type LiveClient } from './support/live-events.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';
import { SocketCaps } from '../src/platform/realtime/socket-caps.js';
import { closeRedisClient, createRedisClient } from '../src/platform/redis-bus.js';
import type { Redis } from 'ioredis';
import { startTestApp, testConfig, type TestApp } from './support/server.js';

function live(overrides: Partial<Config['live']>): Partial<Config> {
  return { live: { ...LIVE_LIMIT_DEFAULTS, ...overrides } };
}

async function assertRefused(url: string, token: string, scope: 'user' | 'tenant', limit: number): Promise<void> {
  const err = await connectError(url, { token });
  assert.equal(err.message, 'too_many_sockets');
  const data = err.data as { title: string; scope: string; limit: number; errors: { path: string; message: string }[] };
  assert.equal(data.title, 'Too many sockets');
  assert.equal(data.scope, scope);
  assert.equal(data.limit, limit);
  assert.equal(data.errors[0].message, `at most ${limit} live sockets per ${scope}`);
}

describe('live events: socket caps and slow consumers', () => {
  const clients: LiveClient[] = [];
  const open = async (url: string, token: string) => {
    const client = await connectLive(url, { token });
    clients.push(client);
    return client;
  };
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  describe('one node', () => {
    let app: TestApp;
    let tenant: Tenant;
    before(async () => {
      app = await startTestApp({}, live({ socketsPerUser: 3, socketsPerTenant: 5, maxBufferedBytes: 64 * 1024 }));
      tenant = await signupTenant(app);
    });
    after(() => app?.close());

    it("refuses a user's socket over SOCKETS_PER_USER at the handshake; one closed makes room", async () => {
      const sockets = [];
      for (let i = 0; i < 3; i++) sockets.push(await open(app.url, tenant.token));
      await assertRefused(app.url, tenant.token, 'user', 3);
      sockets[0].close();
      await waitFor(() => app.app.live.localSocketCount(tenant.tenantId) === 2, 'the closed socket gone');
      await open(app.url, tenant.token);
    });

    it('refuses a socket over SOCKETS_PER_TENANT whoever opens it; one closed makes room', async () => {
      const other = await addMember(app, tenant, 'viewer');
      for (let i = 0; i < 3; i++) await open(app.url, tenant.token);
      const first = await open(app.url, other.token);
      await open(app.url, other.token);
      await assertRefused(app.url, other.token, 'tenant', 5);
      await assertRefused(app.url, tenant.token, 'tenant', 5);
      // Another tenant is not affected.
      const elsewhere = await signupTenant(app);
      await open(app.url, elsewhere.token);
      first.close();
      await waitFor(() => app.app.live.localSocketCount(tenant.tenantId) === 4, 'the closed socket gone');
      await open(app.url, other.token);
    });

    it('drops a socket that stops reading once its unsent bytes pass SOCKET_MAX_BUFFERED_BYTES; the others get every event', async function () {
      this.timeout(120_000);
      const reader = await open(app.url, tenant.token);
      const stalled = await rawSocket(app.url, tenant.token);
      try {
        await waitFor(() => app.app.live.localSocketCount(tenant.tenantId) === 2, 'both sockets joined');
        const svc = await tenant.client.post('/api/v1/services', { name: `slow-${randomUUID().slice(0, 8)}`, type: 'api' });
        assert.equal(svc.status, 201, svc.text);
        await waitFor(() => reader.events.length >= 1, 'the create on the reading socket');
        stalled.pause();
        const big = 'x'.repeat(90_000);
        let patches = 0;
        // The kernel's socket buffers take a few MB before anything stays in the process; a
        // stalled socket that is never dropped fails the test after 400 PATCHes (36 MB).
        while (app.app.live.localSocketCount(tenant.tenantId) === 2 && patches < 400) {
          const res = await tenant.client.patch(`/api/v1/services/${svc.body.data.id}`, { description: `${patches}${big}` });
          assert.equal(res.status, 200, res.text);
          patches++;
        }
        assert.equal(app.app.live.localSocketCount(tenant.tenantId), 1, `the stalled socket is still connected after ${patches} PATCHes`);
        await waitFor(() => reader.events.length >= patches + 1, 'the create and every PATCH on the reading socket', 30_000);
        const first = reader.seqs()[0];
        assert.deepEqual(
          reader.seqs(),
          Array.from({ length: patches + 1 }, (_, i) => first + i),
          'every event, in order, once',
        );
        assert.ok(reader.socket.connected, 'the reading socket stays connected');
      } finally {
        stalled.destroy();
      }
    });
  });

  describe('co-editing connections', () => {
    let app: TestApp;
    const editors: collab.Editor[] = [];
    before(async () => {
      app = await startTestApp({ collab: collab.testCollabOptions() }, live({ socketsPerUser: 2, socketsPerTenant: 3 }));
    });
    after(() => app?.close());
    afterEach(() => {
      for (const editor of editors.splice(0)) editor.destroy();
    });
    const edit = async (room: string, token: string) => {
      const editor = await collab.openEditor(app.url, room, token);
      editors.push(editor);
      return editor;
    };

    it('refuses a co-editing connection over the caps with 4429; one closed makes room; live sockets count apart', async () => {
      const tenant = await collab.signupTenant(app.url);
      const other = await collab.addMember(app.url, tenant, 'editor');
      const room = `services/${(await collab.createService(tenant)).id}`;
      const first = await edit(room, tenant.admin.token);
      await edit(room, tenant.admin.token);
      const overUser = await collab.refusedWith(app.url, room, tenant.admin.token);
      assert.equal(overUser.code, 4429);
      assert.match(overUser.reason, /^too_many_sockets: at most 2 per user$/);
      await edit(room, other.token);
      const overTenant = await collab.refusedWith(app.url, room, other.token);
      assert.deepEqual(overTenant, { code: 4429, reason: 'too_many_sockets: at most 3 per tenant' });
      await open(app.url, tenant.admin.token); // a live socket is not a co-editing connection
      first.destroy();
      await waitFor(() => app.app.collab.connections() === 2, 'the closed connection gone');
      // Its count is released when its TCP socket closes, which may trail the WebSocket's close.
      let reopened: collab.Editor | undefined;
      for (let i = 0; i < 20 && !reopened; i++) {
        reopened = await edit(room, tenant.admin.token).catch(() => undefined);
        if (!reopened) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(reopened, 'a new connection once one closed');
    });
  });

  describe('two nodes over Redis', function () {
    requireRedis(this);
    let db: TestDatabase;
    const pools: Knex[] = [];
    const nodes: AppHandle[] = [];
    const prefix = `caps-test-${randomUUID().slice(0, 8)}`;

    before(async function () {
      this.timeout(60_000);
      const redis = (await getRedis())!;
      db = await createTestDatabase();
      for (let i = 0; i < 2; i++) {
        const knex = createKnex(db.url, { poolMax: 5 });
        pools.push(knex);
        const config = testConfig({
          ...live({ socketsPerUser: 2, socketsPerTenant: 100 }),
          redisUrl: redis.url,
          databaseUrl: db.url,
          mode: 'cluster',
          nodeId: `caps-node-${i}`,
        });
        nodes.push(await startServer({ config, knex, logger: quietLogger, live: { redisPrefix: prefix } }));
      }
    });
    after(async function () {
      this.timeout(30_000);
      for (const client of clients.splice(0)) client.close();
      for (const node of nodes) await node.close();
      for (const pool of pools) await pool.destroy();
      await db?.drop();
    });

    it("counts a user's sockets across nodes; one closed on one node makes room on the other", async () => {
      const res = await fetch(`${nodes[0].url}/api/v1/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant_name: `Caps ${prefix}`,
          tenant_slug: prefix,
          email: `a@${prefix}.example`,
          password: 'correct horse battery',
          display_name: 'A',
        }),
      });
      assert.equal(res.status, 201);
      const token = ((await res.json()) as { data: { access_token: string } }).data.access_token;
      const onA = await open(nodes[0].url, token);
      await open(nodes[1].url, token);
      await assertRefused(nodes[1].url, token, 'user', 2);
      await assertRefused(nodes[0].url, token, 'user', 2);
      onA.close();
      await waitFor(() => nodes[0].live.localSocketCount() === 0, 'the socket on node A gone');
      // The release reaches Redis right after the disconnect; a handshake may race it once.
      let admitted: LiveClient | undefined;
      for (let i = 0; i < 20 && !admitted; i++) {
        admitted = await open(nodes[1].url, token).catch(() => undefined);
        if (!admitted) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(admitted, 'a new socket on node B once the one on A closed');
    });

    it('a node that dies without releasing stops counting once its entry expires', async function () {
      this.timeout(20_000);
      const redis = (await getRedis())!;
      const clientsOf: Redis[] = [];
      const capsOn = (nodeId: string) => {
        const client = createRedisClient(redis.url, quietLogger, 'caps-test', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
        clientsOf.push(client);
        return new SocketCaps({ perUser: 2, perTenant: 100, redis: client, prefix: `${prefix}-expiry`, nodeId, logger: quietLogger, ttlMs: 600 });
      };
      const tenantId = randomUUID();
      const userId = randomUUID();
      const dying = capsOn('node-dying');
      const survivor = capsOn('node-survivor');
      // Without an offline queue a command fails until the client is connected (caps per node then).
      await Promise.all(clientsOf.map((c) => (c.status === 'ready' ? Promise.resolve() : new Promise((resolve) => c.once('ready', resolve)))));
      try {
        assert.equal((await dying.admit(tenantId, userId)).ok, true);
        assert.equal((await dying.admit(tenantId, userId)).ok, true);
        // The node dies: its refresh stops and it never releases its two sockets.
        dying.close();
        assert.deepEqual(await survivor.admit(tenantId, userId), { ok: false, scope: 'user', limit: 2 }, 'still counted right after');
        let admitted = false;
        const deadline = Date.now() + 5_000;
        while (!admitted && Date.now() < deadline) {
          admitted = (await survivor.admit(tenantId, userId)).ok;
          if (!admitted) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(admitted, "the dead node's sockets stopped counting once its entry expired");
      } finally {
        dying.close();
        survivor.close();
        for (const client of clientsOf) await closeRedisClient(client);
      }
    });
  });
});

/**
 * A raw engine.io/socket.io client over ws that completes the handshake, answers pings, and can
 * stop reading (its TCP socket paused) while it keeps the connection open with unsolicited pongs.
 */
async function rawSocket(url: string, token: string) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (raw) => {
      const message = (raw as Buffer).toString();
      if (message.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (message === '2') ws.send('3');
      else if (message.startsWith('40')) resolve();
      else if (message.startsWith('44')) reject(new Error(`connect refused: ${message}`));
    });
  });
  const tcp = (ws as unknown as { _socket: import('node:net').Socket })._socket;
  let pongs: NodeJS.Timeout | undefined;
  return {
    // Unsolicited pongs keep the server's heartbeat satisfied although no ping is read.
    pause: () => {
      tcp.pause();
      pongs = setInterval(() => ws.send('3'), 1_000);
    },
    destroy: () => {
      clearInterval(pongs);
      ws.terminate();
    },
  };
}
