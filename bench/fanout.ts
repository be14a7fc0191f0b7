// Fan-out suite (commit-to-socket latency and events/s across two nodes with 1,000
// sockets, beside a raw Socket.IO broadcast and a raw Redis PUBLISH measured in the same run).
//
// Two app nodes (child processes, cluster mode on one Redis, one database) and 1,000 authenticated
// socket.io-client sockets split across them (200 in quick mode), all in one tenant's stream.
// REST writes (PATCH /services/:id, one event each) go to node A at rising rates; every socket
// must get every event, seqs consecutive; latency = receive time − the envelope's `at` (same
// machine clock; the writer sets `at` as it starts appending to the change log, so the figure also
// holds the tail of the transaction: the tenant's seq lock, two inserts and COMMIT). A listener on
// the Redis bus splits it into `at` → bus and bus → socket. The same sockets and rates measure,
// first, two plain Socket.IO servers joined by @socket.io/redis-adapter (server A io.emit's with
// the time in the payload, a real envelope of the app caught by one socket beforehand); its max
// sustained rate R then gives both sides one more step at R/2 (in the app's ladder; after raw's
// own), the rate of the commit-to-socket p99 comparison. redis-benchmark measures PUBLISH on the
// same Redis. Memory: RSS
// and heap per idle socket on the nodes, beside the plain servers'. See docs/BENCHMARKS.md
// "Fan-out". Flags: --fanout-sockets=, --fanout-rates=10:20:40, --fanout-inflight=,
// --fanout-stock-parser, and --profile (profiles both nodes during one more step).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BusTap } from './lib/fanout-bus-tap.js';
import { SocketFleet } from './lib/fanout-clients.js';
import { CpuMeter, childPidByName, formatCpu, type CpuUse } from './lib/fanout-cpu.js';
import { halfRate, ladder, maxSustained, stepApart, type Side, type StepResult } from './lib/fanout-ladder.js';
import { PgWaitSampler, formatWaits } from './lib/fanout-pg-waits.js';
import { redisPublish } from './lib/fanout-publish.js';
import { startRawNode, type RawNode } from './lib/fanout-raw.js';
import { fanoutRows } from './lib/fanout-rows.js';
import { writeAt } from './lib/fanout-writer.js';
import { HttpClient } from './lib/http-client.js';
import { RESULTS_DIR, type BenchDatabase } from './lib/infra.js';
import type { AppNode, NodeMemory } from './lib/node-process.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';
import { signUpTenant } from './lib/signup.js';
import type { Log, Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'fanout';

interface Plan {
  sockets: number;
  rates: number[];
  stepMs: number;
  /** How long every socket may take to get the last event once the writes are done. */
  drainMs: number;
  /** Services the writes rotate over (concurrent PATCHes never queue on one row lock). */
  services: number;
  /** Writes the HTTP client keeps in flight at most. */
  maxInFlight: number;
  publishRequests: number;
  /** The clients' lean `change` decoder (see bench/lib/fanout-clients.ts); --fanout-stock-parser turns it off. */
  lean: boolean;
}

// Rates fit a small machine: on 2 vCPUs one node's write path tops out under 50 PATCH/s and the
// 1,000 client sockets need a core at about 40 events/s. The ladder stops at the first failing step.
const FULL: Plan = {
  sockets: 1_000,
  rates: [10, 20, 30, 40, 60, 80, 120, 160, 240, 320],
  stepMs: 4_000,
  drainMs: 5_000,
  services: 64,
  maxInFlight: 16,
  publishRequests: 200_000,
  lean: true,
};
const QUICK: Plan = { sockets: 200, rates: [10, 40], stepMs: 2_000, drainMs: 3_000, services: 32, maxInFlight: 16, publishRequests: 30_000, lean: true };

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const plan = { ...(quick ? QUICK : FULL) };
  if (flags['fanout-sockets']) plan.sockets = Number(flags['fanout-sockets']);
  if (flags['fanout-rates']) plan.rates = flags['fanout-rates'].split(':').map(Number);
  if (flags['fanout-inflight']) plan.maxInFlight = Number(flags['fanout-inflight']);
  if (flags['fanout-stock-parser']) plan.lean = false;
  const redisUrl = await infra.redis();
  if (!redisUrl) {
    log('skipped: redis-server is not on PATH (the fan-out suite needs Redis)');
    return [{ suite: SUITE, metric: 'skipped: redis-server is not on PATH', unit: '-', value: 0 }];
  }
  const { server: pg } = await infra.postgres();
  const db = await infra.database(SUITE);
  const targets = {
    'node-a': undefined as number | undefined,
    'node-b': undefined as number | undefined,
    postgres: pg.pid,
    redis: childPidByName('redis-server'),
  };

  // The baseline's two servers start meanwhile (they stay idle until their turn).
  const key = `bench-raw-${randomUUID().slice(0, 8)}`;
  const rawNodes = Promise.all(
    ['raw-a', 'raw-b'].map(async (name) => {
      const node = await startRawNode({ name, redisUrl, key }, log);
      infra.defer(`close raw node ${name}`, () => node.close());
      return node;
    }),
  );
  rawNodes.catch(() => {}); // awaited below; a failed start must not count as unhandled meanwhile

  // --- The app: two nodes, one tenant, sockets on both, writes on A. ---
  const prefix = `bench-fanout-${randomUUID().slice(0, 8)}`;
  const started = Date.now();
  const [a, b] = await Promise.all(
    ['fanout-a', 'fanout-b'].map((name) => infra.appNode({ name, databaseUrl: db.url, redisUrl, live: { redisPrefix: prefix } })),
  );
  log(`app nodes A and B up in ${Date.now() - started} ms (cluster mode, Redis prefix ${prefix})`);
  targets['node-a'] = a!.pid;
  targets['node-b'] = b!.pid;
  const tap = await BusTap.start(redisUrl, `${prefix}:events`);
  infra.defer('close bus tap', () => tap.close());
  const setup = await prepareApp(a!, db, plan, log);
  infra.defer('close HTTP client', () => setup.api.close());

  // --- The baseline first: two plain Socket.IO servers on the same Redis, same sockets and rates,
  // with a real envelope of the app as payload. Its max sustained rate R gives both sides a step
  // at R/2 (the performance issue's latency figure): the app's ladder includes it. ---
  const raw = await measureRaw(await rawNodes, plan, targets, setup.template, log);
  const half = halfRate(raw.steps);
  log(
    half === undefined
      ? 'raw passed no step: no step at 50% of its rate'
      : `raw's max sustained rate ${maxSustained(raw.steps)!.achieved.toFixed(1)} events/s: both sides get a step at ${half}/s`,
  );

  // --- The app, with the same sockets, rates and R/2. ---
  const app = await measureApp(a!, b!, setup, tap, plan, half, new CpuMeter(targets), log, flags);

  // --- Redis PUBLISH on the same Redis, with the envelope's size. ---
  const envelopeBytes = Buffer.byteLength(JSON.stringify(setup.template));
  const publish = await redisPublish(redisUrl, envelopeBytes, plan.publishRequests, log);

  // Every step's figures (CPU per process, PostgreSQL waits, latency split) for docs/BENCHMARKS.md.
  const details = path.join(RESULTS_DIR, 'fanout-steps.json');
  await fs.mkdir(RESULTS_DIR, { recursive: true });
  await fs.writeFile(details, JSON.stringify({ plan, envelopeBytes, statements: app.statements, publish, app: app.side, raw }, null, 2) + '\n');
  log(`step details written to ${path.relative(process.cwd(), details)}`);
  return fanoutRows(plan.sockets, app.side, raw, publish, envelopeBytes, app.statements);
}

// ---------------------------------------------------------------------------------------------
// The app

type AppSetup = Awaited<ReturnType<typeof prepareApp>>;

/**
 * The app's tenant (signed up on node A), the services the writes go to, the writer, and one real
 * envelope, caught by a single socket, that the raw baseline sends as its payload.
 */
async function prepareApp(a: AppNode, db: BenchDatabase, plan: Plan, log: Log) {
  const { slug, tenantId, token } = await signUpTenant(a.url, 'fanout');
  const api = new HttpClient(a.url, token, plan.maxInFlight);
  const ids: string[] = [];
  let made = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (made < plan.services) {
        const i = made++;
        ids[i] = (await api.json('POST', '/api/v1/services', { name: `fan-out target ${i}`, type: 'api', description: 'seed' }, 201)).data.id;
      }
    }),
  );
  const latestSeq = async () => Number((await db.knex('tenant_event_counters').where({ tenant_id: tenantId }).first('last_seq'))?.last_seq ?? 0);
  log(`tenant ${slug} signed up on node A; ${ids.length} services to write to (seq ${await latestSeq()})`);
  let k = 0;
  const write = (rate: number, count: number, capMs?: number) =>
    writeAt(
      api,
      rate,
      count,
      plan.maxInFlight,
      () => {
        const i = k++;
        return { path: `/api/v1/services/${ids[i % ids.length]}`, body: { description: `fan-out write ${i}` } };
      },
      capMs,
    );
  const probe = new SocketFleet({ lean: plan.lean });
  try {
    await probe.connect([a.url], 1, { auth: { token } });
    await write(50, 1);
    const seq = await latestSeq();
    if (!(await probe.reached(seq, 15_000))) throw new Error(`the probe socket never received seq ${seq}`);
    return { db, token, api, write, latestSeq, template: probe.sample as Record<string, unknown> };
  } finally {
    await probe.close();
  }
}

async function measureApp(
  a: AppNode,
  b: AppNode,
  setup: AppSetup,
  tap: BusTap,
  plan: Plan,
  half: number | undefined,
  cpu: CpuMeter,
  log: Log,
  flags: Record<string, string>,
) {
  const { db, token, api, write, latestSeq } = setup;
  const fleet = new SocketFleet({ lean: plan.lean });
  fleet.origin = tap.seenAt;
  try {
    const { connect, perSocket } = await connectMeasured('app', fleet, [a, b], plan.sockets, { token }, log);
    // Every socket is live once it has received a write committed after it connected.
    await write(50, 10);
    const synced = await latestSeq();
    if (!(await fleet.reached(synced, 15_000))) throw new Error(`${fleet.behind(synced)} sockets never received seq ${synced}`);

    // What one write costs the database: the statements node A sends per PATCH (one event each).
    await a.startQueryCount();
    await write(20, 1);
    const one = await a.stopQueryCount();
    const sqlFile = path.join(RESULTS_DIR, 'fanout-patch-statements.sql');
    await fs.mkdir(RESULTS_DIR, { recursive: true });
    await fs.writeFile(
      sqlFile,
      `-- PATCH /services/:id (one event): the ${one.count} statements node A sends\n${one.statements.map((q) => `${q.replace(/;\s*$/, '')};`).join('\n')}\n`,
    );
    await a.startQueryCount();
    await write(20, 10);
    const statements = (await a.stopQueryCount()).count / 10;
    log(`node A sends ${statements} SQL statements per PATCH /services/:id (one event; one PATCH's in ${path.relative(process.cwd(), sqlFile)})`);

    let seq = await latestSeq();
    if (!(await fleet.reached(seq, 15_000))) throw new Error(`${fleet.behind(seq)} sockets never received seq ${seq}`);
    const idle = await idleCpu(cpu, plan.stepMs / 2, log, 'app');
    const pgWaits = new PgWaitSampler(db.knex);
    const rates = half === undefined ? plan.rates : [...new Set([...plan.rates, half])].sort((x, y) => x - y);
    const step = async (rate: number): Promise<StepResult> => {
      fleet.openWindow(seq);
      tap.openWindow(seq);
      cpu.begin();
      pgWaits.start();
      // A rate node A cannot reach ends the step at 1.5× its length rather than stretching it.
      const w = await write(rate, Math.round((rate * plan.stepMs) / 1000), plan.stepMs * 1.5);
      const waits = formatWaits(await pgWaits.stop());
      const last = await latestSeq();
      const stats = await fleet.closeWindow(last, plan.drainMs);
      const use = cpu.end();
      const atToBus = tap.closeWindow();
      const achieved = (last - seq) / (w.wallMs / 1000);
      if (w.retried) log(`app @ ${rate}/s: ${w.retried} PATCHes sent again after a keep-alive connection reset`);
      seq = last;
      return { achieved, failedWrites: w.failed, stats, cpu: use, firstError: w.firstError, writes: w.latency, atToBus, pgWaits: waits };
    };
    const steps = await ladder('app', rates, plan.drainMs, log, step);
    const halfStep = await stepApart('app', steps, half, plan.drainMs, log, step, () => settle(fleet, seq));

    if (flags.profile === 'true' || flags.profile === SUITE) {
      const passed = steps.filter((s) => s.pass);
      const rate = flags['fanout-profile-rate'] ? Number(flags['fanout-profile-rate']) : (passed.at(-1)?.rate ?? plan.rates[0]!);
      await profileApp(a, b, rate, plan, log, async () => {
        await write(rate, Math.round((rate * plan.stepMs) / 1000), plan.stepMs * 1.5);
        const last = await latestSeq();
        await fleet.reached(last, plan.drainMs);
        seq = last;
      });
    }
    return {
      statements,
      side: { label: 'app', steps, half: halfStep, connect, rssPerSocket: perSocket.rss, heapPerSocket: perSocket.heap, idle } satisfies Side,
    };
  } finally {
    await fleet.close();
    api.close();
    // The nodes are idle from here on; stopping them keeps their timers off the baseline's CPU.
    await Promise.all([a.close(), b.close()]);
  }
}

async function profileApp(a: AppNode, b: AppNode, rate: number, plan: Plan, log: Log, load: () => Promise<void>): Promise<void> {
  const files = { a: path.join(RESULTS_DIR, 'fanout-node-a.cpuprofile'), b: path.join(RESULTS_DIR, 'fanout-node-b.cpuprofile') };
  await Promise.all([a.startProfile(100), b.startProfile(100)]);
  await load();
  await Promise.all([a.stopProfile(files.a), b.stopProfile(files.b)]);
  for (const [node, file] of Object.entries(files)) {
    const what = node === 'a' ? 'node A (takes the writes, half the sockets)' : 'node B (half the sockets, events from Redis)';
    const text =
      `fan-out, ${what}: ${rate} writes/s for ${plan.stepMs / 1000} s to ${plan.sockets} sockets under the profiler\n` +
      renderProfile(await summarizeProfile(file, 30));
    await fs.writeFile(file.replace(/\.cpuprofile$/, '-profile.txt'), text + '\n');
    log(`profile written to ${path.relative(process.cwd(), file)}\n${text}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The raw Socket.IO baseline

async function measureRaw(
  nodes: RawNode[],
  plan: Plan,
  targets: Record<string, number | undefined>,
  template: Record<string, unknown>,
  log: Log,
): Promise<Side> {
  const fleet = new SocketFleet({ lean: plan.lean });
  try {
    const [a, b] = nodes as [RawNode, RawNode];
    const cpu = new CpuMeter({ ...targets, 'node-a': a.pid, 'node-b': b.pid });
    const { connect, perSocket } = await connectMeasured('raw', fleet, [a, b], plan.sockets, undefined, log);
    // The adapter subscribes asynchronously: broadcast until every socket has heard one.
    let seq = 0;
    for (let attempt = 0; ; attempt++) {
      seq = (await a.broadcast(50, 10, template)).last;
      if (await fleet.reached(seq, 3_000)) break;
      if (attempt === 4) throw new Error(`raw: ${fleet.behind(seq)} sockets never received seq ${seq}`);
    }
    const idle = await idleCpu(cpu, plan.stepMs / 2, log, 'raw');

    const step = async (rate: number): Promise<StepResult> => {
      fleet.openWindow(seq);
      cpu.begin();
      const r = await a.broadcast(rate, Math.round((rate * plan.stepMs) / 1000), template);
      const stats = await fleet.closeWindow(r.last, plan.drainMs);
      const use = cpu.end();
      const achieved = (r.last - seq) / (r.wallMs / 1000);
      seq = r.last;
      return { achieved, failedWrites: 0, stats, cpu: use };
    };
    const steps = await ladder('raw', plan.rates, plan.drainMs, log, step);
    // Its own max sustained rate is known only now: the step at half of it comes after the ladder.
    const half = await stepApart('raw', steps, halfRate(steps), plan.drainMs, log, step, () => settle(fleet, seq));
    return { label: 'raw', steps, half, connect, rssPerSocket: perSocket.rss, heapPerSocket: perSocket.heap, idle };
  } finally {
    await fleet.close();
    await Promise.all(nodes.map((n) => n.close()));
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Connects `count` sockets split over the nodes and measures the nodes' memory (after GC) before
 * and after: RSS (the resident set size the OS reports), and the V8 heap plus external memory
 * (ArrayBuffers, socket buffers), which moves per object rather than in pages and so is the
 * steadier figure.
 */
async function connectMeasured(
  side: string,
  fleet: SocketFleet,
  nodes: { url: string; memory(o: { gc: boolean }): Promise<NodeMemory> }[],
  count: number,
  auth: Record<string, unknown> | undefined,
  log: Log,
): Promise<{ connect: { rate: number; wallMs: number }; perSocket: { rss: number; heap: number } }> {
  const memory = () => Promise.all(nodes.map((n) => n.memory({ gc: true })));
  const before = await memory();
  const connect = await fleet.connect(
    nodes.map((n) => n.url),
    count,
    { auth },
  );
  await sleep(500); // admission (stream join, log position) finishes after the connect
  const after = await memory();
  const delta = (f: (m: NodeMemory) => number) => after.reduce((sum, m, i) => sum + f(m) - f(before[i]!), 0) / count;
  const perSocket = { rss: delta((m) => m.rss), heap: delta((m) => m.heapUsed + m.external) };
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  log(
    `${side}: ${count} sockets connected in ${connect.wallMs.toFixed(0)} ms (${connect.rate.toFixed(0)} sockets/s); per idle socket ` +
      `${kb(perSocket.rss)} KB RSS, ${kb(perSocket.heap)} KB heap + external (RSS ${nodes.map((_, i) => `${mb(before[i]!.rss)}→${mb(after[i]!.rss)}`).join(', ')} MB)`,
  );
  return { connect, perSocket };
}

/** CPU with every socket connected and nothing sent: what the per-write and per-delivery figures subtract. */
async function idleCpu(cpu: CpuMeter, ms: number, log: Log, side: string): Promise<CpuUse> {
  cpu.begin();
  await sleep(ms);
  const use = cpu.end();
  log(`${side}: idle with every socket connected: CPU ${formatCpu(use)}`);
  return use;
}

/** After an overloaded step: every socket has the last event (or 15 s passed), then a second of quiet. */
async function settle(fleet: SocketFleet, seq: number): Promise<void> {
  await fleet.reached(seq, 15_000);
  await sleep(1_000);
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const suite: Suite = {
  name: SUITE,
  description:
    'Live-event fan-out: REST writes on node A to 1,000 sockets on two nodes (200 quick) at rising rates, vs raw Socket.IO + Redis adapter and redis-benchmark PUBLISH; memory per socket',
  run,
};
export default suite;
