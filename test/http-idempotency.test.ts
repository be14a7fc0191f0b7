// Idempotency-Key on POST, through real HTTP: a retry with the same key and body gets the first
// response again and writes nothing; the same key with another body or path is a 422; keys are
// per tenant and caller; concurrent retries wait for the first; a new API key is never replayed
// or stored; without a key nothing changes; signup, login, refresh and logout ignore the header.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { startServer, type AppHandle } from '../src/app.js';
import { HTTP_DEFAULTS } from '../src/platform/config.js';
import { IdempotencyKeys, canonicalJson } from '../src/platform/http/idempotency.js';
import { quietLogger } from './support/factories.js';
import {
  addMember,
  assertProblem,
  created,
  expectStatus,
  httpSuite,
  refused,
  signupTenant,
  tenantCounts,
  type Member,
  type Tenant,
} from './support/http-assertions.js';
import { ApiClient, testConfig, type ApiResponse } from './support/server.js';
import { counted, isPrincipalRead } from './support/sql.js';
import { dereference } from './support/openapi.js';

const key = () => `retry-${randomUUID()}`;
const withKey = (k: string) => ({ 'idempotency-key': k });
const INCIDENT_TABLES = ['incidents', 'incident_timeline_entries', 'idempotency_keys'];

/** What a client compares between a first answer and a replay. */
function answer(res: ApiResponse) {
  return { status: res.status, text: res.text, location: res.headers.get('location'), etag: res.headers.get('etag') };
}

describe('Idempotency-Key on POST', function () {
  this.timeout(120_000);
  const suite = httpSuite();
  let commander: Member;
  let service: Record<string, any>;

  before(async () => {
    commander = await addMember(suite.app, suite.admin, 'incident_commander');
    service = await created(suite.admin.client, '/api/v1/services', { name: `checkout-${randomUUID().slice(0, 8)}`, type: 'api' });
  });

  const knex = () => suite.app.db.knex;
  const counts = (tenant: Tenant = suite.admin) => tenantCounts(knex(), tenant.tenantId, INCIDENT_TABLES);
  const incidentBody = (title: string) => ({
    title,
    severity: 'critical',
    impact_type: 'outage',
    affected: [{ entity_type: 'services', entity_id: service.id }],
    message: 'Error rate at 100%',
  });

  it('replays a retried POST /incidents: one incident, one audit entry and change event, the same answer', async () => {
    const k = key();
    const before = await counts();
    const first = await commander.client.post('/api/v1/incidents', incidentBody('Checkout down'), withKey(k));
    expectStatus(first, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is no replay');
    const afterFirst = await counts();
    assert.equal(afterFirst.incidents, before.incidents + 1);

    for (let i = 0; i < 3; i += 1) {
      const retry = await commander.client.post('/api/v1/incidents', incidentBody('Checkout down'), withKey(k));
      assert.deepEqual(answer(retry), answer(first), 'the retry gets the first answer');
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.match(retry.headers.get('content-type') ?? '', /^application\/json/);
    }
    assert.deepEqual(await counts(), afterFirst, 'the retries wrote nothing: no incident, audit entry or change event');
    const incidents = await knex()('incidents').where({ tenant_id: suite.admin.tenantId, title: 'Checkout down' }).count<{ n: string }[]>('* as n');
    assert.equal(Number(incidents[0].n), 1);
    const events = await knex()('change_events')
      .where({ tenant_id: suite.admin.tenantId, entity_id: first.body.data.id, action: 'created' })
      .count<{ n: string }[]>('* as n');
    assert.equal(Number(events[0].n), 1, 'one change event');
    const audits = await knex()('audit_logs')
      .where({ tenant_id: suite.admin.tenantId, entity_id: first.body.data.id, action: 'create' })
      .count<{ n: string }[]>('* as n');
    assert.equal(Number(audits[0].n), 1, 'one audit entry');
  });

  it('replays a retried POST /incidents/:id/updates: one timeline entry', async () => {
    const incident = await created(commander.client, '/api/v1/incidents', incidentBody('Search slow'));
    const k = key();
    const url = `/api/v1/incidents/${incident.id}/updates`;
    const first = await commander.client.post(url, { status: 'identified', message: 'Bad deploy' }, withKey(k));
    expectStatus(first, 201);
    const afterFirst = await counts();
    const retry = await commander.client.post(url, { message: 'Bad deploy', status: 'identified' }, withKey(k));
    assert.deepEqual(answer(retry), answer(first), 'the same body in another key order is the same request');
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await counts(), afterFirst);
    const entries = await knex()('incident_timeline_entries').where({ incident_id: incident.id, message: 'Bad deploy' }).count<{ n: string }[]>('* as n');
    assert.equal(Number(entries[0].n), 1);
  });

  it('answers 422 to the same key with another body or on another path, and writes nothing', async () => {
    const k = key();
    expectStatus(await commander.client.post('/api/v1/incidents', incidentBody('Queue backlog'), withKey(k)), 201);
    await refused(
      knex(),
      suite.admin.tenantId,
      INCIDENT_TABLES,
      () => commander.client.post('/api/v1/incidents', incidentBody('Queue backlog, again'), withKey(k)),
      422,
      { path: 'Idempotency-Key', detail: /another request body/ },
    );
    await refused(
      knex(),
      suite.admin.tenantId,
      ['services', 'idempotency_keys'],
      () => commander.client.post('/api/v1/services', { name: 'queue', type: 'api' }, withKey(k)),
      422,
      { path: 'Idempotency-Key', detail: /another operation/ },
    );
  });

  it('keeps keys per caller: another user of the tenant with the same key gets their own answer', async () => {
    const other = await addMember(suite.app, suite.admin, 'incident_commander');
    const k = key();
    const mine = await commander.client.post('/api/v1/incidents', incidentBody('Login errors'), withKey(k));
    expectStatus(mine, 201);
    const theirs = await other.client.post('/api/v1/incidents', incidentBody('Login errors'), withKey(k));
    expectStatus(theirs, 201);
    assert.equal(theirs.headers.get('idempotent-replayed'), null, "not a replay of someone else's answer");
    assert.notEqual(theirs.body.data.id, mine.body.data.id, 'their own incident');
    assert.equal(theirs.body.data.created_by, other.id);
    // And each one's retry gets their own answer back.
    assert.equal((await other.client.post('/api/v1/incidents', incidentBody('Login errors'), withKey(k))).body.data.id, theirs.body.data.id);
    assert.equal((await commander.client.post('/api/v1/incidents', incidentBody('Login errors'), withKey(k))).body.data.id, mine.body.data.id);
  });

  it('keeps keys per tenant: another tenant using the same key is independent', async () => {
    const stranger = await signupTenant(suite.app);
    const theirService = await created(stranger.client, '/api/v1/services', { name: 'theirs', type: 'api' });
    const k = key();
    const mine = await commander.client.post('/api/v1/incidents', incidentBody('DNS'), withKey(k));
    expectStatus(mine, 201);
    const before = await counts(stranger);
    const theirs = await stranger.client.post(
      '/api/v1/incidents',
      {
        title: 'DNS',
        severity: 'minor',
        impact_type: 'degraded',
        affected: [{ entity_type: 'services', entity_id: theirService.id }],
      },
      withKey(k),
    );
    expectStatus(theirs, 201);
    assert.equal(theirs.headers.get('idempotent-replayed'), null);
    assert.notEqual(theirs.body.data.id, mine.body.data.id);
    assert.equal((await counts(stranger)).incidents, before.incidents + 1);
  });

  it('lets concurrent retries wait for the first: five at once create exactly one incident, all answers equal', async () => {
    const k = key();
    const before = await counts();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => commander.client.post('/api/v1/incidents', incidentBody('Payments timeout'), withKey(k))),
    );
    for (const res of answers) expectStatus(res, 201);
    assert.equal(new Set(answers.map((r) => r.text)).size, 1, 'one answer for all five');
    assert.deepEqual(
      answers.map(answer),
      answers.map(() => answer(answers[0])),
    );
    assert.equal(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 4, 'four replays');
    const after = await counts();
    assert.equal(after.incidents, before.incidents + 1, 'exactly one created');
    assert.equal(after.change_events, before.change_events + 1);
    assert.equal(after.audit_logs, before.audit_logs + 1);
  });

  it('makes a retry wait while the first request is in flight on another node, then replays its answer', async () => {
    const k = key();
    // The first request of this key is running elsewhere: its row is in flight, its lease unexpired.
    await knex()('idempotency_keys').insert({
      tenant_id: suite.admin.tenantId,
      actor_id: commander.id,
      key: k,
      actor_type: 'user',
      method: 'POST',
      path: '/api/v1/incidents',
      request_hash: hashOf(incidentBody('Elsewhere')),
      state: 'in_flight',
      owner: randomUUID(),
      locked_until: knex().raw(`now() + interval '1 hour'`),
      expires_at: knex().raw(`now() + interval '1 day'`),
    });
    const retry = commander.client.post('/api/v1/incidents', incidentBody('Elsewhere'), withKey(k));
    let settled = false;
    void retry.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(settled, false, 'the retry waits for the first request');
    const stored = JSON.stringify({ data: { id: 'stored-elsewhere' } });
    await knex()('idempotency_keys')
      .where({ tenant_id: suite.admin.tenantId, actor_id: commander.id, key: k })
      .update({
        state: 'done',
        owner: null,
        locked_until: null,
        status_code: 201,
        response_headers: JSON.stringify({ 'content-type': 'application/json; charset=utf-8' }),
        response_body: stored,
      });
    const res = await retry;
    expectStatus(res, 201);
    assert.equal(res.text, stored, "the first request's answer, not a second incident");
    assert.equal(res.headers.get('idempotent-replayed'), 'true');
  });

  it("runs a retry again when the first request's node died before storing its answer (its lease ran out)", async () => {
    const k = key();
    await knex()('idempotency_keys').insert({
      tenant_id: suite.admin.tenantId,
      actor_id: commander.id,
      key: k,
      actor_type: 'user',
      method: 'POST',
      path: '/api/v1/incidents',
      request_hash: hashOf(incidentBody('Orphan')),
      state: 'in_flight',
      owner: randomUUID(),
      locked_until: knex().raw(`now() - interval '1 second'`),
      expires_at: knex().raw(`now() + interval '1 day'`),
    });
    const res = await commander.client.post('/api/v1/incidents', incidentBody('Orphan'), withKey(k));
    expectStatus(res, 201);
    assert.equal(res.headers.get('idempotent-replayed'), null);
    const retry = await commander.client.post('/api/v1/incidents', incidentBody('Orphan'), withKey(k));
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(retry.body.data.id, res.body.data.id);
  });

  it('replays a new API key without the key itself, and never stores the key', async () => {
    const k = key();
    const first = await suite.admin.client.post('/api/v1/api-keys', { name: 'ci', scope: 'read' }, withKey(k));
    expectStatus(first, 201);
    const secret = first.body.data.key as string;
    assert.match(secret, /^ail_/);
    const retry = await suite.admin.client.post('/api/v1/api-keys', { name: 'ci', scope: 'read' }, withKey(k));
    expectStatus(retry, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(retry.headers.get('idempotent-withheld'), 'key', 'the replay says what it left out');
    assert.equal(retry.headers.get('cache-control'), 'no-store');
    assert.equal(retry.headers.get('location'), first.headers.get('location'));
    assert.equal(retry.body.data.id, first.body.data.id);
    assert.equal('key' in retry.body.data, false, 'no secret in the replay');
    assert.ok(!retry.text.includes(secret), 'the secret appears nowhere in the replay');
    const { id: _id, key: _key, ...rest } = first.body.data;
    for (const [field, value] of Object.entries(rest)) assert.deepEqual(retry.body.data[field], value, field);
    const keys = await knex()('api_keys').where({ tenant_id: suite.admin.tenantId, name: 'ci' }).count<{ n: string }[]>('* as n');
    assert.equal(Number(keys[0].n), 1, 'one key created');
    const dump = await knex().raw(`SELECT t::text AS row FROM idempotency_keys t WHERE tenant_id = ?`, [suite.admin.tenantId]);
    const stored = (dump.rows as { row: string }[]).map((r) => r.row).join('\n');
    assert.ok(stored.includes(first.body.data.id), "the key's response is stored");
    assert.ok(!stored.includes(secret) && !stored.includes(secret.slice(4)), 'the secret is not stored');
    // The key works, once: it was created once.
    expectStatus(await new ApiClient(suite.app.url, secret).get('/api/v1/services'), 200);
  });

  it('behaves as before without a key: every POST writes', async () => {
    const before = await counts();
    const a = await commander.client.post('/api/v1/incidents', incidentBody('No key'));
    const b = await commander.client.post('/api/v1/incidents', incidentBody('No key'));
    expectStatus(a, 201);
    expectStatus(b, 201);
    assert.notEqual(a.body.data.id, b.body.data.id);
    assert.equal(b.headers.get('idempotent-replayed'), null);
    const after = await counts();
    assert.equal(after.incidents, before.incidents + 2);
    assert.equal(after.idempotency_keys, before.idempotency_keys, 'nothing stored');
  });

  it('refuses a key that is too long, empty or not visible ASCII with a 400, and writes nothing', async () => {
    for (const bad of ['k'.repeat(256), '', 'two words']) {
      await refused(
        knex(),
        suite.admin.tenantId,
        INCIDENT_TABLES,
        () => commander.client.post('/api/v1/incidents', incidentBody('Bad key'), withKey(bad)),
        400,
        { path: 'Idempotency-Key' },
      );
    }
    expectStatus(await commander.client.post('/api/v1/incidents', incidentBody('Longest key'), withKey('k'.repeat(255))), 201);
  });

  it('stores a final 4xx and replays it; a 409 frees the key so the retry runs again', async () => {
    const k = key();
    const invalid = await commander.client.post('/api/v1/incidents', { title: '' }, withKey(k));
    assertProblem(invalid, 422);
    const again = await commander.client.post('/api/v1/incidents', { title: '' }, withKey(k));
    assert.deepEqual(answer(again), answer(invalid));
    assert.equal(again.headers.get('idempotent-replayed'), 'true');

    const taken = await created(suite.admin.client, '/api/v1/services', { name: 'taken-name', type: 'api' });
    const k2 = key();
    assertProblem(await suite.admin.client.post('/api/v1/services', { name: 'taken-name', type: 'api' }, withKey(k2)), 409);
    expectStatus(await suite.admin.client.delete(`/api/v1/services/${taken.id}`), 204);
    const retried = await suite.admin.client.post('/api/v1/services', { name: 'taken-name', type: 'api' }, withKey(k2));
    expectStatus(retried, 201);
    assert.equal(retried.headers.get('idempotent-replayed'), null, 'the 409 was not kept');
    assert.notEqual(retried.body.data.id, taken.id);
  });

  it("runs an expired key's request again, and sweeps expired keys", async () => {
    const k = key();
    const first = await commander.client.post('/api/v1/incidents', incidentBody('Expiring'), withKey(k));
    expectStatus(first, 201);
    const where = { tenant_id: suite.admin.tenantId, actor_id: commander.id, key: k };
    await knex()('idempotency_keys')
      .where(where)
      .update({ expires_at: knex().raw(`now() - interval '1 second'`) });
    const later = await commander.client.post('/api/v1/incidents', incidentBody('Expiring'), withKey(k));
    expectStatus(later, 201);
    assert.equal(later.headers.get('idempotent-replayed'), null, 'an expired key is a new key');
    assert.notEqual(later.body.data.id, first.body.data.id);

    const live = await knex()('idempotency_keys').where({ tenant_id: suite.admin.tenantId }).whereRaw('expires_at > now()').count<{ n: string }[]>('* as n');
    await knex()('idempotency_keys')
      .where(where)
      .update({ expires_at: knex().raw(`now() - interval '1 second'`) });
    const removed = await new IdempotencyKeys(knex(), HTTP_DEFAULTS.idempotency, quietLogger).sweep();
    assert.ok(removed >= 1, `the sweep deleted ${removed} keys`);
    assert.equal(Number((await knex()('idempotency_keys').where(where).count<{ n: string }[]>('* as n'))[0].n), 0, 'the expired key is gone');
    const liveAfter = await knex()('idempotency_keys')
      .where({ tenant_id: suite.admin.tenantId })
      .whereRaw('expires_at > now()')
      .count<{ n: string }[]>('* as n');
    assert.equal(Number(liveAfter[0].n), Number(live[0].n) - 1, 'only expired keys are swept');
  });

  it('ignores the header on signup, login, refresh and logout', async () => {
    const k = key();
    const anon = suite.app.client();
    const slug = `idem-${randomUUID().slice(0, 8)}`;
    const signup = await anon.post(
      '/api/v1/auth/signup',
      {
        tenant_name: 'Idem',
        tenant_slug: slug,
        email: `a@${slug}.example`,
        password: suite.admin.password,
        display_name: 'A',
      },
      withKey(k),
    );
    expectStatus(signup, 201);
    const slug2 = `idem-${randomUUID().slice(0, 8)}`;
    const signup2 = await anon.post(
      '/api/v1/auth/signup',
      {
        tenant_name: 'Idem 2',
        tenant_slug: slug2,
        email: `a@${slug2}.example`,
        password: suite.admin.password,
        display_name: 'A',
      },
      withKey(k),
    );
    expectStatus(signup2, 201, 'the same key with another body is no 422 on signup');
    const login = () => anon.post('/api/v1/auth/login', { tenant_slug: slug, email: `a@${slug}.example`, password: suite.admin.password }, withKey(k));
    const l1 = await login();
    const l2 = await login();
    expectStatus(l1, 200);
    expectStatus(l2, 200);
    assert.equal(l2.headers.get('idempotent-replayed'), null);
    const token = l1.body.data.access_token as string;
    const refreshed = await suite.app.client(token).post('/api/v1/auth/refresh', undefined, withKey(k));
    expectStatus(refreshed, 200);
    const refreshedAgain = await suite.app.client(token).post('/api/v1/auth/refresh', undefined, withKey(k));
    expectStatus(refreshedAgain, 200);
    assert.equal(refreshedAgain.headers.get('idempotent-replayed'), null, 'a token is never replayed');
    expectStatus(await suite.app.client(refreshed.body.data.access_token).post('/api/v1/auth/logout', undefined, withKey(k)), 204);
    const stored = await knex()('idempotency_keys').where({ key: k }).count<{ n: string }[]>('* as n');
    assert.equal(Number(stored[0].n), 0, 'nothing stored for them');
    // The same key on a POST that takes one, by the same user (logged in again): kept and replayed.
    const admin = suite.app.client((await login()).body.data.access_token);
    const svc = await admin.post('/api/v1/services', { name: 'keyed', type: 'api' }, withKey(k));
    expectStatus(svc, 201);
    const again = await admin.post('/api/v1/services', { name: 'keyed', type: 'api' }, withKey(k));
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'other POSTs do take the key');
    assert.equal(again.body.data.id, svc.body.data.id);
  });

  it('replays on another node sharing the database', async () => {
    let other: AppHandle | undefined;
    try {
      other = await startServer({ config: testConfig(), knex: knex(), logger: quietLogger });
      const k = key();
      const first = await commander.client.post('/api/v1/incidents', incidentBody('Two nodes'), withKey(k));
      expectStatus(first, 201);
      const retry = await new ApiClient(other.url, commander.token).post('/api/v1/incidents', incidentBody('Two nodes'), withKey(k));
      assert.deepEqual(answer(retry), answer(first));
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    } finally {
      await other?.close();
    }
  });

  it('costs a keyed write two statements (take the key, store the answer) and a replay one', async () => {
    const k = key();
    const body = { name: `counted-${randomUUID().slice(0, 8)}`, type: 'api' };
    const first = await counted(knex(), () => suite.admin.client.post('/api/v1/services', body, withKey(k)));
    expectStatus(first.result, 201);
    const own = (sql: string[]) => sql.filter((s) => !isPrincipalRead(s));
    // BEGIN, INSERT, the log, COMMIT as without a key (write-statements.test.ts), plus the two.
    assert.equal(own(first.statements).length, 6, first.statements.join('\n---\n'));
    const replay = await counted(knex(), () => suite.admin.client.post('/api/v1/services', body, withKey(k)));
    assert.equal(replay.result.headers.get('idempotent-replayed'), 'true');
    assert.equal(own(replay.statements).length, 1, replay.statements.join('\n---\n'));
  });

  it('documents the header on every authenticated POST but refresh and logout', async () => {
    // Parameters and headers are shared components: read them with every $ref resolved (an
    // operation without parameters has none listed).
    const doc = dereference((await suite.app.client().get('/api/v1/openapi.json')).body);
    const hasKey = (path: string, method: string) =>
      ((doc.paths[path][method].parameters ?? []) as { name: string; in: string }[]).some((p) => p.name === 'Idempotency-Key' && p.in === 'header');
    for (const path of ['/api/v1/incidents', '/api/v1/incidents/{id}/updates', '/api/v1/api-keys', '/api/v1/services', '/api/v1/users']) {
      assert.ok(hasKey(path, 'post'), `POST ${path}`);
    }
    for (const path of ['/api/v1/auth/signup', '/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/auth/logout']) {
      assert.ok(!hasKey(path, 'post'), `POST ${path} takes no key`);
    }
    assert.ok(!hasKey('/api/v1/incidents/{id}', 'patch'), 'PATCH takes no key');
    assert.ok(doc.paths['/api/v1/incidents'].post.responses['201'].headers['Idempotent-Replayed'], 'the replay header is documented');
  });
});

describe('Idempotency-Key: a retry that waits no longer than it may', function () {
  this.timeout(60_000);
  const suite = httpSuite({ http: { ...HTTP_DEFAULTS, idempotency: { ...HTTP_DEFAULTS.idempotency, waitMs: 0 } } });

  it('answers 409 while the first request with the key is still in flight', async () => {
    const k = key();
    const knex = suite.app.db.knex;
    const body = { name: 'in-flight', type: 'api' };
    await knex('idempotency_keys').insert({
      tenant_id: suite.admin.tenantId,
      actor_id: suite.admin.userId,
      key: k,
      actor_type: 'user',
      method: 'POST',
      path: '/api/v1/services',
      request_hash: hashOf(body),
      state: 'in_flight',
      owner: randomUUID(),
      locked_until: knex.raw(`now() + interval '1 hour'`),
      expires_at: knex.raw(`now() + interval '1 day'`),
    });
    const res = await refused(knex, suite.admin.tenantId, ['services'], () => suite.admin.client.post('/api/v1/services', body, withKey(k)), 409, {
      detail: /still in progress/,
    });
    assert.equal(res.headers.get('retry-after'), '1');
  });
});

/** The stored hash of a request body, as the node computes it. */
function hashOf(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
