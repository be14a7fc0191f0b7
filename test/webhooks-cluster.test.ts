// Webhook delivery across two app nodes (child processes sharing one PostgreSQL and one Redis): a
// node SIGKILLed while its request is in flight loses nothing. The other node sends that event again
// with the same Webhook-Id, then the rest, each once, in seq order; it never delivers the endpoint
// while the first node holds it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { killChildNode, startChildNode, type ChildNode } from './support/child-node.js';
import { createTeam, rest, signup, waitFor } from './support/live-events.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';
import { startReceiver, verifies, type Receiver } from './support/webhook-receiver.js';

const JWT_SECRET = 'webhooks-cluster-secret-0123456789abcdef';
const NODE_SCRIPT = fileURLToPath(new URL('./support/live-node.ts', import.meta.url));

describe('webhooks: a node killed (SIGKILL) mid-delivery', function () {
  requireRedis(this);
  this.timeout(90_000);

  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  const nodes: ChildNode[] = [];
  const receivers: Receiver[] = [];

  async function startNode(): Promise<ChildNode> {
    const node = await startChildNode(NODE_SCRIPT, env, 60_000);
    nodes.push(node);
    return node;
  }

  async function receiver(): Promise<Receiver> {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  }

  async function createWebhook(url: string, token: string, target: string): Promise<{ id: string; secret: string }> {
    const res = await rest(url, 'POST', '/webhooks', token, { url: target, entity_types: ['teams'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.data;
  }

  before(async function () {
    this.timeout(60_000);
    const redis = (await getRedis())!;
    db = await createTestDatabase();
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JWT_SECRET,
      LIVE_REDIS_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      LOG_LEVEL: 'error',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_POLL_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_CAP_MS: '200',
      // Longer than the test: the held request ends with its node, not with a timeout.
      WEBHOOK_TIMEOUT_MS: '60000',
    };
  });

  after(async function () {
    this.timeout(30_000);
    for (const node of nodes) await killChildNode(node);
    for (const r of receivers) await r.close();
    await db?.drop();
  });

  it('the surviving node repeats only the request in flight, with the same Webhook-Id, then delivers the rest once each, in seq order', async () => {
    // Node A runs alone, so the request the receiver holds is A's.
    const A = await startNode();
    const tenant = await signup(A.url);
    const inbox = await receiver();
    const hook = await createWebhook(A.url, tenant.token, inbox.url);
    inbox.state.hold = () => inbox.held.length === 0; // the first request stays in flight
    const teams: string[] = [];
    for (let i = 0; i < 5; i++) teams.push(await createTeam(A.url, tenant.token));
    await waitFor(() => inbox.held.length === 1, "node A's first delivery, held in flight");

    // Node B starts while A holds the endpoint. A witness endpoint (another tenant's) answers its
    // first request 503 and the retry 200: B's worker (A's one pass is held by the request in
    // flight) sends the retry in a later pass than the first attempt, and each pass tries every
    // enabled endpoint, so by the retry B has tried A's endpoint and, finding it held, sent nothing.
    // (A worker that waited for the row lock instead of skipping it would hold its pass here.)
    const B = await startNode();
    const bystander = await signup(B.url);
    const witness = await receiver();
    let witnessCalls = 0;
    witness.state.answer = () => (witnessCalls++ === 0 ? 503 : 200);
    await createWebhook(B.url, bystander.token, witness.url);
    await createTeam(B.url, bystander.token);
    await waitFor(() => witness.received.length >= 2, "B's retry to the witness endpoint");
    assert.equal(witness.received[0].id, witness.received[1].id, 'a retry keeps its Webhook-Id');
    assert.equal(inbox.received.length, 1, 'no second request while A holds the endpoint');

    await killChildNode(A);
    await waitFor(() => inbox.held[0].dropped, "the held request's connection to close with A");
    const last = await createTeam(B.url, tenant.token);
    await waitFor(() => inbox.received.some((r) => r.json.data.id === last), "B's delivery of the team created after the kill");

    const got = inbox.received;
    const [inFlight, ...delivered] = got;
    assert.equal(inFlight.json.data.id, teams[0]);
    assert.equal(delivered[0].id, inFlight.id, 'the request in flight is repeated with its Webhook-Id');
    assert.equal(delivered[0].body, inFlight.body, 'the same event');
    // Every teams event of the tenant, as the change log has them, in seq order, once each.
    const logged = (await db.knex('change_events').where({ tenant_id: tenant.tenantId, entity_type: 'teams' }).orderBy('seq').select('seq', 'entity_id')) as {
      seq: string;
      entity_id: string;
    }[];
    assert.deepEqual(
      logged.map((e) => e.entity_id),
      [...teams, last],
    );
    assert.deepEqual(
      delivered.map((r) => r.json.seq),
      logged.map((e) => Number(e.seq)),
    );
    assert.equal(new Set(delivered.map((r) => r.id)).size, delivered.length, 'no other Webhook-Id twice');
    for (const r of got) {
      assert.equal(r.id, `${hook.id}:${r.json.seq}`);
      assert.equal(r.json.tenant_id, tenant.tenantId);
      assert.ok(verifies(r, hook.secret), `the signature of ${r.id} verifies`);
    }

    const row = await db.knex('webhooks').where({ id: hook.id }).first();
    assert.equal(Number(row.last_delivered_seq), Number(logged.at(-1)!.seq));
    assert.equal(row.consecutive_failures, 0);
    // One recorded attempt per event: the killed node's attempt rolled back with its transaction
    // and left no row, so the repeat is attempt 1.
    const attempts = (await db.knex('webhook_deliveries').where({ webhook_id: hook.id }).orderBy('seq').select('seq', 'status', 'attempt')) as {
      seq: string;
      status: string;
      attempt: number;
    }[];
    assert.deepEqual(
      attempts.map((a) => [Number(a.seq), a.status, a.attempt]),
      logged.map((e) => [Number(e.seq), 'succeeded', 1]),
    );
  });
});
