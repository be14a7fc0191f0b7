// REST suite (SPEC §7, TPRD §7: single entity read < 20 ms, paginated list < 100 ms at 100K
// entities per type per tenant). One app node over a tenant holding 100K services (20K in quick
// mode); p50/p99 over HTTP at concurrency 1 and 8 of a detail read, the default list, a filtered
// list, a text search and a deep cursor page, each beside a raw pg baseline fetching the same data.
import path from 'node:path';
import { HttpClient } from './lib/http-client.js';
import { RESULTS_DIR } from './lib/infra.js';
import { measure, type Measurement, type MeasureOptions } from './lib/measure.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';
import { RestBaseline } from './lib/rest-baseline.js';
import { FULL_SIZES, QUICK_SIZES, SEARCH_WORD, seedCatalog } from './lib/rest-seed.js';
import type { AppNode } from './lib/node-process.js';
import type { Row, Suite, SuiteOptions } from './lib/types.js';
import fs from 'node:fs/promises';

const SUITE = 'rest';
const CONCURRENCY = [1, 8] as const;
const BASELINE = 'raw pg';
const MB = 1024 * 1024;

interface ReadCase {
  key: string;
  label: string;
  /** TPRD §7 latency target in ms. */
  targetMs: number;
  path: (k: number) => string;
  baseline: (k: number) => Promise<unknown>;
  /** Fetches k=0 both ways and throws when the API and the baseline disagree. */
  verify: () => Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const budget: MeasureOptions = quick
    ? { count: 200, concurrency: 1, warmup: 30, timeCapMs: 6_000 }
    : { count: 500, concurrency: 1, warmup: 100, timeCapMs: 30_000 };

  const db = await infra.database(SUITE);
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url });
  const anonymous = new HttpClient(node.url);
  const slug = `bench-${Date.now().toString(36)}`;
  const signup = await anonymous.json('POST', '/api/v1/auth/signup', {
    tenant_name: `Bench ${slug}`, tenant_slug: slug, email: `admin@${slug}.example`, password: 'correct horse battery staple',
    display_name: 'Bench Admin',
  }, 201);
  anonymous.close();
  const tenantId: string = signup.data.tenant.id;
  const api = new HttpClient(node.url, signup.data.access_token);
  infra.defer('close HTTP client', () => api.close());
  log(`tenant ${slug} signed up through the API; seeding ${sizes.services.toLocaleString('en-US')} services`);

  const counts = await seedCatalog(db.knex, tenantId, signup.data.user.id, sizes, log);
  log(`seeded: ${JSON.stringify(counts)}`);

  const pg = new RestBaseline(db.url, 10);
  infra.defer('close baseline pool', () => pg.close());
  const ids = await pg.sampleIds(tenantId, quick ? 1_000 : 3_000);
  const depths = Array.from({ length: 40 }, (_, i) => Math.floor(sizes.services * (0.5 + (0.45 * i) / 39)));
  const positions = await pg.positions(tenantId, depths);
  const cursors = positions.map((p) => Buffer.from(JSON.stringify({ s: '-updated_at', k: p.k, id: p.id })).toString('base64url'));

  const idle = await node.memory({ gc: true });
  log(`app node idle after seeding: RSS ${(idle.rss / MB).toFixed(1)} MB, heap ${(idle.heapUsed / MB).toFixed(1)} MB`);

  const list = (q: string) => `/api/v1/services?limit=50${q}`;
  const cases: ReadCase[] = [
    {
      key: 'detail', label: 'GET /services/:id (detail view)', targetMs: 20,
      path: (k) => `/api/v1/services/${ids[k % ids.length]}`,
      baseline: (k) => pg.detail(tenantId, ids[k % ids.length]!),
      verify: async () => {
        // A service with relations, assignments and dependents, and a random one.
        const rich = (await db.knex('service_dependencies').select('depends_on_service_id as id').limit(1))[0]!.id as string;
        const withAll = (await db.knex('service_components as sc')
          .join('entity_assignments as a', 'a.entity_id', 'sc.service_id').select('sc.service_id as id').limit(1))[0]!.id as string;
        for (const id of [rich, withAll, ids[0]!]) compareDetail((await api.json('GET', `/api/v1/services/${id}`)).data, await pg.detail(tenantId, id));
      },
    },
    listCase('list', 'GET /services?limit=50 (default sort)', '', {}),
    listCase('status', 'GET /services?status=deprecated', '&status=deprecated', { status: 'deprecated' }),
    listCase('search', `GET /services?q=${SEARCH_WORD}`, `&q=${SEARCH_WORD}`, { q: SEARCH_WORD }),
    {
      key: 'deep', label: 'GET /services?cursor= (page at 50-95% depth)', targetMs: 100,
      path: (k) => list(`&cursor=${cursors[k % cursors.length]}`),
      baseline: (k) => pg.list(tenantId, { limit: 50, after: positions[k % positions.length] }),
      verify: async () => compareList(await api.json('GET', list(`&cursor=${cursors[0]}`)), await pg.list(tenantId, { limit: 50, after: positions[0] })),
    },
  ];

  function listCase(key: string, label: string, query: string, spec: { status?: string; q?: string }): ReadCase {
    return {
      key, label, targetMs: 100,
      path: () => list(query),
      baseline: () => pg.list(tenantId, { limit: 50, ...spec }),
      verify: async () => compareList(await api.json('GET', list(query)), await pg.list(tenantId, { limit: 50, ...spec })),
    };
  }

  const rows: Row[] = [];
  // The API and the baseline must fetch the same data, or the ratio means nothing.
  for (const c of cases) await c.verify();
  log('API and baseline answers agree for every case');
  rows.push(...(await statementCounts(node, api, cases)));

  for (const c of cases) {
    for (const concurrency of CONCURRENCY) {
      const opts = { ...budget, concurrency };
      const ours = await measure((k) => api.getOk(c.path(k)), opts);
      const base = await measure(async (k) => void (await c.baseline(k)), opts);
      log(`${c.label} c=${concurrency}: ours p50 ${ours.p50.toFixed(2)} p99 ${ours.p99.toFixed(2)} ms, ${ours.throughput.toFixed(0)}/s; ` +
        `raw pg p50 ${base.p50.toFixed(2)} p99 ${base.p99.toFixed(2)} ms, ${base.throughput.toFixed(0)}/s`);
      rows.push(...latencyRows(c, concurrency, ours, base));
    }
  }

  const loaded = await node.memory();
  const loadedGc = await node.memory({ gc: true });
  rows.push(
    { suite: SUITE, metric: `app node RSS, idle after seeding ${sizes.services.toLocaleString('en-US')} services`, unit: 'MB', value: idle.rss / MB },
    { suite: SUITE, metric: 'app node RSS after the load', unit: 'MB', value: loaded.rss / MB },
    { suite: SUITE, metric: 'app node JS heap used after the load (after GC)', unit: 'MB', value: loadedGc.heapUsed / MB },
  );

  if (flags.profile) await profileCase(node, api, cases, flags.profile === 'true' ? 'detail' : flags.profile, quick, log);
  return rows;
}

function latencyRows(c: ReadCase, concurrency: number, ours: Measurement, base: Measurement): Row[] {
  const note = (m: Measurement) => (m.cappedEarly ? 'time cap hit' : undefined);
  const rows: Row[] = (['p50', 'p99'] as const).map((p) => ({
    suite: SUITE, metric: `${c.label} ${p} (c=${concurrency})`, unit: 'ms', value: ours[p],
    baseline: { name: BASELINE, value: base[p] }, samples: ours.latencies.length,
    note: note(ours) ?? (p === 'p99' ? `TPRD <${c.targetMs} ms ${ours.p99 < c.targetMs ? 'met' : 'MISSED'}` : undefined),
  }));
  if (concurrency > 1) {
    rows.push({
      suite: SUITE, metric: `${c.label} throughput (c=${concurrency})`, unit: 'req/s', value: ours.throughput,
      baseline: { name: BASELINE, value: base.throughput }, samples: ours.latencies.length, note: note(ours),
    });
  }
  return rows;
}

/** SQL statements the node sends per request (knex 'query' events), beside the baseline's. */
async function statementCounts(node: AppNode, api: HttpClient, cases: ReadCase[]): Promise<Row[]> {
  const rows: Row[] = [];
  const baselineStatements: Record<string, number> = { detail: 1 };
  for (const c of cases.filter((x) => x.key === 'detail' || x.key === 'list')) {
    const n = 20;
    await node.startQueryCount();
    for (let k = 0; k < n; k++) await api.getOk(c.path(k));
    const statements = (await node.stopQueryCount()) / n;
    rows.push({
      suite: SUITE, metric: `SQL statements per request: ${c.label}`, unit: 'stmts', value: statements,
      baseline: { name: BASELINE, value: baselineStatements[c.key] ?? 2 },
    });
  }
  return rows;
}

async function profileCase(node: AppNode, api: HttpClient, cases: ReadCase[], key: string, quick: boolean, log: SuiteOptions['log']) {
  const c = cases.find((x) => x.key === key);
  if (!c) throw new Error(`--profile=${key}: no such case (${cases.map((x) => x.key).join(', ')})`);
  const file = path.join(RESULTS_DIR, `rest-${key}.cpuprofile`);
  await node.startProfile(100);
  const m = await measure((k) => api.getOk(c.path(k)), { count: quick ? 500 : 3_000, concurrency: 8, warmup: 0, timeCapMs: 60_000 });
  await node.stopProfile(file);
  const text = `${c.label}: ${m.latencies.length} requests at c=8 under the profiler (p50 ${m.p50.toFixed(2)} ms)\n` +
    renderProfile(await summarizeProfile(file, 30));
  await fs.writeFile(file.replace(/\.cpuprofile$/, '-profile.txt'), text + '\n');
  log(`profile written to ${path.relative(process.cwd(), file)}\n${text}`);
}

function compareDetail(ours: Json, base: Json): void {
  const ids = (list: Json[] | undefined) => (list ?? []).map((x: Json) => x.id ?? x).join(',');
  const checks: [string, unknown, unknown][] = [
    ['id', ours.id, base.id],
    ['row_version', ours.row_version, base.row_version],
    ['team', ours.team?.id ?? null, base.team?.id ?? null],
    ['component_ids', ours.component_ids.join(','), ids(base.component_ids)],
    ['depends_on_service_ids', ours.depends_on_service_ids.join(','), ids(base.depends_on_service_ids)],
    ['components', ids(ours.components), ids(base.components)],
    ['dependents', ids(ours.dependents), ids(base.dependents)],
    ['products', ids(ours.products), ids(base.products)],
    ['assignments', ours.assignments.map((a: Json) => `${a.person_id}|${a.role}|${a.person?.email}`).join(','),
      base.assignments.map((a: Json) => `${a.person_id}|${a.role}|${a.person?.email}`).join(',')],
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
    throw new Error(`list: the API and the baseline disagree (rows ${ours.data.length} vs ${base.rows.length}, total ${ours.meta.total} vs ${base.total}, same ids: ${a === b})`);
  }
  const lists = (r: Json) => [r.component_ids, r.depends_on_service_ids, r.assignments.map((x: Json) => x.person_id)].map((l) => l.join(',')).join(';');
  const mismatch = ours.data.findIndex((r: Json, i: number) => lists(r) !== lists(base.rows[i]));
  if (mismatch >= 0) throw new Error(`list: relation lists of row ${mismatch} differ`);
}

const suite: Suite = {
  name: SUITE,
  description: 'REST reads at 100K services per tenant (20K quick) vs raw pg: detail, lists, search, deep cursor; node memory',
  run,
};
export default suite;
