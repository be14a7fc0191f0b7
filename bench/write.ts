// Write suite: POST and PATCH of services over HTTP against one app node, at concurrency 1 and 8,
// all in one tenant (every write of the tenant takes its change-log counter row lock, so writers
// queue on it from the counter bump to COMMIT) and spread over 50 tenants (no shared lock), each
// beside the raw write transaction of the same shape on a plain pg.Pool (bench/lib/write-baseline.ts)
// on the same PostgreSQL server. Also the round trips one HTTP write makes, counted in the app node
// from the pg driver (BEGIN and COMMIT included), beside the raw transaction's.
import fs from 'node:fs/promises';
import path from 'node:path';
import { processTreeTicks } from './lib/cpu-share.js';
import { HttpClient } from './lib/http-client.js';
import { RESULTS_DIR } from './lib/infra.js';
import { measure, type Measurement, type MeasureOptions } from './lib/measure.js';
import type { AppNode } from './lib/node-process.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';
import { comparisonRows } from './lib/rows.js';
import type { Row, Suite, SuiteOptions } from './lib/types.js';
import { WriteBaseline } from './lib/write-baseline.js';
import { seedWriteTenants, type WriteTenant } from './lib/write-seed.js';

const SUITE = 'write';
const BASELINE = 'raw pg write txn';
const CONCURRENCY = [1, 8] as const;
const TENANTS = 50;
/** PATCH targets per tenant: concurrent PATCHes of one tenant hit different rows (k mod this). */
const SERVICES_PER_TENANT = 32;
/** Pool size of both the app node's knex and the baseline's pg.Pool. */
const POOL = 10;

type Op = 'POST' | 'PATCH';
interface Spread {
  key: 'one' | 'many';
  label: string;
  tenant: (k: number) => WriteTenant;
  row: (k: number) => string;
}

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const budget: MeasureOptions = quick
    ? { count: 150, concurrency: 1, warmup: 5, timeCapMs: 600 } // 16 measurements: ~11 s of the suite's ≤ 25 s
    : { count: 2_000, concurrency: 1, warmup: 30, timeCapMs: 5_000 }; // 16 measurements: ≤ ~100 s

  const db = await infra.database(SUITE);
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url, dbPoolMax: POOL });
  const client = new HttpClient(node.url);
  infra.defer('close HTTP client', () => client.close());
  const tenants = await seedWriteTenants(db, client, { tenants: TENANTS, servicesPerTenant: SERVICES_PER_TENANT }, log);
  const raw = new WriteBaseline(db.url, POOL);
  infra.defer('close baseline pool', () => raw.close());

  const runId = Date.now().toString(36);
  let seq = 0; // names and descriptions unique across ours and the baseline (the live-name unique index)
  const next = () => `${runId}-${++seq}`;

  const httpWrite = async (op: Op, t: WriteTenant, rowId: string): Promise<void> => {
    const res =
      op === 'POST'
        ? await client.request('POST', '/api/v1/services', { name: `w-${next()}`, type: 'api', description: 'created by the write bench' }, t.token)
        : await client.request('PATCH', `/api/v1/services/${rowId}`, { description: `patched ${next()}` }, t.token);
    const want = op === 'POST' ? 201 : 200;
    if (res.status !== want) throw new Error(`${op} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  };
  const rawWrite = async (op: Op, t: WriteTenant, rowId: string): Promise<void> => {
    const actor = { tenantId: t.id, userId: t.userId };
    if (op === 'POST') await raw.create(actor, { name: `w-${next()}`, type: 'api', description: 'created by the write bench' });
    else await raw.update(actor, rowId, `patched ${next()}`);
  };

  const spreads: Spread[] = [
    { key: 'one', label: '1 tenant', tenant: () => tenants[0]!, row: (k) => tenants[0]!.serviceIds[k % SERVICES_PER_TENANT]! },
    {
      key: 'many',
      label: `${TENANTS} tenants`,
      tenant: (k) => tenants[k % TENANTS]!,
      row: (k) => tenants[k % TENANTS]!.serviceIds[Math.floor(k / TENANTS) % SERVICES_PER_TENANT]!,
    },
  ];

  await verifySameWrites(db.knex, tenants[0]!, httpWrite, rawWrite);
  log('an HTTP write and a raw write leave the same rows behind (service, audit entry, counter +1, change event with origin rest)');

  const rows: Row[] = [];
  rows.push(...(await roundTrips(node, raw, tenants[0]!, httpWrite, rawWrite, log)));

  const { server: postgres } = await infra.postgres();
  for (const op of ['POST', 'PATCH'] as const) {
    for (const spread of spreads) {
      for (const concurrency of CONCURRENCY) {
        const opts = { ...budget, concurrency };
        const target = (k: number) => [spread.tenant(k), spread.row(k)] as const;
        const ours = await withCpu(node, postgres.pid, (afterWarmup) => measure((k) => httpWrite(op, ...target(k)), { ...opts, afterWarmup }));
        const base = await withCpu(node, postgres.pid, (afterWarmup) => measure((k) => rawWrite(op, ...target(k)), { ...opts, afterWarmup }));
        const label = `${op} /services, ${spread.label}`;
        log(
          `${label} c=${concurrency}: ours p50 ${ours.m.p50.toFixed(2)} p99 ${ours.m.p99.toFixed(2)} ms, ${ours.m.throughput.toFixed(0)}/s; ` +
            `raw p50 ${base.m.p50.toFixed(2)} p99 ${base.m.p99.toFixed(2)} ms, ${base.m.throughput.toFixed(0)}/s; CPU/write: node ` +
            `${ours.appMs.toFixed(2)} vs driver ${base.benchMs.toFixed(2)} ms, PostgreSQL ${ours.postgresMs.toFixed(2)} vs ${base.postgresMs.toFixed(2)} ms`,
        );
        rows.push(...comparisonRows(ours.m, base.m, { suite: SUITE, label, baselineName: BASELINE, concurrency, throughputUnit: 'writes/s' }));
        if (concurrency === 8 && spread.key === 'many') {
          rows.push(
            {
              suite: SUITE,
              metric: `${label}: Node CPU per write (app node vs pg driver) (c=8)`,
              unit: 'ms',
              value: ours.appMs,
              baseline: { name: BASELINE, value: base.benchMs },
              samples: ours.m.latencies.length,
            },
            {
              suite: SUITE,
              metric: `${label}: PostgreSQL CPU per write (c=8)`,
              unit: 'ms',
              value: ours.postgresMs,
              baseline: { name: BASELINE, value: base.postgresMs },
              samples: ours.m.latencies.length,
            },
          );
        }
      }
    }
  }

  // --profile (every suite) profiles PATCH over 50 tenants at c=8; --profile=write:post the POST.
  const profile = flags.profile === 'true' || flags.profile === SUITE ? 'patch' : /^write:(post|patch)$/.exec(flags.profile ?? '')?.[1];
  if (profile) {
    const op: Op = profile === 'post' ? 'POST' : 'PATCH';
    const many = spreads[1]!;
    await profileWrites(node, (k) => httpWrite(op, many.tenant(k), many.row(k)), `${op} /services, ${many.label}`, quick, log).catch((err: unknown) => {
      log(`profile failed: ${err instanceof Error ? err.message : String(err)}`);
      rows.push({ suite: SUITE, metric: `profile of ${op}`, unit: '', value: NaN, note: 'FAILED, see the log' });
    });
  }
  return rows;
}

async function profileWrites(node: AppNode, write: (k: number) => Promise<void>, label: string, quick: boolean, log: SuiteOptions['log']): Promise<void> {
  const { REST_PROFILE_CATEGORIES } = await import('./rest.js');
  const file = path.join(RESULTS_DIR, `write-${label.split(' ')[0]!.toLowerCase()}.cpuprofile`);
  await node.startProfile(100);
  const m = await measure(write, { count: quick ? 300 : 1_500, concurrency: 8, warmup: 0, timeCapMs: quick ? 10_000 : 30_000 });
  await node.stopProfile(file);
  const text =
    `${label}: ${m.latencies.length} writes at c=8 under the profiler (p50 ${m.p50.toFixed(2)} ms)\n` +
    renderProfile(await summarizeProfile(file, 30, REST_PROFILE_CATEGORIES));
  await fs.writeFile(file.replace(/\.cpuprofile$/, '-profile.txt'), text + '\n');
  log(`profile written to ${path.relative(process.cwd(), file)}\n${text}`);
}

type Write = (op: Op, t: WriteTenant, rowId: string) => Promise<void>;

/** One write each way must add the same rows, or the ratio compares different work. */
async function verifySameWrites(knex: import('knex').Knex, t: WriteTenant, http: Write, raw: Write): Promise<void> {
  const snapshot = async () => {
    const one = async (sql: string) => Number(((await knex.raw(sql, [t.id])).rows[0] as { n: string }).n);
    return {
      services: await one('SELECT count(*) AS n FROM services WHERE tenant_id = ?'),
      audit: await one('SELECT count(*) AS n FROM audit_logs WHERE tenant_id = ?'),
      events: await one(`SELECT count(*) AS n FROM change_events WHERE tenant_id = ? AND origin = 'rest' AND entity_type = 'services'`),
      seq: await one('SELECT last_seq AS n FROM tenant_event_counters WHERE tenant_id = ?'),
    };
  };
  for (const op of ['POST', 'PATCH'] as const) {
    const deltas: string[] = [];
    for (const write of [http, raw]) {
      const before = await snapshot();
      await write(op, t, t.serviceIds[0]!);
      const after = await snapshot();
      deltas.push(JSON.stringify(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]))));
    }
    const want = JSON.stringify({ services: op === 'POST' ? 1 : 0, audit: 1, events: 1, seq: 1 });
    if (deltas[0] !== want || deltas[1] !== want) throw new Error(`${op}: HTTP wrote ${deltas[0]}, raw wrote ${deltas[1]}; expected ${want} each`);
  }
}

/**
 * Round trips per write, counted in the app node from the pg driver (every Client#query: BEGIN,
 * the statements, COMMIT, and the authentication reads outside the transaction), beside the raw
 * transaction's. One write's statements go to bench/results/write-<op>-statements.sql.
 */
async function roundTrips(node: AppNode, raw: WriteBaseline, t: WriteTenant, http: Write, rawWrite: Write, log: SuiteOptions['log']): Promise<Row[]> {
  const rows: Row[] = [];
  const n = 20;
  for (const op of ['POST', 'PATCH'] as const) {
    const row = (k: number) => t.serviceIds[k % SERVICES_PER_TENANT]!;
    for (let k = 0; k < 5; k++) await http(op, t, row(k)); // warm: pooled connections, prepared paths
    await node.startQueryCount();
    await http(op, t, row(0));
    const one = await node.stopQueryCount();
    const begin = one.roundTripStatements.findIndex((s) => /^\s*BEGIN/i.test(s));
    const commit = one.roundTripStatements.findIndex((s) => /^\s*COMMIT/i.test(s));
    const inside = begin >= 0 && commit > begin ? commit - begin + 1 : NaN;
    const file = path.join(RESULTS_DIR, `write-${op.toLowerCase()}-statements.sql`);
    await fs.mkdir(RESULTS_DIR, { recursive: true });
    await fs.writeFile(
      file,
      `-- ${op} /api/v1/services: the ${one.roundTrips} queries pg sent for one request (${inside} from BEGIN to COMMIT)\n` +
        one.roundTripStatements.map((q) => `${q.trim().replace(/;$/, '')};`).join('\n') +
        '\n',
    );

    await node.startQueryCount();
    for (let k = 0; k < n; k++) await http(op, t, row(k));
    const counted = await node.stopQueryCount();
    const before = raw.roundTrips;
    for (let k = 0; k < n; k++) await rawWrite(op, t, row(k));
    const rawPerWrite = (raw.roundTrips - before) / n;
    log(
      `${op}: ${counted.roundTrips / n} round trips per HTTP write (pg driver; knex 'query' events: ${counted.count / n}), ` +
        `${inside} of them from BEGIN to COMMIT; raw ${rawPerWrite} (statements of one in ${path.relative(process.cwd(), file)})`,
    );
    rows.push({
      suite: SUITE,
      metric: `round trips per write: ${op} /services (pg driver, incl. BEGIN/COMMIT)`,
      unit: 'round trips',
      value: counted.roundTrips / n,
      baseline: { name: BASELINE, value: rawPerWrite },
      samples: n,
      note: `${inside} inside the transaction`,
    });
  }
  return rows;
}

interface WithCpu {
  m: Measurement;
  appMs: number;
  benchMs: number;
  postgresMs: number;
}

/** CPU per write of the app node, the bench process (the baseline's driver) and PostgreSQL (10 ms ticks). */
async function withCpu(node: AppNode, postgresPid: number, run: (afterWarmup: () => Promise<void>) => Promise<Measurement>): Promise<WithCpu> {
  let start: { app: NodeJS.CpuUsage; bench: NodeJS.CpuUsage; pgTicks: number } | undefined;
  const m = await run(async () => {
    start = { app: await node.cpuUsage(), bench: process.cpuUsage(), pgTicks: processTreeTicks(postgresPid) };
  });
  const app = await node.cpuUsage();
  const bench = process.cpuUsage(start!.bench);
  const pgTicks = processTreeTicks(postgresPid) - start!.pgTicks;
  const count = Math.max(1, m.latencies.length);
  const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  return { m, appMs: (ms(app) - ms(start!.app)) / count, benchMs: ms(bench) / count, postgresMs: (pgTicks * 10) / count };
}

const suite: Suite = {
  name: SUITE,
  description:
    `POST and PATCH /services over HTTP at c=1 and c=8, in 1 tenant and over ${TENANTS} tenants, beside the raw write ` +
    'transaction (row + audit entry + counter bump + change event) on a pg.Pool; round trips per write from the driver',
  run,
};
export default suite;
