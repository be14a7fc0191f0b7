// REST suite (latency targets: a single entity read under 20 ms, a paginated list under 100 ms, at
// 100K entities per type per tenant). One app node over a tenant holding 100K services (20K in quick
// mode); p50/p99 over HTTP at concurrency 1 and 8 of a detail read, the first page of the default
// list, a filtered list and a text search (each with its count), and cursor pages of the same three
// lists and deep in the default order (cursors from the API's next_cursor, which carry the total),
// each beside a raw pg baseline fetching the same data (for cursor pages: the keyset page alone).
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from './lib/http-client.js';
import { RESULTS_DIR } from './lib/infra.js';
import { signUpTenant } from './lib/signup.js';
import { processTreeTicks } from './lib/cpu-share.js';
import { measure, type Measurement, type MeasureOptions } from './lib/measure.js';
import { renderProfile, summarizeProfile, type StackCategory } from './lib/profile.js';
import { spread, walkCursors, type ApiCursor } from './lib/rest-cursors.js';
import { RestBaseline } from './lib/rest-baseline.js';
import { startWorker } from './lib/worker.js';
import { comparisonRows, memoryRow } from './lib/rows.js';
import { FULL_SIZES, QUICK_SIZES, SEARCH_WORD, seedCatalog } from './lib/rest-seed.js';
import type { AppNode } from './lib/node-process.js';
import type { Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'rest';
const CONCURRENCY = [1, 8] as const;
const BASELINE = 'raw pg';
const MB = 1024 * 1024;
const FLOOR_ENTRY = fileURLToPath(new URL('./lib/rest-floor-server.ts', import.meta.url));
const FLOOR_BASELINE = 'bare node:http + pg + JSON.stringify';

interface ReadCase {
  key: string;
  label: string;
  /** The p99 latency target in ms: 20 for a single entity read, 100 for a list page. */
  targetMs: number;
  path: (k: number) => string;
  baseline: (k: number) => Promise<unknown>;
  /** The baseline's name in the table (default: raw pg). */
  baselineName?: string;
  /** Concurrencies to measure at (default: 1 and 8). */
  concurrency?: readonly number[];
  /** Fetches k=0 both ways and throws when the API and the baseline disagree. */
  verify: () => Promise<void>;
}

type Json = any;

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const budget: MeasureOptions = quick
    ? { count: 60, concurrency: 1, warmup: 5, timeCapMs: 1_000 } // CI: every measurement ≤ 1 s
    : { count: 500, concurrency: 1, warmup: 100, timeCapMs: 30_000 };

  const db = await infra.database(SUITE);
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url });
  const atStart = await node.memory({ gc: true });
  const { slug, tenantId, userId, token } = await signUpTenant(node.url, 'bench');
  const api = new HttpClient(node.url, token);
  infra.defer('close HTTP client', () => api.close());
  log(`tenant ${slug} signed up through the API; seeding ${sizes.services.toLocaleString('en-US')} services`);

  const counts = await seedCatalog(db.knex, tenantId, userId, sizes, log);
  log(`seeded: ${JSON.stringify(counts)}`);

  const pg = new RestBaseline(db.url, 10);
  infra.defer('close baseline pool', () => pg.close());
  const ids = await pg.sampleIds(tenantId, quick ? 1_000 : 3_000);
  const idle = await node.memory({ gc: true });
  log(`app node idle after seeding: RSS ${(idle.rss / MB).toFixed(1)} MB, heap ${(idle.heapUsed / MB).toFixed(1)} MB`);

  // Cursor pages with real cursors from the API's meta.next_cursor, which carry the first page's
  // total: pages 2-11 of the default order, the status filter and the search, and 40 pages between
  // 50% and 95% of the rows (a walk with limit=200 to 95%: ~95 requests quick, ~475 full).
  const NEXT_PAGES = 10;
  const nextPages = {
    default: await walkCursors(api, '', 50, NEXT_PAGES, log),
    status: await walkCursors(api, '&status=deprecated', 50, NEXT_PAGES, log),
    search: await walkCursors(api, `&q=${SEARCH_WORD}`, 50, NEXT_PAGES, log),
  };
  const deep = spread(await walkCursors(api, '', 200, Math.ceil((0.95 * sizes.services) / 200), log), sizes.services, 0.5, 0.95, 40);
  log(`deep cursors: ${deep.length} pages after rows ${deep[0]!.depth.toLocaleString('en-US')}-${deep.at(-1)!.depth.toLocaleString('en-US')}`);

  const list = (q: string) => `/api/v1/services?limit=50${q}`;
  const cases: ReadCase[] = [
    {
      key: 'detail',
      label: 'GET /services/:id (detail view)',
      targetMs: 20,
      path: (k) => `/api/v1/services/${ids[k % ids.length]}`,
      baseline: (k) => pg.detail(tenantId, ids[k % ids.length]!),
      verify: async () => {
        // A service with relations, assignments and dependents, and a random one.
        const rich = (await db.knex('service_dependencies').select('depends_on_service_id as id').limit(1))[0]!.id as string;
        const withAll = (
          await db.knex('service_components as sc').join('entity_assignments as a', 'a.entity_id', 'sc.service_id').select('sc.service_id as id').limit(1)
        )[0]!.id as string;
        for (const id of [rich, withAll, ids[0]!]) compareDetail((await api.json('GET', `/api/v1/services/${id}`)).data, await pg.detail(tenantId, id));
      },
    },
    listCase('list', 'GET /services?limit=50 (default sort)', '', {}),
    listCase('status', 'GET /services?status=deprecated', '&status=deprecated', { status: 'deprecated' }),
    listCase('search', `GET /services?q=${SEARCH_WORD}`, `&q=${SEARCH_WORD}`, { q: SEARCH_WORD }),
    // Quick mode times these three at c=1 only (the issue's figure), to stay within CI's budget.
    ...[
      cursorCase('cursor', 'GET /services?cursor= (default sort, pages 2-11)', '', {}, nextPages.default),
      cursorCase('status_cursor', 'GET /services?status=deprecated&cursor= (pages 2-11)', '&status=deprecated', { status: 'deprecated' }, nextPages.status),
      cursorCase('search_cursor', `GET /services?q=${SEARCH_WORD}&cursor= (pages 2-11)`, `&q=${SEARCH_WORD}`, { q: SEARCH_WORD }, nextPages.search),
    ].map((c) => ({ ...c, concurrency: quick ? [1] : CONCURRENCY })),
    cursorCase('deep', 'GET /services?cursor= (page at 50-95% depth)', '', {}, deep),
  ];

  /**
   * A cursor page beside the raw keyset page alone: the cursor carries the total, so the API runs no
   * count and neither does the baseline. Verified with the baseline's count, which the carried
   * total must equal.
   */
  function cursorCase(key: string, label: string, query: string, spec: { status?: string; q?: string }, cursors: ApiCursor[]): ReadCase {
    if (cursors.length === 0) throw new Error(`${label}: the API handed out no cursor`);
    const at = (k: number) => cursors[k % cursors.length]!;
    return {
      key,
      label,
      targetMs: 100,
      baselineName: `${BASELINE}, keyset page only (no count)`,
      path: (k) => list(`${query}&cursor=${at(k).cursor}`),
      baseline: (k) => pg.list(tenantId, { limit: 50, ...spec, after: at(k).after }, { total: false }),
      verify: async () => {
        for (const k of [0, cursors.length - 1]) {
          compareList(await api.json('GET', list(`${query}&cursor=${at(k).cursor}`)), await pg.list(tenantId, { limit: 50, ...spec, after: at(k).after }));
        }
      },
    };
  }

  function listCase(key: string, label: string, query: string, spec: { status?: string; q?: string }): ReadCase {
    return {
      key,
      label,
      targetMs: 100,
      path: () => list(query),
      baseline: () => pg.list(tenantId, { limit: 50, ...spec }),
      verify: async () => compareList(await api.json('GET', list(query)), await pg.list(tenantId, { limit: 50, ...spec })),
    };
  }

  const rows: Row[] = [];
  // The API and the baseline must fetch the same data, or the ratio means nothing.
  for (const c of cases) await c.verify();
  log('API and baseline answers agree for every case');
  rows.push(...(await statementCounts(node, api, cases, log)));

  const { server: postgres } = await infra.postgres();
  const cpu = new CpuMeter(node, postgres.pid);
  for (const c of cases) {
    for (const concurrency of c.concurrency ?? CONCURRENCY) {
      const opts = { ...budget, concurrency };
      const oursRun = await cpu.during((afterWarmup) => measure((k) => api.getOk(c.path(k)), { ...opts, afterWarmup }));
      const baseRun = await cpu.during((afterWarmup) => measure(async (k) => void (await c.baseline(k)), { ...opts, afterWarmup }));
      const [ours, base] = [oursRun.m, baseRun.m];
      log(
        `${c.label} c=${concurrency}: ours p50 ${ours.p50.toFixed(2)} p99 ${ours.p99.toFixed(2)} ms, ${ours.throughput.toFixed(0)}/s; ` +
          `raw pg p50 ${base.p50.toFixed(2)} p99 ${base.p99.toFixed(2)} ms, ${base.throughput.toFixed(0)}/s; CPU/request: node ` +
          `${oursRun.appMs.toFixed(2)} vs driver ${baseRun.benchMs.toFixed(2)} ms, PostgreSQL ${oursRun.postgresMs.toFixed(2)} vs ${baseRun.postgresMs.toFixed(2)} ms`,
      );
      rows.push(
        ...comparisonRows(ours, base, {
          suite: SUITE,
          label: c.label,
          baselineName: c.baselineName ?? BASELINE,
          concurrency,
          targetMs: c.targetMs,
          targetName: 'target',
          throughputUnit: concurrency > 1 ? 'req/s' : undefined,
        }),
      );
      if (concurrency === 8) rows.push(...cpuRows(c.label, oursRun, baseRun, c.baselineName ?? BASELINE));
      if (c.key === 'list' && concurrency === 1) {
        // What meta.total costs: the same page without the count(*) over the tenant's rows.
        const pageOnly = await measure(async () => void (await pg.list(tenantId, { limit: 50 }, { total: false })), opts);
        log(`${c.label} c=1: raw pg page only (no total) p50 ${pageOnly.p50.toFixed(2)} p99 ${pageOnly.p99.toFixed(2)} ms`);
        rows.push(...comparisonRows(ours, pageOnly, { suite: SUITE, label: c.label, baselineName: `${BASELINE}, page only (no total)`, concurrency }));
      }
    }
  }

  rows.push(...(await httpFloor(nextPages.default, { ...budget, concurrency: 1 })));

  /**
   * The default first page and cursor pages at c=1 three ways, one after the other: the app, a
   * bare node:http server running the baseline's queries (bench/lib/rest-floor-server.ts) and the
   * raw queries alone. The floor's tail beside the raw queries' is what any HTTP server of this
   * data adds on this machine.
   */
  async function httpFloor(cursors: ApiCursor[], opts: MeasureOptions): Promise<Row[]> {
    const floorNode = await startWorker(
      {
        entry: FLOOR_ENTRY,
        label: 'rest floor',
        env: { BENCH_REST_FLOOR: JSON.stringify({ databaseUrl: db.url, tenantId }) },
        startTimeoutMs: 30_000,
        callTimeoutMs: 30_000,
      },
      log,
    );
    const floor = new HttpClient(floorNode.url);
    try {
      const at = (k: number) => cursors[k % cursors.length]!;
      const pages = [
        {
          label: 'GET /services?limit=50 (default sort), measured again',
          rawName: BASELINE,
          ours: () => api.getOk(list('')),
          bare: () => floor.getOk('/first'),
          raw: async () => void (await pg.list(tenantId, { limit: 50 })),
        },
        {
          label: 'GET /services?cursor= (default sort, pages 2-11), measured again',
          rawName: `${BASELINE}, keyset page only (no count)`,
          ours: (k: number) => api.getOk(list(`&cursor=${at(k).cursor}`)),
          bare: (k: number) => floor.getOk(`/page?k=${encodeURIComponent(at(k).after.k)}&id=${at(k).after.id}`),
          raw: async (k: number) => void (await pg.list(tenantId, { limit: 50, after: at(k).after }, { total: false })),
        },
      ];
      const out: Row[] = [];
      for (const page of pages) {
        const ours = await measure(page.ours, opts);
        const bare = await measure(page.bare, opts);
        const raw = await measure(page.raw, opts);
        log(
          `${page.label} c=1: ours p50 ${ours.p50.toFixed(2)} p99 ${ours.p99.toFixed(2)} ms; bare node:http + pg p50 ${bare.p50.toFixed(2)} ` +
            `p99 ${bare.p99.toFixed(2)} ms; raw pg p50 ${raw.p50.toFixed(2)} p99 ${raw.p99.toFixed(2)} ms`,
        );
        out.push(
          ...comparisonRows(ours, bare, { suite: SUITE, label: page.label, baselineName: FLOOR_BASELINE, concurrency: 1 }),
          ...comparisonRows(bare, raw, {
            suite: SUITE,
            label: `${FLOOR_BASELINE}: the same pages as the row above`,
            baselineName: page.rawName,
            concurrency: 1,
          }),
          ...comparisonRows(ours, raw, { suite: SUITE, label: page.label, baselineName: page.rawName, concurrency: 1 }),
        );
      }
      return out;
    } finally {
      floor.close();
      await floorNode.call('close').catch(() => undefined);
    }
  }

  const loaded = await node.memory();
  const loadedGc = await node.memory({ gc: true });
  rows.push(
    memoryRow(SUITE, 'app node RSS right after start (after GC)', atStart.rss),
    memoryRow(SUITE, `app node RSS, idle after signup and seeding ${sizes.services.toLocaleString('en-US')} services (after GC)`, idle.rss),
    memoryRow(SUITE, 'app node RSS right after the load', loaded.rss),
    memoryRow(SUITE, 'app node JS heap used after the load (after GC)', loadedGc.heapUsed),
  );

  // --profile profiles every suite (the detail view here); --profile=rest:<case>[+<case>…] picks cases.
  const picked = flags.profile === 'true' || flags.profile === SUITE ? 'detail' : /^rest:([\w+]+)$/.exec(flags.profile ?? '')?.[1];
  for (const profile of picked ? picked.split('+').filter(Boolean) : []) {
    // A failed profile costs the profile, not the measurements above.
    await profileCase(node, api, cases, profile, quick, log).catch((err: unknown) => {
      log(`profile failed: ${err instanceof Error ? err.message : String(err)}`);
      rows.push({ suite: SUITE, metric: `profile of ${profile}`, unit: '', value: NaN, note: 'FAILED, see the log' });
    });
  }
  return rows;
}

interface CpuPerRequest {
  m: Measurement;
  appMs: number;
  benchMs: number;
  postgresMs: number;
}

/**
 * CPU time per request, which other load on the machine hardly distorts (unlike latency): the app
 * node's, the bench process's (the load generator, or the pg driver of the baseline) and the
 * PostgreSQL server's (postmaster and backends, 10 ms ticks, so meaningful over hundreds of requests).
 */
class CpuMeter {
  constructor(
    private readonly node: AppNode,
    private readonly postgresPid: number,
  ) {}

  async during(run: (afterWarmup: () => Promise<void>) => Promise<Measurement>): Promise<CpuPerRequest> {
    let start: { app: NodeJS.CpuUsage; bench: NodeJS.CpuUsage; pgTicks: number } | undefined;
    const m = await run(async () => {
      start = { app: await this.node.cpuUsage(), bench: process.cpuUsage(), pgTicks: processTreeTicks(this.postgresPid) };
    });
    const app = await this.node.cpuUsage();
    const bench = process.cpuUsage(start!.bench);
    const pgTicks = processTreeTicks(this.postgresPid) - start!.pgTicks;
    const n = Math.max(1, m.latencies.length);
    const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    return { m, appMs: (ms(app) - ms(start!.app)) / n, benchMs: ms(bench) / n, postgresMs: (pgTicks * 10) / n };
  }
}

function cpuRows(label: string, ours: CpuPerRequest, base: CpuPerRequest, baselineName: string): Row[] {
  return [
    {
      suite: SUITE,
      metric: `${label}: Node CPU per request (app node vs pg driver)`,
      unit: 'ms',
      value: ours.appMs,
      baseline: { name: baselineName, value: base.benchMs },
      samples: ours.m.latencies.length,
    },
    {
      suite: SUITE,
      metric: `${label}: PostgreSQL CPU per request`,
      unit: 'ms',
      value: ours.postgresMs,
      baseline: { name: baselineName, value: base.postgresMs },
      samples: ours.m.latencies.length,
    },
  ];
}

/**
 * SQL statements the node sends per request (knex 'query' events), beside the baseline's; the
 * statements of one request go to bench/results/rest-<case>-statements.sql for reading.
 */
async function statementCounts(node: AppNode, api: HttpClient, cases: ReadCase[], log: SuiteOptions['log']): Promise<Row[]> {
  const rows: Row[] = [];
  // A cursor page carries its total: one keyset statement, like the baseline's page alone.
  const baselineStatements: Record<string, number> = { detail: 1, deep: 1 };
  for (const c of cases.filter((x) => x.key === 'detail' || x.key === 'list' || x.key === 'deep')) {
    await node.startQueryCount();
    await api.getOk(c.path(0));
    const one = await node.stopQueryCount();
    const file = path.join(RESULTS_DIR, `rest-${c.key}-statements.sql`);
    await fs.mkdir(RESULTS_DIR, { recursive: true });
    await fs.writeFile(file, `-- ${c.label}: the ${one.count} statements of one request\n${one.statements.map((q) => `${q};`).join('\n')}\n`);
    const n = 20;
    await node.startQueryCount();
    for (let k = 0; k < n; k++) await api.getOk(c.path(k));
    const { count } = await node.stopQueryCount();
    log(`${c.label}: ${count / n} SQL statements per request (one request's in ${path.relative(process.cwd(), file)})`);
    rows.push({
      suite: SUITE,
      metric: `SQL statements per request: ${c.label}`,
      unit: 'stmts',
      value: count / n,
      baseline: { name: c.baselineName ?? BASELINE, value: baselineStatements[c.key] ?? 2 },
    });
  }
  return rows;
}

/** How a REST request's CPU divides up, by what is on the stack (first match wins). */
export const REST_PROFILE_CATEGORIES: StackCategory[] = [
  ['JWT verification (jsonwebtoken, incl. key parsing)', /node_modules\/(jsonwebtoken|jws)\//],
  ['pg driver and socket writes', /node_modules\/(pg|pg-protocol|pg-types|postgres-date)\//],
  ['knex/objection: building and running statements', /node_modules\/(knex|objection|tarn|lodash)\//],
  ['zod (request parsing)', /node_modules\/zod\//],
  ['response serialisation (express res.json)', /node_modules\/express\/lib\/response/],
  ['express/router dispatch', /node_modules\/(express|router|body-parser)\//],
  ['src/ (our own code)', /\/src\//],
];

async function profileCase(node: AppNode, api: HttpClient, cases: ReadCase[], key: string, quick: boolean, log: SuiteOptions['log']) {
  const c = cases.find((x) => x.key === key);
  if (!c) throw new Error(`--profile=${key}: no such case (${cases.map((x) => x.key).join(', ')})`);
  const file = path.join(RESULTS_DIR, `rest-${key}.cpuprofile`);
  await node.startProfile(100);
  const m = await measure((k) => api.getOk(c.path(k)), { count: quick ? 500 : 3_000, concurrency: 8, warmup: 0, timeCapMs: 60_000 });
  await node.stopProfile(file);
  const text =
    `${c.label}: ${m.latencies.length} requests at c=8 under the profiler (p50 ${m.p50.toFixed(2)} ms)\n` +
    renderProfile(await summarizeProfile(file, 30, REST_PROFILE_CATEGORIES));
  await fs.writeFile(file.replace(/\.cpuprofile$/, '-profile.txt'), text + '\n');
  log(`profile written to ${path.relative(process.cwd(), file)}\n${text}`);
}

function compareDetail(ours: Json, base: Json): void {
  const ids = (list: Json[] | undefined) => (list ?? []).map((x: Json) => x.id ?? x).join(',');
  // The detail view's related summaries come in no particular order: compare them as sets.
  const set = (list: Json[] | undefined) =>
    (list ?? [])
      .map((x: Json) => x.id)
      .sort()
      .join(',');
  const checks: [string, unknown, unknown][] = [
    ['id', ours.id, base.id],
    ['row_version', ours.row_version, base.row_version],
    ['team', ours.team?.id ?? null, base.team?.id ?? null],
    ['component_ids', ours.component_ids.join(','), ids(base.component_ids)],
    ['depends_on_service_ids', ours.depends_on_service_ids.join(','), ids(base.depends_on_service_ids)],
    ['components', set(ours.components), set(base.components)],
    ['depends_on', set(ours.depends_on), set(base.depends_on)],
    ['dependents', set(ours.dependents), set(base.dependents)],
    ['resources', set(ours.resources), set(base.resources)],
    ['repositories', set(ours.repositories), set(base.repositories)],
    ['products', set(ours.products), set(base.products)],
    [
      'assignments',
      ours.assignments.map((a: Json) => `${a.person_id}|${a.role}|${a.person?.email}`).join(','),
      base.assignments.map((a: Json) => `${a.person_id}|${a.role}|${a.person?.email}`).join(','),
    ],
    ['incidents', ids(ours.incidents), ids(base.incidents)],
    ['scorecards', (ours.scorecards ?? []).length, base.scorecards.length],
  ];
  for (const [field, a, b] of checks) {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new Error(`detail ${ours.id}: the API and the baseline disagree on ${field}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
}

function compareList(ours: Json, base: { rows: Json[]; total: number }): void {
  const a = ours.data.map((r: Json) => r.id).join(',');
  const b = base.rows.map((r) => r.id).join(',');
  if (a !== b || ours.meta.total !== base.total || ours.data.length === 0) {
    throw new Error(
      `list: the API and the baseline disagree (rows ${ours.data.length} vs ${base.rows.length}, total ${ours.meta.total} vs ${base.total}, same ids: ${a === b})`,
    );
  }
  const lists = (r: Json) => [r.component_ids, r.depends_on_service_ids, r.assignments.map((x: Json) => x.person_id)].map((l) => l.join(',')).join(';');
  const mismatch = ours.data.findIndex((r: Json, i: number) => lists(r) !== lists(base.rows[i]));
  if (mismatch >= 0) throw new Error(`list: relation lists of row ${mismatch} differ`);
}

const suite: Suite = {
  name: SUITE,
  description: 'REST reads at 100K services per tenant (20K quick) vs raw pg: detail, first pages with their count, cursor pages (next and deep); node memory',
  run,
};
export default suite;
