// GET /metrics scraped from running nodes: the exposition passes `promtool check metrics`, every
// family has HELP and TYPE, errors are counted under their route template (never the raw URL),
// and the live-event, co-editing, bus and pool series follow what real clients do.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { InProcessEventBus } from '../src/platform/bus.js';
import { WriteRunner } from '../src/platform/write.js';
import { createEntityServices } from '../src/modules/catalog/service.js';
import { actingAs, quietLogger } from './support/factories.js';
import { openEditor, testCollabOptions, type Editor } from './support/collab-client.js';
import { connectLive, waitFor, type LiveClient } from './support/live-events.js';
import { findOnPath, getRedis, requireRedis } from './support/redis.js';
import { startTestApp, type ApiClient, type TestApp } from './support/server.js';
import { followerCaughtUp } from './support/sql.js';

type Labels = Record<string, string>;

interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** The samples of a text exposition, and the families its HELP and TYPE lines declare. */
function parseExposition(text: string): { samples: Sample[]; help: Set<string>; types: Map<string, string> } {
  const samples: Sample[] = [];
  const help = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') help.add(meta[2]);
      else types.set(meta[2], meta[3]);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    const labels: Labels = {};
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return { samples, help, types };
}

/** The value of the one sample of `name` carrying at least `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Labels = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} names ${found.length} series`);
  return found[0]?.value;
}

/** How far a series moved between two scrapes (a series not there yet counts as 0). */
function deltaOf(before: Sample[], after: Sample[], name: string, labels: Labels = {}): number {
  return (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
}

/** Scrapes until `ready` holds (the series report what already happened elsewhere, e.g. a socket's close). */
async function scrapeUntil(scrape: () => Promise<Sample[]>, what: string, ready: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const samples = await scrape();
    if (ready(samples)) return samples;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The family a sample belongs to: a histogram's _bucket, _sum and _count belong to its name. */
function familyOf(name: string, types: Map<string, string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && types.get(base) === 'histogram' ? base : name;
}

/** `promtool check metrics` over the text on stdin: its exit code and what it said. */
function promtoolCheck(promtool: string, text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

const PROMTOOL_SKIPPED = '*** PROMTOOL CHECK SKIPPED: no promtool on PATH (apt-get install prometheus) ***';

describe('metrics: GET /metrics with prom-client', () => {
  let app: TestApp;
  let admin: ApiClient;
  let tenantId: string;
  let token: string;
  const live: LiveClient[] = [];
  const editors: Editor[] = [];

  async function scrape(node: TestApp = app) {
    const res = await node.client().get('/metrics');
    assert.equal(res.status, 200, res.text);
    return { text: res.text, ...parseExposition(res.text) };
  }

  async function createService(client: ApiClient = admin): Promise<{ id: string }> {
    const res = await client.post('/api/v1/services', { name: `svc-${randomUUID().slice(0, 8)}`, type: 'api' });
    assert.equal(res.status, 201, res.text);
    return res.body.data;
  }

  before(async () => {
    app = await startTestApp({ live: { sweepIntervalMs: 200 }, collab: testCollabOptions() });
    const tenant = await app.signup();
    ({ tenantId, token } = tenant);
    admin = app.client(token);
  });

  afterEach(() => {
    for (const client of live.splice(0)) client.close();
    for (const editor of editors.splice(0)) editor.destroy();
  });

  after(async () => {
    await app?.close();
  });

  describe('HTTP requests by route template', () => {
    let start: Sample[];
    let end: Sample[];

    before(async () => {
      start = (await scrape()).samples;
      const serviceId = (await createService()).id;
      // 412: a stale If-Match on PATCH; 404: an id no row has; 401: no token, on the same route and a deeper one.
      assert.equal((await admin.patch(`/api/v1/services/${serviceId}`, { description: 'x' }, { 'if-match': '"999"' })).status, 412);
      assert.equal((await admin.get(`/api/v1/services/${randomUUID()}`)).status, 404);
      assert.equal((await app.client().get(`/api/v1/services/${serviceId}`)).status, 401);
      assert.equal((await app.client().post(`/api/v1/services/${serviceId}/restore`)).status, 401);
      // 400 from the body gate, before any route ran.
      assert.equal((await admin.request('PATCH', `/api/v1/services/${serviceId}`, { raw: '{oops' })).status, 400);
      // No route at all, with and without a token.
      assert.equal((await admin.get(`/api/v1/no-such-collection/${serviceId}`)).status, 404);
      assert.equal((await app.client().get(`/api/v1/no-such-collection/${serviceId}`)).status, 401);
      assert.equal((await app.client().get(`/nowhere/${serviceId}`)).status, 404);
      end = (await scrape()).samples;
    });

    it('counts a 412, a 404 and a 401 under the route template, in the counter and the histogram', () => {
      const cases: [string, string, string][] = [
        ['PATCH', '/api/v1/services/:id', '412'],
        ['GET', '/api/v1/services/:id', '404'],
        ['GET', '/api/v1/services/:id', '401'],
        ['POST', '/api/v1/services/:id/restore', '401'],
        ['PATCH', '/api/v1/services/:id', '400'],
        ['POST', '/api/v1/services', '201'],
      ];
      for (const [method, route, status] of cases) {
        const labels = { method, route, status };
        assert.equal(deltaOf(start, end, 'http_requests_total', labels), 1, `http_requests_total ${JSON.stringify(labels)}`);
        assert.equal(deltaOf(start, end, 'http_request_duration_seconds_count', labels), 1, `duration count ${JSON.stringify(labels)}`);
        assert.equal(deltaOf(start, end, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), 1);
      }
    });

    it('puts requests that match no route under one `unmatched` label, never a raw URL', () => {
      assert.equal(deltaOf(start, end, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 2);
      assert.equal(deltaOf(start, end, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '401' }), 1);
      const routes = new Set(end.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route));
      for (const route of routes) {
        assert.ok(route === 'unmatched' || /^\/[\w/:.-]*$/.test(route), `route label ${route}`);
        assert.ok(!/[0-9a-f]{8}-[0-9a-f]{4}-/.test(route), `a raw id in route label ${route}`);
      }
      assert.ok(!routes.has('/:id'), 'no route label without its base path');
    });
  });

  it('passes promtool check metrics, with HELP and TYPE on every family, runtime metrics included', async function () {
    // Traffic of every kind first, so histograms, labelled counters and engine gauges all have series.
    const client = await connectLive(app.url, { token, since: 0 });
    live.push(client);
    const service = await createService();
    editors.push(await openEditor(app.url, `services/${service.id}`, token));
    await waitFor(() => client.events.some((e) => e.entity_id === service.id), 'the created event on the socket');
    const { text, samples, help, types } = await scrape();

    for (const family of new Set(samples.map((s) => familyOf(s.name, types)))) {
      assert.ok(help.has(family), `no HELP for ${family}`);
      assert.ok(types.has(family), `no TYPE for ${family}`);
      if (family.endsWith('_total')) assert.equal(types.get(family), 'counter', `${family} is named like a counter`);
    }
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes', 'process_cpu_seconds_total']) {
      assert.ok(valueOf(samples, name) !== undefined, `runtime metric ${name}`);
    }
    assert.equal(types.get('nodejs_gc_duration_seconds'), 'histogram');

    const promtool = findOnPath('promtool');
    if (!promtool) {
      if (process.env.REQUIRE_PROMTOOL === '1') throw new Error('REQUIRE_PROMTOOL=1 but there is no promtool on PATH');
      process.stderr.write(`\n${PROMTOOL_SKIPPED}\n\n`);
      this.skip();
    }
    const { code, output } = await promtoolCheck(promtool, text);
    assert.equal(code, 0, `promtool check metrics:\n${output}`);
    assert.equal(output.trim(), '', `promtool check metrics:\n${output}`);
  });

  it('moves live_sockets, collab_documents and collab_connections as clients come and go', async () => {
    await scrapeUntil(
      async () => (await scrape()).samples,
      'no sockets or documents left',
      (s) => valueOf(s, 'live_sockets') === 0 && valueOf(s, 'collab_connections') === 0 && valueOf(s, 'collab_documents') === 0,
    );
    const service = await createService();

    const client = await connectLive(app.url, { token });
    live.push(client);
    const first = await openEditor(app.url, `services/${service.id}`, token);
    editors.push(first);
    const second = await openEditor(app.url, `services/${service.id}`, token);
    editors.push(second);
    const { samples } = await scrape();
    assert.equal(valueOf(samples, 'live_sockets'), 1);
    assert.equal(valueOf(samples, 'collab_documents'), 1, 'two editors of one record share one document');
    assert.equal(valueOf(samples, 'collab_connections'), 2);

    client.close();
    first.destroy();
    second.destroy();
    editors.splice(0);
    await scrapeUntil(
      async () => (await scrape()).samples,
      'the gauges back at 0',
      (s) => valueOf(s, 'live_sockets') === 0 && valueOf(s, 'collab_connections') === 0 && valueOf(s, 'collab_documents') === 0,
    );
  });

  it('counts a write published, delivered once to its one socket, and its commit-to-emit lag', async () => {
    const client = await connectLive(app.url, { token });
    live.push(client);
    const before = (await scrape()).samples;
    const service = await createService();
    await waitFor(() => client.events.some((e) => e.entity_id === service.id), 'the created event on the socket');
    const after = (await scrape()).samples;
    const delta = (name: string, labels: Labels = {}) => deltaOf(before, after, name, labels);

    assert.equal(client.events.length, 1, 'one write, one event');
    assert.equal(delta('live_events_published_total'), 1);
    assert.equal(delta('live_events_delivered_total'), 1);
    assert.equal(delta('live_event_messages_total', { kind: 'live' }), 1, 'one socket reached');
    assert.equal(delta('live_event_emit_lag_seconds_count'), 1);
    assert.equal(delta('live_changelog_catchup_events_total'), 0, 'the bus brought it, not the change log');
    assert.equal(valueOf(after, 'live_events_publish_failed_total'), 0);
  });

  it('counts events replayed to a socket that joins with since', async () => {
    const before = (await scrape()).samples;
    const logged = Number((await app.db.knex('change_events').where({ tenant_id: tenantId }).count('* as n').first())?.n);
    const client = await connectLive(app.url, { token, since: 0 });
    live.push(client);
    await waitFor(() => client.events.length === logged, `the ${logged} logged events replayed`);
    const after = (await scrape()).samples;
    assert.equal(deltaOf(before, after, 'live_event_messages_total', { kind: 'replay' }), logged);
  });

  it('counts sweeps, and a write that never reached the bus as a catch-up from the change log', async () => {
    const client = await connectLive(app.url, { token });
    live.push(client);
    const before = (await scrape()).samples;
    // Committed by a writer whose events never reach this node's bus: a node that died after COMMIT.
    const lost = new WriteRunner(app.db.knex, new InProcessEventBus(), quietLogger);
    const ctx = await actingAs(app.db.knex, tenantId);
    const row = await createEntityServices(lost).services.create(ctx, { name: `lost-${randomUUID().slice(0, 8)}`, type: 'api' });
    await waitFor(() => client.events.some((e) => e.entity_id === row.id), 'the unpublished write delivered from the change log');
    const after = (await scrape()).samples;
    const delta = (name: string, labels: Labels = {}) => deltaOf(before, after, name, labels);
    assert.ok(delta('live_changelog_sweeps_total', { outcome: 'ok' }) >= 1, 'a sweep ran');
    assert.equal(delta('live_changelog_sweeps_total', { outcome: 'failed' }), 0);
    assert.equal(delta('live_changelog_catchups_total'), 1);
    assert.equal(delta('live_changelog_catchup_events_total'), 1);
    assert.equal(delta('live_events_published_total'), 0, 'this node published nothing');
    assert.equal(delta('live_events_delivered_total'), 1);
  });

  it('reports the database pool', async () => {
    const { samples } = await scrape();
    assert.equal(valueOf(samples, 'db_pool_max'), 5, "the test database's knex opens at most 5");
    const used = valueOf(samples, 'db_pool_used');
    const free = valueOf(samples, 'db_pool_free');
    assert.ok(used !== undefined && free !== undefined && used + free >= 1 && used + free <= 5, `used ${used} free ${free}`);
    assert.equal(valueOf(samples, 'db_pool_pending_acquires'), 0);
    const trx = await app.db.knex.transaction();
    try {
      const held = (await scrape()).samples;
      assert.ok((valueOf(held, 'db_pool_used') ?? 0) >= 1, 'a connection held by an open transaction is in use');
    } finally {
      await trx.rollback();
    }
    await scrapeUntil(
      async () => (await scrape()).samples,
      'the connection back in the pool',
      (s) => valueOf(s, 'db_pool_used') === 0,
    );
    assert.equal(valueOf(samples, 'event_bus_connected', { client: 'subscriber' }), undefined, 'no Redis bus in embedded mode');
  });

  it('keeps each node in its own Registry: a second node in the process counts only its own requests', async () => {
    const other = await startTestApp();
    try {
      const labels = { method: 'GET', route: '/api/v1/services/:id', status: '401' };
      const mineBefore = (await scrape()).samples;
      await other.client().get(`/api/v1/services/${randomUUID()}`);
      const mineAfter = (await scrape()).samples;
      const theirs = (await scrape(other)).samples;
      assert.equal(valueOf(theirs, 'http_requests_total', labels), 1);
      assert.equal(deltaOf(mineBefore, mineAfter, 'http_requests_total', labels), 0);
      assert.equal(valueOf(theirs, 'http_requests_total', { method: 'POST', route: '/api/v1/services', status: '201' }), undefined);
    } finally {
      await other.close();
    }
  });

  it("counts the change-log followers' passes and the events they derive, in a tenant of their own", async () => {
    const tenant = await app.signup();
    const client = app.client(tenant.token);
    const before = (await scrape()).samples;
    const card = await client.post('/api/v1/scorecards', {
      name: 'described',
      entity_types: ['services'],
      criteria: [{ name: 'described', check_type: 'has_field', check_config: { field: 'description' } }],
    });
    assert.equal(card.status, 201, card.text);
    await followerCaughtUp(app.db.knex, tenant.tenantId, 'scorecard_scores');
    for (const name of ['scored-a', 'scored-b']) assert.equal((await client.post('/api/v1/services', { name, type: 'api' })).status, 201);
    await followerCaughtUp(app.db.knex, tenant.tenantId, 'scorecard_scores');
    const after = (await scrape()).samples;
    const derived = Number(
      (await app.db.knex('change_events').where({ tenant_id: tenant.tenantId, type: 'scorecards.score_changed' }).count('* as n').first())?.n,
    );
    assert.equal(derived, 2, 'one score per new service');
    assert.equal(deltaOf(before, after, 'derived_events_total', { follower: 'scorecard_scores' }), derived);
    assert.ok(deltaOf(before, after, 'derived_event_passes_total', { follower: 'scorecard_scores', outcome: 'ok' }) >= 2, 'the baseline and a pass');
    assert.equal(valueOf(after, 'derived_event_passes_total', { follower: 'scorecard_scores', outcome: 'failed' }) ?? 0, 0);
  });
});

describe('metrics: the Redis event bus', function () {
  requireRedis(this);
  let app: TestApp;

  before(async () => {
    const redis = (await getRedis())!;
    app = await startTestApp({ live: { redisPrefix: `metrics-${randomUUID().slice(0, 8)}` } }, { redisUrl: redis.url });
  });

  after(async () => {
    await app?.close();
  });

  async function samples(): Promise<Sample[]> {
    const res = await app.client().get('/metrics');
    assert.equal(res.status, 200);
    return parseExposition(res.text).samples;
  }

  const connected = (s: Sample[], up: 0 | 1) =>
    valueOf(s, 'event_bus_connected', { client: 'publisher' }) === up && valueOf(s, 'event_bus_connected', { client: 'subscriber' }) === up;

  it('shows event_bus_connected 1 for both connections, 0 while Redis is down, and counts failed publishes', async function () {
    const redis = (await getRedis())!;
    assert.ok(connected(await samples(), 1), 'both Redis connections up');
    if (!redis.managed) this.skip(); // REDIS_URL: not ours to stop
    const { token } = await app.signup();
    await redis.stop();
    try {
      const down = await scrapeUntil(samples, 'event_bus_connected 0', (s) => connected(s, 0));
      const res = await app.client(token).post('/api/v1/teams', { name: `t-${randomUUID().slice(0, 8)}` });
      assert.equal(res.status, 201, res.text);
      const failed = await scrapeUntil(samples, 'the failed publish counted', (s) => deltaOf(down, s, 'live_events_publish_failed_total') > 0);
      assert.equal(deltaOf(down, failed, 'live_events_publish_failed_total'), 1, 'the write committed, its one event not published');
      assert.equal(deltaOf(down, failed, 'live_events_published_total'), 1, 'handed to the bus all the same');
    } finally {
      await redis.restart();
    }
    await scrapeUntil(samples, 'event_bus_connected 1 again', (s) => connected(s, 1));
  });
});
