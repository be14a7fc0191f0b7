// Black-box: `scorecards.score_changed`, appended after commit by the change-log follower when a
// change of an entity (or of an incident affecting it) moves its score or level, pushed to a
// subscribed socket; never inside the write that caused it, never twice, never across tenants.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { connectLive, sleep, waitFor, type LiveClient } from './support/live-events.js';
import type { Knex } from 'knex';
import { startServer, type AppHandle } from '../src/app.js';
import type { ScoreChange } from '../src/modules/scorecards/score-events.js';
import { createKnex } from '../src/platform/db.js';
import { quietLogger } from './support/factories.js';
import { ApiClient, testConfig, type TestApp } from './support/server.js';
import { followerCaughtUp } from './support/sql.js';

const uniq = () => randomUUID().slice(0, 8);
const FOLLOWER = 'scorecard_scores';

describe('scorecards.score_changed: derived after commit from the change log', function () {
  this.timeout(60_000);
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let live: LiveClient;
  let card: Record<string, any>;

  const scoreEvents = () => live.events.filter((e) => e.type === 'scorecards.score_changed');
  const changesOf = (entityId: string) => scoreEvents().filter((e) => (e.data as ScoreChange).entity_id === entityId);
  const settled = (tenant: Tenant) => followerCaughtUp(app.db.knex, tenant.tenantId, FOLLOWER);

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    card = await created(admin.client, '/api/v1/scorecards', {
      name: `readiness-${uniq()}`,
      entity_types: ['services'],
      levels: [
        { name: 'bronze', min_score: 50 },
        { name: 'gold', min_score: 100 },
      ],
      criteria: [
        { name: 'described', check_type: 'has_field', check_config: { field: 'description' } },
        { name: 'calm', check_type: 'no_active_incidents', check_config: {} },
      ],
    });
    await settled(admin);
    live = await connectLive(app.url, { token: admin.token });
    const ack = await live.emitWithAck('subscribe', { types: ['scorecards.score_changed'] });
    assert.deepEqual(ack, { ok: true });
  });
  after(async () => {
    live?.close();
    await app?.close();
  });

  it('scores a new entity, then moves its score and level when a change moves them, and stays quiet otherwise', async () => {
    const svc = await created(admin.client, '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
    await waitFor(() => changesOf(svc.id).length === 1, 'the first score');
    assert.deepEqual(
      (({ scorecard_id, score, level, previous_score, previous_level }) => ({ scorecard_id, score, level, previous_score, previous_level }))(
        changesOf(svc.id)[0].data as ScoreChange,
      ),
      { scorecard_id: card.id, score: 50, level: 'bronze', previous_score: null, previous_level: null },
    );
    const first = changesOf(svc.id)[0];
    assert.equal(first.entity_type, 'scorecards');
    assert.equal(first.entity_id, card.id);
    assert.equal(first.actor.type, 'system');
    assert.equal((first.data as ScoreChange).entity_name, svc.name);

    // A change that does not move the score: no event.
    const renamed = await admin.client.patch(`/api/v1/services/${svc.id}`, { name: `${svc.name}-b` }, { 'if-match': `"${svc.row_version}"` });
    expectStatus(renamed, 200);
    await settled(admin);
    assert.equal(changesOf(svc.id).length, 1, 'a rename keeps the score');

    const described = await admin.client.patch(
      `/api/v1/services/${svc.id}`,
      { description: 'the checkout API' },
      { 'if-match': `"${renamed.body.data.row_version}"` },
    );
    expectStatus(described, 200);
    await waitFor(() => changesOf(svc.id).length === 2, 'the score moving to 100');
    const moved = changesOf(svc.id)[1];
    assert.deepEqual(
      (({ score, level, previous_score, previous_level, entity_name }) => ({ score, level, previous_score, previous_level, entity_name }))(
        moved.data as ScoreChange,
      ),
      { score: 100, level: 'gold', previous_score: 50, previous_level: 'bronze', entity_name: `${svc.name}-b` },
    );
    assert.deepEqual(moved.changes, { score: { old: 50, new: 100 }, level: { old: 'bronze', new: 'gold' } });
    // The detail view computes the same score and level on read.
    const detail = (await admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
    assert.deepEqual(
      detail.scorecards.map((s: { scorecard_id: string; score: number; level: string | null }) => [s.scorecard_id, s.score, s.level]),
      [[card.id, 100, 'gold']],
    );

    // The derived event comes after the change that caused it, with its own seq, and is in the change log.
    const updates = (await admin.client.get(`/api/v1/events?entity_type=services&entity_id=${svc.id}`)).body.data;
    const describedSeq = updates.find((e: { changes: Record<string, unknown> | null }) => e.changes && 'description' in e.changes).seq;
    assert.ok(moved.seq > describedSeq, `score event ${moved.seq} after the update ${describedSeq}`);
    const logged = (await admin.client.get(`/api/v1/events?entity_type=scorecards&entity_id=${card.id}&since=${moved.seq - 1}&limit=1`)).body.data;
    assert.equal(logged[0].seq, moved.seq);
    assert.equal(logged[0].type, 'scorecards.score_changed');
  });

  it('follows incidents: an active incident on the entity lowers its score, resolving it raises it again', async () => {
    const svc = await created(admin.client, '/api/v1/services', { name: `inc-${uniq()}`, type: 'api', description: 'described' });
    await waitFor(() => changesOf(svc.id).length === 1, 'the first score');
    assert.equal((changesOf(svc.id)[0].data as ScoreChange).score, 100);

    const incident = await created(admin.client, '/api/v1/incidents', {
      title: 'Checkout slow',
      severity: 'major',
      impact_type: 'degraded',
      affected: [{ entity_type: 'services', entity_id: svc.id }],
    });
    await waitFor(() => changesOf(svc.id).length === 2, 'the incident lowering the score');
    assert.deepEqual((({ score, level, previous_score }) => ({ score, level, previous_score }))(changesOf(svc.id)[1].data as ScoreChange), {
      score: 50,
      level: 'bronze',
      previous_score: 100,
    });
    expectStatus(await admin.client.post(`/api/v1/incidents/${incident.id}/updates`, { status: 'resolved', message: 'fixed' }), 201);
    await waitFor(() => changesOf(svc.id).length === 3, 'the resolution raising it');
    assert.deepEqual((({ score, level, previous_score }) => ({ score, level, previous_score }))(changesOf(svc.id)[2].data as ScoreChange), {
      score: 100,
      level: 'gold',
      previous_score: 50,
    });
  });

  it("re-baselines on a scorecard's own edit without an event per entity, and scores against the new criteria after it", async () => {
    const svc = await created(admin.client, '/api/v1/services', { name: `edit-${uniq()}`, type: 'api' });
    await waitFor(() => changesOf(svc.id).length === 1, 'the first score');
    const current = (await admin.client.get(`/api/v1/scorecards/${card.id}`)).body.data;
    const before = scoreEvents().length;
    // Only the description counts now: the service drops from 50 to 0 with the edit, silently.
    const edited = await admin.client.patch(
      `/api/v1/scorecards/${card.id}`,
      { criteria: [{ name: 'described', check_type: 'has_field', check_config: { field: 'description' } }] },
      { 'if-match': `"${current.row_version}"` },
    );
    expectStatus(edited, 200);
    await settled(admin);
    await sleep(100);
    assert.equal(scoreEvents().length, before, 'no event per entity for the edit');
    const results = (await admin.client.get(`/api/v1/scorecards/${card.id}/results?limit=200`)).body.data;
    assert.equal(results.find((r: { entity_id: string }) => r.entity_id === svc.id).score, 0);

    const fixed = await admin.client.patch(`/api/v1/services/${svc.id}`, { description: 'now described' }, { 'if-match': `"${svc.row_version}"` });
    expectStatus(fixed, 200);
    await waitFor(() => changesOf(svc.id).length === 2, 'the score moving from the new baseline');
    assert.deepEqual(
      (({ score, previous_score, level, previous_level }) => ({ score, previous_score, level, previous_level }))(changesOf(svc.id)[1].data as ScoreChange),
      { score: 100, previous_score: 0, level: 'gold', previous_level: null },
    );
  });

  it('writes each derived event once, no audit entry for it, and nothing from or to another tenant', async () => {
    // The other tenant has a scorecard and a scored service of its own.
    await created(other.client, '/api/v1/scorecards', {
      name: 'theirs',
      entity_types: ['services'],
      criteria: [{ name: 'described', check_type: 'has_field', check_config: { field: 'description' } }],
    });
    await followerCaughtUp(app.db.knex, other.tenantId, FOLLOWER);
    const theirs = await created(other.client, '/api/v1/services', { name: `theirs-${uniq()}`, type: 'api', description: 'x' });
    await followerCaughtUp(app.db.knex, other.tenantId, FOLLOWER);
    const otherEvents = (await other.client.get('/api/v1/events?entity_type=scorecards&limit=1000')).body.data;
    assert.equal(otherEvents.filter((e: { type: string }) => e.type === 'scorecards.score_changed').length, 1);
    await settled(admin);
    assert.ok(
      scoreEvents().every((e) => e.tenant_id === admin.tenantId && (e.data as ScoreChange).entity_id !== theirs.id),
      'no event of the other tenant',
    );

    // Every score event the socket got is in the log exactly once, and seqs stay gapless.
    const log = (await admin.client.get('/api/v1/events?limit=1000')).body.data as { seq: number; type: string; data: ScoreChange }[];
    const logged = log.filter((e) => e.type === 'scorecards.score_changed');
    assert.deepEqual(
      logged.map((e) => e.seq),
      scoreEvents().map((e) => e.seq),
    );
    const keys = logged.map((e) => `${e.data.entity_id}:${e.data.previous_score}->${e.data.score}`);
    assert.equal(new Set(keys).size, keys.length, 'no event twice');
    log.forEach((e, i) => i === 0 || assert.equal(e.seq, log[i - 1].seq + 1));

    // The audit log has the scorecard's own writes, and nothing for the events derived from other writes.
    const audited = (await app.db.knex('audit_logs').where({ tenant_id: admin.tenantId, entity_type: 'scorecards' }).select('action')) as { action: string }[];
    assert.deepEqual(audited.map((a) => a.action).sort(), ['create', 'update']);
    assert.ok(logged.length >= 6, `${logged.length} derived events`);
  });
});

describe('scorecards.score_changed with two nodes deriving at once', function () {
  this.timeout(60_000);
  let app: TestApp;
  let second: AppHandle;
  let secondPool: Knex;

  before(async () => {
    // Both nodes poll every 25 ms, so both try every tenant's pass all the time; only the cursor's row lock keeps them apart.
    app = await startHttpApp({ derivedEvents: { run: true, pollMs: 25 } });
    secondPool = createKnex(app.db.url, { poolMax: 4 });
    second = await startServer({ config: testConfig({ derivedEvents: { run: true, pollMs: 25 } }), knex: secondPool, logger: quietLogger });
  });
  after(async () => {
    await second?.close();
    await secondPool?.destroy();
    await app?.close();
  });

  it('appends each score change once, whichever node runs the pass: every entity a chain of changes ending at its score', async () => {
    const admin = await signupTenant(app);
    const nodes = [new ApiClient(app.url, admin.token), new ApiClient(second.url, admin.token)];
    await created(nodes[0], '/api/v1/scorecards', {
      name: 'described',
      entity_types: ['services'],
      criteria: [{ name: 'described', check_type: 'has_field', check_config: { field: 'description' } }],
    });
    await followerCaughtUp(app.db.knex, admin.tenantId, FOLLOWER);
    const services = await Promise.all(Array.from({ length: 12 }, (_, i) => created(nodes[i % 2], '/api/v1/services', { name: `two-${i}`, type: 'api' })));
    // Each service: created (0), described (100), then odd ones undescribed again (0), through both nodes.
    await Promise.all(
      services.map(async (svc, i) => {
        const one = await nodes[i % 2].patch(`/api/v1/services/${svc.id}`, { description: 'yes' }, { 'if-match': `"${svc.row_version}"` });
        expectStatus(one, 200);
        if (i % 2)
          expectStatus(
            await nodes[(i + 1) % 2].patch(`/api/v1/services/${svc.id}`, { description: null }, { 'if-match': `"${one.body.data.row_version}"` }),
            200,
          );
      }),
    );
    await followerCaughtUp(app.db.knex, admin.tenantId, FOLLOWER);
    await sleep(200); // a pass that raced the cursor would have appended by now
    await followerCaughtUp(app.db.knex, admin.tenantId, FOLLOWER);
    const rows = (await app.db.knex('change_events').where({ tenant_id: admin.tenantId, type: 'scorecards.score_changed' }).orderBy('seq')) as {
      data: ScoreChange;
    }[];
    const chains = new Map<string, ScoreChange[]>();
    for (const { data } of rows) chains.set(data.entity_id, [...(chains.get(data.entity_id) ?? []), data]);
    assert.equal(chains.size, services.length, 'every new service scored');
    services.forEach((svc, i) => {
      // Changes the follower read in one batch are one step (the score as the pass found it), so a
      // chain may be shorter than the writes; a duplicate or a lost step would break it.
      const chain = chains.get(svc.id)!;
      assert.equal(chain[0].previous_score, null, `${svc.name} starts unscored`);
      chain.forEach((step, k) => {
        if (k > 0) assert.equal(step.previous_score, chain[k - 1].score, `${svc.name} step ${k} follows the one before`);
        assert.notEqual(step.score, step.previous_score, `${svc.name} step ${k} is a change`);
      });
      assert.equal(chain[chain.length - 1].score, i % 2 ? 0 : 100, `${svc.name} ends at its score`);
    });
    const stored = (await app.db.knex('scorecard_scores').where({ tenant_id: admin.tenantId }).select('entity_id', 'score')) as {
      entity_id: string;
      score: number;
    }[];
    assert.deepEqual(new Map(stored.map((r) => [r.entity_id, r.score])), new Map(services.map((svc, i) => [svc.id, i % 2 ? 0 : 100])));
  });
});
