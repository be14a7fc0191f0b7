// Co-editing suite (issue #6): N editors (2, 10, 50; quick: 2, 10) on one document, stock
// y-websocket providers in this process, each making small text edits at a fixed total rate.
// Measured per offered rate: update latency from one editor to the others (p50/p99) on an app node
// (every update stored in PostgreSQL before it is relayed) beside a minimal stock y-protocols relay
// (memory only, bench/lib/coedit-relay.ts) measured the same way in the same run, interleaved rate
// by rate (full mode: two repeats, each side's best p99 kept); the highest rate whose p99 stays
// under 100 ms; updates applied per second; CPU (node, PostgreSQL, relay) and SQL statements per
// edit; projections into the entity row per second; RSS and heap per loaded document on either
// server; in full mode also a profile of the node while editing and the same node in cluster mode
// (Redis relay) beside the embedded one.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { cpuMs, EditorSet, type StepOptions, type StepResult } from './lib/coedit-load.js';
import { startRelay, type RelayNode } from './lib/coedit-relay-process.js';
import { HttpClient } from './lib/http-client.js';
import { signUpTenant } from './lib/signup.js';
import { measure } from './lib/measure.js';
import { RESULTS_DIR } from './lib/infra.js';
import type { AppNode, NodeMemory } from './lib/node-process.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';
import type { Log, Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'coedit';
const BASELINE = 'stock y-websocket relay';
/** Remote edits within 100 ms read as live (the classic 0.1 s limit for "instant"). */
const BOUND_MS = 100;
const KB = 1024;
const MB = 1024 * 1024;

interface Plan {
  editors: number[];
  /** Offered edits/s over the whole document, per editor count; stops early once both sides miss the bound. */
  rates: Record<number, number[]>;
  step: Omit<StepOptions, 'rate'>;
  /** Interleaved repeats of each step; each side's best (lowest p99) is reported. */
  repeats: number;
  memoryDocuments: number;
  /** Wait after each of the app node's steps, inside its CPU window (see measureStep). */
  trailingMs: number;
  /** Profile the app node while N=10 editors edit at this rate (0: no profile unless --profile). */
  profileRate: number;
  /** Cluster mode (REDIS_URL) beside the embedded node: rates for N=10 (empty: skipped). */
  redisRates: number[];
}

const QUICK: Plan = {
  editors: [2, 10],
  rates: { 2: [50, 400], 10: [50, 200] },
  step: { warmupMs: 250, windowMs: 1_200, drainMs: 1_500 },
  repeats: 1,
  memoryDocuments: 100,
  trailingMs: 0,
  profileRate: 0,
  redisRates: [],
};
const FULL: Plan = {
  editors: [2, 10, 50],
  rates: { 2: [100, 400, 1_000], 10: [50, 200, 400], 50: [20, 50, 100] },
  step: { warmupMs: 500, windowMs: 2_000, drainMs: 2_000 },
  repeats: 2,
  memoryDocuments: 500,
  trailingMs: 600,
  profileRate: 200,
  redisRates: [100],
};

/** A server under test: where editors connect and whose processes' CPU counts. */
interface Target {
  label: string;
  wsBase: string;
  cpu(): { server: number; postgres: number };
  /** The app node's SQL statement count (knex 'query' events). */
  sql?: Pick<AppNode, 'startQueryCount' | 'stopQueryCount'>;
}

interface Measured extends StepResult {
  /** CPU ms per edit over the whole step (warm-up, window, drain). */
  serverCpuPerEdit: number;
  postgresCpuPerEdit: number;
  /** SQL statements the server sent per edit over the whole step (0 for the relay). */
  sqlPerEdit: number;
  /** The first statements of the step, to read. */
  statements: string[];
  /** Projections written to the entity row (row_version bumps) per second of the step. */
  projectionsPerSec: number;
}

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const plan = quick ? QUICK : FULL;
  const db = await infra.database(SUITE);
  const { server: pg } = await infra.postgres();
  const [node, relay] = await Promise.all([infra.appNode({ name: SUITE, databaseUrl: db.url }), startRelay(log)]);
  infra.defer('close the stock relay', () => relay.close());

  const { token, tenantId, userId } = await signUpTenant(node.url, 'bench-coedit');
  const api = new HttpClient(node.url, token);
  infra.defer('close HTTP client', () => api.close());
  const createService = async (name: string): Promise<string> =>
    (
      await api.json(
        'POST',
        '/api/v1/services',
        {
          name,
          type: 'api',
          description: 'Checkout API: takes orders from the web shop and the mobile apps.',
          attributes: { protocol: 'https', auth_method: 'oauth2' },
          tags: ['bench'],
        },
        201,
      )
    ).data.id;

  const rowVersionOf = (id: string) => async () => Number((await api.json('GET', `/api/v1/services/${id}`)).data.row_version);
  const ours = (n: AppNode, label: string): Target => ({
    label,
    wsBase: `${n.url.replace(/^http/, 'ws')}/collab`,
    cpu: () => ({ server: cpuMs(n.pid), postgres: cpuMs(pg.pid, true) }),
    sql: n,
  });
  const stock: Target = { label: 'relay', wsBase: relay.url.replace(/^http/, 'ws'), cpu: () => ({ server: cpuMs(relay.pid), postgres: 0 }) };
  const node1 = ours(node, 'node');

  const rows: Row[] = [];

  // What durability costs at least: one update appended and committed, straight through pg.
  rows.push(await insertCommitRow(db.knex, tenantId, userId, quick, log));

  // ---- memory per loaded document (first, on fresh processes) ----------------------------------
  rows.push(
    ...(await memoryPerDocument({
      node,
      relay,
      nodeTarget: node1,
      relayTarget: stock,
      db: db.knex,
      tenantId,
      userId,
      token,
      count: plan.memoryDocuments,
      log,
    })),
  );

  // ---- latency and throughput ladder -------------------------------------------------------------
  const steps: Step[] = [];
  for (const editors of plan.editors) {
    const id = await createService(`coedit-${editors}-editors`);
    const room = `services/${id}`;
    const a = await EditorSet.open({ wsBase: node1.wsBase, room, token, count: editors, timeoutMs: 15_000 });
    // The relay's room starts empty: its editors bring the same content the app node's document holds.
    const content = Y.encodeStateAsUpdate(a.editors[0]!.doc);
    const b = await EditorSet.open({ wsBase: stock.wsBase, room, count: editors, timeoutMs: 15_000, initialUpdate: content });
    log(`N=${editors}: ${editors} editors synced on the app node and on the relay`);
    try {
      for (const rate of plan.rates[editors] ?? []) {
        // Interleaved repeats; each side keeps its best (lowest p99) — a stall of another process
        // on this shared machine lands on whichever side runs at that moment.
        const tries: { ours: Measured; base: Measured }[] = [];
        for (let k = 0; k < plan.repeats; k++) {
          const ours = await measureStep(a, node1, { ...plan.step, rate }, { rowVersion: rowVersionOf(id), trailingMs: plan.trailingMs });
          const base = await measureStep(b, stock, { ...plan.step, rate });
          log(`N=${editors} @${rate}/s${plan.repeats > 1 ? ` (${k + 1}/${plan.repeats})` : ''}: ${describe('ours', ours)} | ${describe('relay', base)}`);
          tries.push({ ours, base });
        }
        const o = bestOf(tries.map((t) => t.ours));
        const r = bestOf(tries.map((t) => t.base));
        steps.push({ editors, rate, ours: o, base: r, tries });
        if (o.p99 > BOUND_MS && r.p99 > BOUND_MS) {
          log(`N=${editors}: both sides past the ${BOUND_MS} ms bound at ${rate}/s; higher rates skipped`);
          break;
        }
      }
      if (editors === 10 && (plan.profileRate || flags.profile)) {
        await profileStep(node, relay, a, b, { ...plan.step, rate: plan.profileRate || 200 }, quick, log);
      }
    } finally {
      a.close();
      b.close();
    }
    // The node unloads the document 1 s after its editors left (final projection, compaction):
    // let that finish outside the next editor count's first step (full mode; quick keeps its budget).
    if (plan.trailingMs) await sleep(1_500);
  }
  rows.push(...ladderRows(steps, plan));

  // ---- cluster mode: the Redis relay's cost ------------------------------------------------------
  const redisRates = flags['coedit-redis'] ? (quick ? [100] : plan.redisRates.length ? plan.redisRates : [100]) : plan.redisRates;
  if (redisRates.length) rows.push(...(await redisComparison(infra, db.url, node1, token, createService, rowVersionOf, redisRates, plan, log)));

  await fs.mkdir(RESULTS_DIR, { recursive: true });
  const sample = steps.find((s) => s.editors === 10) ?? steps[0];
  if (sample) {
    await fs.writeFile(
      path.join(RESULTS_DIR, 'coedit-statements.sql'),
      `-- the first ${sample.ours.statements.length} SQL statements of the app node while ${sample.editors} editors made ${sample.rate} edits/s\n` +
        sample.ours.statements.map((q) => `${q};`).join('\n') +
        '\n',
    );
  }
  await fs.writeFile(
    path.join(RESULTS_DIR, 'coedit-steps.json'),
    JSON.stringify(
      steps.map((s) => ({ editors: s.editors, rate: s.rate, tries: s.tries.map((t) => ({ ours: strip(t.ours), relay: strip(t.base) })) })),
      null,
      2,
    ) + '\n',
  );
  return rows;
}

interface Step {
  editors: number;
  rate: number;
  /** The best of the repeats, per side. */
  ours: Measured;
  base: Measured;
  tries: { ours: Measured; base: Measured }[];
}

function bestOf(runs: Measured[]): Measured {
  return runs.reduce((best, m) => (m.p99 < best.p99 ? m : best));
}

function strip(m: Measured): Omit<Measured, 'latencies' | 'statements'> {
  const { latencies: _latencies, statements: _statements, ...rest } = m;
  return rest;
}

/**
 * One step of the ladder on one server. The CPU window runs from the first edit to `trailingMs`
 * after the last delivery, so work the app node defers past the edits (the projection after
 * 500 ms of quiet) is counted on its side and not during the other server's step.
 */
async function measureStep(
  set: EditorSet,
  target: Target,
  o: StepOptions,
  extra: { rowVersion?: () => Promise<number>; trailingMs?: number } = {},
): Promise<Measured> {
  const versionBefore = (await extra.rowVersion?.()) ?? 0;
  await target.sql?.startQueryCount();
  const started = Date.now();
  const before = target.cpu();
  const result = await set.step(o);
  if (!(await set.settle(3_000))) throw new Error(`${target.label}: the ${set.size} editors did not converge after ${o.rate}/s`);
  if (extra.trailingMs) await sleep(extra.trailingMs);
  const after = target.cpu();
  const elapsed = Date.now() - started;
  const sql = (await target.sql?.stopQueryCount()) ?? { count: 0, statements: [] };
  const issued = (o.rate * (o.warmupMs + o.windowMs)) / 1000;
  return {
    ...result,
    serverCpuPerEdit: (after.server - before.server) / issued,
    postgresCpuPerEdit: (after.postgres - before.postgres) / issued,
    sqlPerEdit: sql.count / issued,
    statements: sql.statements,
    projectionsPerSec: (((await extra.rowVersion?.()) ?? 0) - versionBefore) / (elapsed / 1000),
  };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '∞');

function describe(label: string, m: Measured): string {
  return (
    `${label} p50 ${ms(m.p50)} p99 ${ms(m.p99)} max ${ms(m.max)} ms, ${m.achievedRate.toFixed(0)} edits/s, ` +
    `${m.appliedPerSec.toFixed(0)} applied/s` +
    (m.missing ? `, ${m.missing}/${m.expected} missing` : '') +
    `, CPU/edit ${m.serverCpuPerEdit.toFixed(2)} ms` +
    (m.postgresCpuPerEdit ? ` + pg ${m.postgresCpuPerEdit.toFixed(2)} ms` : '') +
    (m.sqlPerEdit ? `, ${m.sqlPerEdit.toFixed(2)} SQL/edit, ${m.projectionsPerSec.toFixed(1)} projections/s` : '') +
    `, load generator loop busy ${(m.loadGeneratorElu * 100).toFixed(0)}% (${m.loadGeneratorCores.toFixed(2)} cores)`
  );
}

function notesOf(m: Measured, withBound: boolean, repeats = 1): string | undefined {
  const notes: string[] = [];
  if (repeats > 1) notes.push(`best of ${repeats}`);
  if (withBound) notes.push(`<${BOUND_MS} ms ${m.p99 < BOUND_MS ? 'met' : 'MISSED'}`);
  if (m.missing) notes.push(`${m.missing} of ${m.expected} not delivered within the drain`);
  if (m.loadGeneratorElu > 0.8) notes.push(`load generator ${(m.loadGeneratorElu * 100).toFixed(0)}% busy`);
  return notes.join('; ') || undefined;
}

function ladderRows(steps: Step[], plan: Plan): Row[] {
  const rows: Row[] = [];
  for (const s of steps) {
    const at = `N=${s.editors} @${s.rate} edits/s`;
    const sample = s.ours.latencies.length;
    rows.push(
      { suite: SUITE, metric: `update latency p50, ${at}`, unit: 'ms', value: s.ours.p50, baseline: { name: BASELINE, value: s.base.p50 }, samples: sample },
      {
        suite: SUITE,
        metric: `update latency p99, ${at}`,
        unit: 'ms',
        value: s.ours.p99,
        baseline: { name: BASELINE, value: s.base.p99 },
        samples: sample,
        note: notesOf(s.ours, true, s.tries.length),
      },
    );
  }
  for (const editors of plan.editors) {
    const mine = steps.filter((s) => s.editors === editors);
    if (!mine.length) continue;
    const best = (pick: (s: (typeof mine)[number]) => Measured) => {
      const ok = mine.filter((s) => pick(s).p99 < BOUND_MS && pick(s).missing === 0);
      return ok.length ? Math.max(...ok.map((s) => s.rate)) : 0;
    };
    const top = Math.max(...(plan.rates[editors] ?? [0]));
    const o = best((s) => s.ours);
    const b = best((s) => s.base);
    // The highest rate both sides ran: throughput and what each edit cost the servers there.
    const last = mine[mine.length - 1]!;
    rows.push(
      {
        suite: SUITE,
        metric: `highest offered rate with p99 < ${BOUND_MS} ms, N=${editors}`,
        unit: 'edits/s',
        value: o,
        baseline: { name: BASELINE, value: b },
        note: [o === top ? 'ours: ladder top, not a limit' : '', b === top ? 'relay: ladder top, not a limit' : ''].filter(Boolean).join('; ') || undefined,
      },
      {
        suite: SUITE,
        metric: `updates applied/s over all editors, N=${editors} @${last.rate} edits/s`,
        unit: 'upd/s',
        value: last.ours.appliedPerSec,
        baseline: { name: BASELINE, value: last.base.appliedPerSec },
        note: `offered ${last.rate * (editors - 1)}/s`,
      },
      {
        suite: SUITE,
        metric: `server CPU per edit (app node + PostgreSQL), N=${editors} @${last.rate} edits/s`,
        unit: 'ms',
        value: last.ours.serverCpuPerEdit + last.ours.postgresCpuPerEdit,
        baseline: { name: BASELINE, value: last.base.serverCpuPerEdit },
        note: `node ${last.ours.serverCpuPerEdit.toFixed(2)} + PostgreSQL ${last.ours.postgresCpuPerEdit.toFixed(2)} ms; ${last.ours.sqlPerEdit.toFixed(2)} SQL statements per edit`,
      },
    );
    // Steps shorter than the 2 s maximum delay (quick mode) see no projection while editing.
    const busiest = mine.reduce((a, s) => (s.ours.projectionsPerSec > a.ours.projectionsPerSec ? s : a));
    if (plan.trailingMs)
      rows.push({
        suite: SUITE,
        metric: `projections (entity row writes) per s, N=${editors}, most at any rate`,
        unit: 'writes/s',
        value: busiest.ours.projectionsPerSec,
        note: `at ${busiest.rate} edits/s; designed: at most one per 2 s of continuous editing (plus one after 500 ms of quiet)`,
      });
  }
  return rows;
}

// ---- memory --------------------------------------------------------------------------------------

interface MemoryContext {
  node: AppNode;
  relay: RelayNode;
  nodeTarget: Target;
  relayTarget: Target;
  db: import('knex').Knex;
  tenantId: string;
  userId: string;
  token: string;
  count: number;
  log: Log;
}

/**
 * RSS (and JS heap) per loaded document: M documents of different services with one editor each,
 * memory after GC minus before, over M — on the app node and on the relay, whose rooms receive
 * the same content from their editors.
 */
async function memoryPerDocument(c: MemoryContext): Promise<Row[]> {
  const warm = 5;
  const ids = await insertServices(c.db, c.tenantId, c.userId, c.count + warm);
  const rooms = ids.map((id) => `services/${id}`);
  const contents: Uint8Array[] = [];

  const measureOn = async (
    target: Target,
    memory: (o: { gc: boolean }) => Promise<NodeMemory>,
    relayed: boolean,
    settleMs: number,
  ): Promise<{ before: NodeMemory; after: NodeMemory; ms: number }> => {
    // The app node's documents come from their rows; the relay's rooms get the same content from
    // their editors (captured from the app node's documents).
    const open = async (from: number, to: number) => {
      const sets = await openMany(target, rooms.slice(from, to), c.token, relayed ? contents.slice(from, to) : undefined);
      if (!relayed) sets.forEach((s, k) => (contents[from + k] = Y.encodeStateAsUpdate(s.editors[0]!.doc)));
      return sets;
    };
    // Warm up the code paths (and their lazily allocated state) on documents not counted.
    for (const s of await open(c.count, rooms.length)) s.close();
    await sleep(settleMs);
    const before = await memory({ gc: true });
    const started = Date.now();
    const sets = await open(0, c.count);
    const took = Date.now() - started;
    await sleep(300);
    const after = await memory({ gc: true });
    for (const s of sets) s.close();
    return { before, after, ms: took };
  };

  // The app node unloads a document 1 s after its last editor leaves.
  const a = await measureOn(c.nodeTarget, (o) => c.node.memory(o), false, 1_200);
  const b = await measureOn(c.relayTarget, (o) => c.relay.memory(o), true, 300);
  const per = (m: { before: NodeMemory; after: NodeMemory }, key: keyof NodeMemory) => (m.after[key] - m.before[key]) / c.count / KB;
  c.log(
    `memory: ${c.count} documents loaded on the app node in ${a.ms} ms: RSS ${(a.before.rss / MB).toFixed(1)} → ${(a.after.rss / MB).toFixed(1)} MB, ` +
      `heap ${(a.before.heapUsed / MB).toFixed(1)} → ${(a.after.heapUsed / MB).toFixed(1)} MB; relay in ${b.ms} ms: RSS ${(b.before.rss / MB).toFixed(1)} → ` +
      `${(b.after.rss / MB).toFixed(1)} MB, heap ${(b.before.heapUsed / MB).toFixed(1)} → ${(b.after.heapUsed / MB).toFixed(1)} MB`,
  );
  // Give the node its idle state back before the ladder (unload: flush, projection, compaction).
  await sleep(c.count > 100 ? 800 : 500);
  const note = `${c.count} documents, one editor each; after GC`;
  return [
    {
      suite: SUITE,
      metric: 'RSS per loaded document',
      unit: 'KB/document',
      value: per(a, 'rss'),
      baseline: { name: BASELINE, value: per(b, 'rss') },
      samples: c.count,
      note,
    },
    {
      suite: SUITE,
      metric: 'JS heap per loaded document',
      unit: 'KB/document',
      value: per(a, 'heapUsed'),
      baseline: { name: BASELINE, value: per(b, 'heapUsed') },
      samples: c.count,
      note,
    },
    { suite: SUITE, metric: `time to open ${c.count} documents (10 at a time)`, unit: 'ms', value: a.ms, baseline: { name: BASELINE, value: b.ms } },
  ];
}

/** One single-editor set per room, `concurrency` rooms at a time. */
async function openMany(target: Target, rooms: string[], token: string, contents?: Uint8Array[], concurrency = 10): Promise<EditorSet[]> {
  const sets: EditorSet[] = new Array(rooms.length);
  let next = 0;
  const worker = async () => {
    while (next < rooms.length) {
      const k = next++;
      sets[k] = await EditorSet.open({
        wsBase: target.wsBase,
        room: rooms[k]!,
        token,
        count: 1,
        timeoutMs: 15_000,
        initialUpdate: contents?.[k],
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } catch (err) {
    for (const s of sets) s?.close();
    throw err;
  }
  return sets;
}

/** Services written straight with SQL: how they are created is not what this measures. */
async function insertServices(knex: import('knex').Knex, tenantId: string, userId: string, count: number, prefix = 'coedit-mem'): Promise<string[]> {
  const { rows } = await knex.raw(
    `INSERT INTO services (tenant_id, name, type, description, attributes, created_by, updated_by)
     SELECT ?, ? || '-' || lpad(i::text, 5, '0'), 'api',
            'Service ' || i || ': takes orders from the web shop and the mobile apps.',
            '{"protocol":"https","auth_method":"oauth2"}'::jsonb, ?, ?
       FROM generate_series(1, ?) i
     RETURNING id`,
    [tenantId, prefix, userId, userId, count],
  );
  return (rows as { id: string }[]).map((r) => r.id);
}

/**
 * The floor of the app node's extra latency: one (empty, valid) Yjs update INSERTed into
 * collab_updates and committed (fsync'd) from this process, one at a time, while the node is idle,
 * on a document row of its own (removed after, with its log).
 */
async function insertCommitRow(knex: import('knex').Knex, tenantId: string, userId: string, quick: boolean, log: Log): Promise<Row> {
  const [entityId] = await insertServices(knex, tenantId, userId, 1, 'coedit-floor');
  const [{ id }] = await knex('collab_documents').insert({ tenant_id: tenantId, entity_type: 'services', entity_id: entityId }).returning('id');
  const update = Buffer.from(Y.encodeStateAsUpdate(new Y.Doc()));
  const m = await measure(
    async () => {
      await knex.raw('INSERT INTO collab_updates (document_id, update) VALUES (?, ?)', [id, update]);
    },
    { count: quick ? 100 : 300, concurrency: 1, warmup: 10, timeCapMs: quick ? 2_000 : 5_000 },
  );
  await knex('collab_documents').where({ id }).delete();
  log(`INSERT + commit of one update (raw pg): p50 ${ms(m.p50)} p99 ${ms(m.p99)} ms over ${m.latencies.length}`);
  return {
    suite: SUITE,
    metric: 'floor: one update INSERTed + committed (raw pg, c=1) p50',
    unit: 'ms',
    value: m.p50,
    samples: m.latencies.length,
    note: `p99 ${ms(m.p99)} ms; the app node stores every update like this before relaying it`,
  };
}

// ---- profile ------------------------------------------------------------------------------------

async function profileStep(node: AppNode, relay: RelayNode, a: EditorSet, b: EditorSet, o: StepOptions, quick: boolean, log: Log): Promise<void> {
  const files = { node: path.join(RESULTS_DIR, 'coedit-node.cpuprofile'), relay: path.join(RESULTS_DIR, 'coedit-relay.cpuprofile') };
  await node.startProfile(250);
  const mo = await a.step(o);
  await node.stopProfile(files.node);
  await relay.startProfile(250);
  const mr = await b.step(o);
  await relay.stopProfile(files.relay);
  for (const [which, m] of [
    ['node', mo],
    ['relay', mr],
  ] as const) {
    const text =
      `${which === 'node' ? 'app node' : 'stock relay'}: N=${m.editors} editors @${o.rate} edits/s under the profiler ` +
      `(p50 ${ms(m.p50)} ms, p99 ${ms(m.p99)} ms)\n` +
      renderProfile(await summarizeProfile(files[which], quick ? 15 : 30));
    await fs.writeFile(files[which].replace(/\.cpuprofile$/, '-profile.txt'), text + '\n');
    log(`profile written to ${path.relative(process.cwd(), files[which])}\n${text}`);
  }
}

// ---- cluster mode -------------------------------------------------------------------------------

async function redisComparison(
  infra: SuiteOptions['infra'],
  databaseUrl: string,
  embedded: Target,
  token: string,
  createService: (name: string) => Promise<string>,
  rowVersionOf: (id: string) => () => Promise<number>,
  rates: number[],
  plan: Plan,
  log: Log,
): Promise<Row[]> {
  const redisUrl = await infra.redis();
  if (!redisUrl) {
    log('cluster mode skipped: no redis-server');
    return [];
  }
  const clusterNode = await infra.appNode({ name: `${SUITE}-redis`, databaseUrl, redisUrl });
  const cluster: Target = {
    label: 'cluster node',
    wsBase: `${clusterNode.url.replace(/^http/, 'ws')}/collab`,
    cpu: () => ({ server: cpuMs(clusterNode.pid), postgres: 0 }),
  };
  const editors = 10;
  const [idA, idB] = await Promise.all([createService('coedit-embedded'), createService('coedit-cluster')]);
  const a = await EditorSet.open({ wsBase: embedded.wsBase, room: `services/${idA}`, token, count: editors, timeoutMs: 15_000 });
  const b = await EditorSet.open({ wsBase: cluster.wsBase, room: `services/${idB}`, token, count: editors, timeoutMs: 15_000 });
  const rows: Row[] = [];
  try {
    for (const rate of rates) {
      const o = await measureStep(
        a,
        { ...embedded, cpu: () => ({ server: embedded.cpu().server, postgres: 0 }) },
        { ...plan.step, rate },
        { rowVersion: rowVersionOf(idA), trailingMs: plan.trailingMs },
      );
      const c = await measureStep(b, cluster, { ...plan.step, rate }, { rowVersion: rowVersionOf(idB), trailingMs: plan.trailingMs });
      log(`cluster N=${editors} @${rate}/s: ${describe('with Redis', c)} | ${describe('embedded', o)}`);
      const at = `N=${editors} @${rate} edits/s`;
      const base = 'same, embedded node (no Redis)';
      rows.push(
        {
          suite: SUITE,
          metric: `cluster mode (Redis relay) latency p50, ${at}`,
          unit: 'ms',
          value: c.p50,
          baseline: { name: base, value: o.p50 },
          samples: c.latencies.length,
        },
        {
          suite: SUITE,
          metric: `cluster mode (Redis relay) latency p99, ${at}`,
          unit: 'ms',
          value: c.p99,
          baseline: { name: base, value: o.p99 },
          samples: c.latencies.length,
          note: notesOf(c, true),
        },
        {
          suite: SUITE,
          metric: `cluster mode (Redis relay) node CPU per edit, ${at}`,
          unit: 'ms',
          value: c.serverCpuPerEdit,
          baseline: { name: base, value: o.serverCpuPerEdit },
        },
        {
          suite: SUITE,
          metric: `cluster mode (Redis relay) projections (row writes) per s, ${at}`,
          unit: 'writes/s',
          value: c.projectionsPerSec,
          baseline: { name: base, value: o.projectionsPerSec },
          note: 'designed: at most one per 2 s of continuous editing',
        },
      );
    }
  } finally {
    a.close();
    b.close();
  }
  return rows;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const suite: Suite = {
  name: SUITE,
  description:
    'Co-editing: 2/10/50 editors on one document, update latency p50/p99, updates/s and CPU per edit vs a stock y-websocket relay; memory per document',
  run,
};
export default suite;
