// Black-box HTTP + a local receiver: outbound webhooks. Admin CRUD, the secret shown once and
// rotatable, in-order signed delivery read from the change log, filters, tenancy, retries with
// backoff through an outage, disabling after N failures, and the address check.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WEBHOOK_DEFAULTS } from '../src/platform/config.js';
import { isPrivateAddress } from '../src/modules/webhooks/address.js';
import { CONCURRENT_ENDPOINTS, post } from '../src/modules/webhooks/worker.js';
import { addMember, created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';
import { startReceiver, verifies, type Receiver } from './support/webhook-receiver.js';

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const teamName = () => `team-${randomBytes(4).toString('hex')}`;

describe('Webhooks', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let receiver: Receiver;

  before(async () => {
    app = await startHttpApp({
      webhooks: { ...WEBHOOK_DEFAULTS, allowPrivate: true, retryBaseMs: 50, retryCapMs: 400, maxFailures: 6, pollMs: 200, timeoutMs: 1_000 },
    });
    admin = await signupTenant(app);
    other = await signupTenant(app);
  });
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    // Stop what this test's webhooks still deliver.
    await app.db.knex('webhooks').update({ disabled_at: new Date() });
    await receiver?.close();
  });
  after(async () => {
    await app?.close();
  });

  it('delivers every event of its own tenant once, in seq order, signed; the secret is shown once and never logged', async () => {
    const hook = await created(admin.client, '/api/v1/webhooks', { url: receiver.url });
    assert.match(hook.secret, /^whsec_/);
    const otherHook = await created(other.client, '/api/v1/webhooks', { url: receiver.url, entity_types: ['teams'] });
    const teams = [];
    for (let i = 0; i < 5; i++) teams.push(await created(admin.client, '/api/v1/teams', { name: teamName() }));
    await created(other.client, '/api/v1/teams', { name: teamName() });
    await until(() => receiver.received.filter((r) => r.json.tenant_id === admin.tenantId).length >= 5, 'five deliveries');
    await until(() => receiver.received.some((r) => r.json.tenant_id === other.tenantId), 'the other tenant delivery');
    // Let a poll or two pass: nothing repeats.
    await new Promise((r) => setTimeout(r, 600));
    const all = receiver.received.filter((r) => r.id.startsWith(`${hook.id}:`));
    // Its own creation comes first, redacted as for a non-admin socket (webhooks are admin-only records).
    assert.equal(all[0].json.type, 'webhooks.created');
    assert.deepEqual(all[0].json.data, { id: hook.id });
    const mine = all.slice(1);
    assert.deepEqual(
      mine.map((r) => r.json.data.id),
      teams.map((t) => t.id),
    );
    const seqs = mine.map((r) => r.json.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(mine.map((r) => r.id)).size, mine.length, 'no Webhook-Id twice');
    for (const r of all) assert.ok(verifies(r, hook.secret), 'signature verifies');
    for (const r of mine) {
      assert.equal(r.json.tenant_id, admin.tenantId);
      assert.equal(r.id, `${hook.id}:${r.json.seq}`);
      assert.ok(verifies(r, hook.secret), 'signature verifies');
      assert.equal(r.json.type, 'teams.created');
    }
    const theirs = receiver.received.filter((r) => r.id.startsWith(`${otherHook.id}:`));
    assert.equal(theirs.length, 1);
    assert.equal(theirs[0].json.tenant_id, other.tenantId);

    // The secret is in the create response only: not in reads, the audit log, the change log.
    const got = await admin.client.get(`/api/v1/webhooks/${hook.id}`);
    expectStatus(got, 200);
    assert.equal(got.body.data.secret, undefined);
    const audit = await admin.client.get('/api/v1/audit-logs');
    const events = await admin.client.get('/api/v1/events?limit=1000');
    assert.ok(!JSON.stringify(audit.body).includes(hook.secret));
    assert.ok(!JSON.stringify(events.body).includes(hook.secret));
    assert.ok(JSON.stringify(events.body).includes(hook.id), 'the webhook has its events');

    // Deliveries are listed, a page at a time.
    const page1 = await admin.client.get(`/api/v1/webhooks/${hook.id}/deliveries?limit=3`);
    expectStatus(page1, 200);
    assert.equal(page1.body.data.length, 3);
    assert.ok(page1.body.meta.next_cursor);
    const page2 = await admin.client.get(`/api/v1/webhooks/${hook.id}/deliveries?limit=3&cursor=${page1.body.meta.next_cursor}`);
    assert.ok(page2.body.data.length >= 2);
    assert.ok(page1.body.data.every((d: { status: string }) => d.status === 'succeeded'));
  });

  it('filters by entity type and event type; rotation signs with the new secret; redeliver repeats with the same Webhook-Id', async () => {
    const hook = await created(admin.client, '/api/v1/webhooks', { url: receiver.url, types: ['teams.updated'] });
    const team = await created(admin.client, '/api/v1/teams', { name: teamName() });
    expectStatus(await admin.client.patch(`/api/v1/teams/${team.id}`, { description: 'first' }), 200);
    await until(() => receiver.received.length >= 1, 'the update');
    const rotated = await admin.client.post(`/api/v1/webhooks/${hook.id}/rotate-secret`, {});
    expectStatus(rotated, 200);
    assert.notEqual(rotated.body.data.secret, hook.secret);
    expectStatus(await admin.client.patch(`/api/v1/teams/${team.id}`, { description: 'second' }), 200);
    await until(() => receiver.received.length >= 2, 'the second update');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(receiver.received.length, 2, 'only teams.updated');
    assert.ok(receiver.received.every((r) => r.json.type === 'teams.updated'));
    assert.ok(verifies(receiver.received[0], hook.secret));
    assert.ok(verifies(receiver.received[1], rotated.body.data.secret));
    assert.ok(!verifies(receiver.received[1], hook.secret));

    const list = await admin.client.get(`/api/v1/webhooks/${hook.id}/deliveries`);
    const first = list.body.data[list.body.data.length - 1];
    const again = await admin.client.post(`/api/v1/webhooks/${hook.id}/deliveries/${first.id}/redeliver`, {});
    expectStatus(again, 201);
    assert.equal(again.body.data.attempt, 2);
    assert.equal(receiver.received.length, 3);
    assert.equal(receiver.received[2].id, receiver.received[0].id);
  });

  it('holds later events back through an outage, retrying with backoff, then delivers all in order without a gap', async () => {
    const hook = await created(admin.client, '/api/v1/webhooks', { url: receiver.url, entity_types: ['teams'] });
    let failures = 0;
    receiver.state.answer = () => (failures++ < 3 ? 503 : 200);
    const teams = [];
    for (let i = 0; i < 3; i++) teams.push(await created(admin.client, '/api/v1/teams', { name: teamName() }));
    await until(() => receiver.received.length >= 6, 'three failures and three deliveries');
    const ids = receiver.received.map((r) => r.json.data.id);
    // The first event is retried until it succeeds; the later ones wait behind it.
    assert.deepEqual(ids, [teams[0].id, teams[0].id, teams[0].id, teams[0].id, teams[1].id, teams[2].id]);
    assert.equal(new Set(receiver.received.slice(0, 4).map((r) => r.id)).size, 1, 'a retry keeps its Webhook-Id');
    const list = await admin.client.get(`/api/v1/webhooks/${hook.id}/deliveries?limit=200`);
    const failed = list.body.data.filter((d: { status: string }) => d.status === 'failed');
    assert.equal(failed.length, 3);
    assert.deepEqual(failed.map((d: { attempt: number }) => d.attempt).sort(), [1, 2, 3]);
    assert.ok(failed.every((d: { response_code: number; next_attempt_at: string }) => d.response_code === 503 && d.next_attempt_at));
    const got = await admin.client.get(`/api/v1/webhooks/${hook.id}`);
    assert.equal(got.body.data.consecutive_failures, 0);
  });

  it('delivers to a bounded number of endpoints at once, so slow receivers do not take every database connection', async () => {
    // A receiver that never answers: each attempt holds its endpoint's lock (a pooled connection)
    // until the worker's 1 s timeout.
    let open = 0;
    let mostOpen = 0;
    let seen = 0;
    const slow = http.createServer((req) => {
      seen += 1;
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      req.socket.on('close', () => (open -= 1));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`;
      const endpoints = 3 * CONCURRENT_ENDPOINTS;
      for (let i = 0; i < endpoints; i++) await created(admin.client, '/api/v1/webhooks', { url, entity_types: ['teams'] });
      await created(admin.client, '/api/v1/teams', { name: teamName() });
      await until(() => open >= CONCURRENT_ENDPOINTS, 'requests in flight');
      expectStatus(await admin.client.get('/api/v1/teams?limit=1'), 200);
      await until(() => seen >= endpoints, 'a first attempt to every endpoint');
      assert.ok(mostOpen <= CONCURRENT_ENDPOINTS, `at most ${CONCURRENT_ENDPOINTS} requests in flight, saw ${mostOpen}`);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('is disabled after N consecutive failures, with a webhooks.disabled event', async () => {
    const hook = await created(admin.client, '/api/v1/webhooks', { url: receiver.url, entity_types: ['teams'] });
    receiver.state.answer = () => 500;
    await created(admin.client, '/api/v1/teams', { name: teamName() });
    await until(async () => (await admin.client.get(`/api/v1/webhooks/${hook.id}`)).body.data.disabled_at !== null, 'disabled');
    assert.equal(receiver.received.length, 6);
    const events = await app.db.knex('change_events').where({ tenant_id: admin.tenantId, type: 'webhooks.disabled', entity_id: hook.id });
    assert.equal(events.length, 1);
    assert.ok(!JSON.stringify(events[0].data).includes(hook.secret));
  });

  it('is for admins only; another tenant’s webhook is a 404; only http(s) URLs', async () => {
    const hook = await created(admin.client, '/api/v1/webhooks', { url: receiver.url });
    const editor = await addMember(app, admin, 'editor');
    expectStatus(await editor.client.get('/api/v1/webhooks'), 403);
    expectStatus(await editor.client.post('/api/v1/webhooks', { url: receiver.url }), 403);
    expectStatus(await other.client.get(`/api/v1/webhooks/${hook.id}`), 404);
    expectStatus(await other.client.get(`/api/v1/webhooks/${hook.id}/deliveries`), 404);
    expectStatus(await other.client.delete(`/api/v1/webhooks/${hook.id}`), 404);
    expectStatus(await admin.client.post('/api/v1/webhooks', { url: 'ftp://example.com/x' }), 422);
    expectStatus(await admin.client.delete(`/api/v1/webhooks/${hook.id}`), 204);
  });

  it('refuses private addresses unless allowed, follows no redirect, and times out', async () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
      assert.ok(isPrivateAddress(a), a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111']) assert.ok(!isPrivateAddress(a), a);
    const strict = { ...WEBHOOK_DEFAULTS, timeoutMs: 300 };
    const refusedLoopback = await post(receiver.url, {}, '{}', strict);
    assert.equal(refusedLoopback.ok, false);
    assert.match(String(refusedLoopback.error), /refused address/);
    const byName = await post(receiver.url.replace('127.0.0.1', 'localhost'), {}, '{}', strict);
    assert.equal(byName.ok, false);
    assert.equal(receiver.received.length, 0, 'nothing reached the receiver');

    const allowed = { ...strict, allowPrivate: true };
    receiver.state.answer = () => 302;
    const redirect = await post(receiver.url, {}, '{}', allowed);
    assert.equal(redirect.ok, false);
    assert.match(String(redirect.error), /redirect/);

    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const timeout = await post(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, {}, '{}', allowed);
    silent.closeAllConnections();
    silent.close();
    assert.equal(timeout.ok, false);
    assert.match(String(timeout.error), /timed out/);
  });
});
