// Live events across nodes, where a node killed after commit or a failed Redis publish loses no
// committed event (the change log in PostgreSQL is the truth): three app nodes sharing one
// PostgreSQL and one Redis, plus a child-process node that is SIGKILLed between COMMIT and publish.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { startServer, type AppHandle } from '../src/app.js';
import type { ChangeEvent } from '../src/platform/bus.js';
import { loadConfig, type Config } from '../src/platform/config.js';
import { createKnex } from '../src/platform/db.js';
import { quietLogger } from './support/factories.js';
import { connectLive, createTeam, isConsecutive, rest, signup, sleep, waitFor, type LiveClient } from './support/live-events.js';
import { killChildNode, startChildNode, type ChildNode } from './support/child-node.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis, type TestRedis } from './support/redis.js';

const JWT_SECRET = 'live-events-cluster-secret-0123456789abcdef';
const CHILD_SCRIPT = fileURLToPath(new URL('./support/live-node.ts', import.meta.url));

describe('live events: a cluster of nodes over Redis', function () {
  requireRedis(this);
  this.timeout(30_000);

  let db: TestDatabase;
  let redis: TestRedis;
  let config: Config;
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const pools: Knex[] = [];
  let nodes: AppHandle[] = [];
  let A: AppHandle;
  let B: AppHandle;
  let C: AppHandle;
  let tenantA: { tenantId: string; token: string; userId: string };
  let tenantB: { tenantId: string; token: string; userId: string };
  let monitor: Redis;
  /** Every batch that went over the Redis event channel, as seqs per tenant. */
  const published: ChangeEvent[] = [];
  const clients: LiveClient[] = [];
  const children: ChildNode[] = [];

  async function startNode(): Promise<AppHandle> {
    const knex = createKnex(db.url, { poolMax: 4 });
    pools.push(knex);
    const node = await startServer({ config, knex, logger: quietLogger, live: { sweepIntervalMs: 300, redisPrefix: prefix } });
    nodes.push(node);
    return node;
  }

  async function live(url: string, options: Parameters<typeof connectLive>[1]): Promise<LiveClient> {
    const client = await connectLive(url, options);
    clients.push(client);
    return client;
  }

  async function latestSeq(tenantId: string): Promise<number> {
    const row = await db.knex('change_events').where({ tenant_id: tenantId }).max('seq as max').first();
    return Number(row?.max ?? 0);
  }

  /** Waits until every client has everything up to the tenant's latest seq, then checks it got each exactly once, in order. */
  async function expectComplete(members: LiveClient[], tenantId: string, from: number, timeoutMs = 10_000): Promise<number> {
    const latest = await latestSeq(tenantId);
    for (const client of members) await waitFor(() => (client.lastSeq ?? 0) >= latest, `seq ${latest} on every socket`, timeoutMs);
    await sleep(300); // anything doubled would arrive now
    for (const client of members) {
      const seqs = client.seqs().filter((s) => s > from);
      assert.ok(isConsecutive(seqs, from + 1, latest), `expected ${from + 1}..${latest} once each, got ${seqs.join(',')}`);
      assert.ok(client.events.every((e) => e.tenant_id === tenantId));
    }
    return latest;
  }

  before(async function () {
    this.timeout(60_000);
    redis = (await getRedis())!;
    db = await createTestDatabase();
    config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, JWT_SECRET, LOG_LEVEL: 'error' });
    [A, B, C] = await Promise.all([startNode(), startNode(), startNode()]);
    monitor = new Redis(redis.url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
    monitor.on('error', () => {});
    monitor.on('message', (_channel: string, message: string) => published.push(...(JSON.parse(message) as ChangeEvent[])));
    await monitor.subscribe(`${prefix}:events`);
    [tenantA, tenantB] = await Promise.all([signup(A.url), signup(B.url)]);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async function () {
    this.timeout(30_000);
    for (const c of children) await killChildNode(c);
    await Promise.allSettled(nodes.map((n) => n.close()));
    monitor?.disconnect();
    await Promise.allSettled(pools.map((k) => k.destroy()));
    await db?.drop();
  });

  it('reports Redis in /readyz', async () => {
    const res = await fetch(`${A.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).checks, { database: true, redis: true });
  });

  it('a REST write on node A reaches sockets on nodes B and C in order, exactly once, and never another tenant', async () => {
    const onB = await live(B.url, { token: tenantA.token });
    const onC = await live(C.url, { token: tenantA.token });
    const onA = await live(A.url, { token: tenantA.token });
    const otherTenant = [await live(B.url, { token: tenantB.token }), await live(C.url, { token: tenantB.token })];
    const from = await latestSeq(tenantA.tenantId);

    for (let i = 0; i < 10; i++) await createTeam(A.url, tenantA.token);
    await rest(B.url, 'POST', '/teams', tenantA.token, { name: `from-b-${randomUUID()}` });
    const latest = await expectComplete([onA, onB, onC], tenantA.tenantId, from);
    assert.equal(latest, from + 11);
    for (const client of otherTenant) assert.equal(client.events.length, 0);
    // They went over Redis (not only through the log sweep).
    const overRedis = published.filter((e) => e.tenant_id === tenantA.tenantId && e.seq > from).map((e) => e.seq);
    assert.ok(isConsecutive(overRedis, from + 1, latest), overRedis.join(','));
    // The adapter sees the tenant room across nodes.
    const everywhere = await A.live.io.in(`tenant:${tenantA.tenantId}`).fetchSockets();
    assert.equal(everywhere.length, 3);
  });

  it('a client that missed 50 events resumes on another node with exactly those 50, then live ones', async () => {
    const first = await live(B.url, { token: tenantA.token });
    await createTeam(A.url, tenantA.token);
    await waitFor(() => first.events.length === 1, 'a first event');
    const since = first.lastSeq!;
    first.close();

    for (let i = 0; i < 50; i++) await createTeam(A.url, tenantA.token);
    const resumed = await live(C.url, { token: tenantA.token, since });
    await waitFor(() => resumed.events.length >= 50, 'the 50 missed events');
    for (let i = 0; i < 5; i++) await createTeam(B.url, tenantA.token);
    const latest = await expectComplete([resumed], tenantA.tenantId, since);
    assert.equal(latest, since + 55);
    assert.equal(resumed.events.length, 55);
  });

  it('revoking an API key on node A disconnects its sockets on nodes B and C', async () => {
    const key = await rest(A.url, 'POST', '/api-keys', tenantA.token, { name: 'wall', scope: 'read' });
    const onB = await live(B.url, { token: key.body.data.key });
    const onC = await live(C.url, { token: key.body.data.key });
    const bystander = await live(C.url, { token: tenantA.token });
    assert.equal((await rest(A.url, 'DELETE', `/api-keys/${key.body.data.id}`, tenantA.token)).status, 204);
    await waitFor(() => !onB.socket.connected && !onC.socket.connected, 'both key sockets to close');
    assert.deepEqual([...onB.revocations, ...onC.revocations], ['api_key_revoked', 'api_key_revoked']);
    assert.ok(bystander.socket.connected);
  });

  it("logout on node A ends the user's sockets on nodes B and C, and B's cached principal with them", async () => {
    const slug = (await db.knex('tenants').where({ id: tenantA.tenantId }).first()).slug as string;
    const password = 'cluster-logout-passphrase-7ordinary';
    const email = `logout-${randomUUID().slice(0, 8)}@example.com`;
    assert.equal((await rest(A.url, 'POST', '/users', tenantA.token, { email, display_name: 'Out', role: 'viewer', password })).status, 201);
    const token = (await rest(B.url, 'POST', '/auth/login', undefined, { tenant_slug: slug, email, password })).body.data.access_token as string;
    assert.equal((await rest(B.url, 'GET', '/me', token)).status, 200); // B caches the principal
    const onB = await live(B.url, { token });
    const onC = await live(C.url, { token });
    const bystander = await live(C.url, { token: tenantA.token });
    assert.equal((await rest(A.url, 'POST', '/auth/logout', token)).status, 204);
    await waitFor(() => !onB.socket.connected && !onC.socket.connected, 'both sockets to close');
    assert.deepEqual([...onB.revocations, ...onC.revocations], ['session_ended', 'session_ended']);
    assert.equal((await rest(B.url, 'GET', '/me', token)).status, 401, "B's cache entry went with the event");
    assert.ok(bystander.socket.connected);
  });

  it('Redis stopped and restarted while writes continue: every socket still gets every event exactly once, in order', async function () {
    if (!redis.managed) this.skip(); // a REDIS_URL server is not ours to stop
    const sockets = [await live(A.url, { token: tenantA.token }), await live(B.url, { token: tenantA.token }), await live(C.url, { token: tenantA.token })];
    const from = await latestSeq(tenantA.tenantId);
    let writing = true;
    let written = 0;
    const writer = (async () => {
      const targets = [A, B, C];
      while (writing) {
        await createTeam(targets[written % 3].url, tenantA.token);
        written++;
      }
    })();
    await sleep(300);
    await redis.stop(); // SIGKILL: whatever was in flight is lost
    const down = await fetch(`${B.url}/readyz`);
    assert.equal(down.status, 503);
    assert.equal((await down.json()).checks.redis, false);
    await sleep(800); // writes during the outage reach sockets through the log sweep
    const duringOutage = written;
    await redis.restart();
    await sleep(600);
    writing = false;
    await writer;
    assert.ok(duringOutage > 0 && written > duringOutage, `writes continued (${duringOutage} then ${written})`);
    await expectComplete(sockets, tenantA.tenantId, from);
    const ready = await (async () => {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        if ((await fetch(`${B.url}/readyz`)).status === 200) return true;
        await sleep(100);
      }
      return false;
    })();
    assert.ok(ready, '/readyz is ready again once Redis is back');
    // And the bus itself works again: a new write goes over Redis.
    const before = published.length;
    await createTeam(A.url, tenantA.token);
    await waitFor(() => published.length > before, 'a message on the Redis channel', 5_000);
    await expectComplete(sockets, tenantA.tenantId, from);
  });

  it('a node killed (SIGKILL) after COMMIT and before publishing: the event still reaches every socket', async () => {
    const doomed = await startChildNode(CHILD_SCRIPT, {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JWT_SECRET,
      LIVE_REDIS_PREFIX: prefix,
      LOG_LEVEL: 'error',
      KILL_AFTER_COMMIT: '1',
    });
    children.push(doomed);
    const onA = await live(A.url, { token: tenantA.token });
    const onB = await live(B.url, { token: tenantA.token });
    const onDoomed = await live(doomed.url, { token: tenantA.token });
    const from = await latestSeq(tenantA.tenantId);
    const publishedBefore = published.length;

    await assert.rejects(rest(doomed.url, 'POST', '/teams', tenantA.token, { name: 'last words' }));
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    const row = await db
      .knex('change_events')
      .where({ tenant_id: tenantA.tenantId, seq: from + 1 })
      .first();
    assert.equal(row?.type, 'teams.created', 'the write committed');
    assert.equal((row.data as { name: string }).name, 'last words');

    await expectComplete([onA, onB], tenantA.tenantId, from);
    assert.equal(onA.events.at(-1)!.seq, from + 1);
    assert.ok(!published.slice(publishedBefore).some((e) => e.tenant_id === tenantA.tenantId && e.seq === from + 1), 'it was never published');
    assert.ok(!onDoomed.socket.connected);
  });

  it('graceful shutdown: a node tells its sockets to reconnect, they resume on another node without loss', async () => {
    const D = await startNode();
    const moving = await live(D.url, { token: tenantA.token, reconnect: true });
    const staying = await live(A.url, { token: tenantA.token });
    await createTeam(A.url, tenantA.token);
    await waitFor(() => moving.events.length === 1, 'a first event');
    const from = moving.events[0].seq - 1;
    let writing = true;
    const writer = (async () => {
      while (writing) await createTeam(B.url, tenantA.token);
    })();
    await sleep(200);
    moving.moveTo(C.url); // where a load balancer would send the reconnection
    await D.close();
    nodes = nodes.filter((n) => n !== D);
    await waitFor(() => moving.socket.connected, 'the reconnection to node C');
    await sleep(300);
    writing = false;
    await writer;
    assert.equal(moving.serverShutdowns, 1);
    await expectComplete([moving, staying], tenantA.tenantId, from);
  });
});
