// Login-stall suite: does password hashing stall a node? One app node, one tenant signed up through
// the API and a second user of it who logs in. An authenticated `GET /api/v1/services?limit=1` is
// timed at concurrency 1 on the idle node, then again while 8 correct-password logins
// (`POST /api/v1/auth/login`, so bcrypt runs to the end of every one and nothing is refused) run in
// a closed loop, 8 in flight. The row is the GET's p99 under the logins beside its idle p99 (the
// performance issue's target: at most 3×); the logins completed per second and the node's CPU
// during them go in the notes. Bounded by a request count and a time cap on each phase; the login
// loops stop with the timed GETs (and at a deadline of their own).
import { HttpClient } from './lib/http-client.js';
import { measure, percentile, type MeasureOptions } from './lib/measure.js';
import { comparisonRows } from './lib/rows.js';
import { BENCH_PASSWORD, signUpTenant } from './lib/signup.js';
import type { AppNode } from './lib/node-process.js';
import type { Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'auth';
/** Logins in flight at once (the performance issue's figure). */
const LOGINS = 8;
const GET = '/api/v1/services?limit=1';
const TARGET_RATIO = 3;

async function run({ quick, log, infra }: SuiteOptions): Promise<Row[]> {
  const budget: MeasureOptions = quick
    ? { count: 80, concurrency: 1, warmup: 5, timeCapMs: 3_000 }
    : { count: 500, concurrency: 1, warmup: 30, timeCapMs: 30_000 };

  const db = await infra.database(SUITE);
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url });
  const tenant = await signUpTenant(node.url, 'auth');
  const api = new HttpClient(node.url, tenant.token);
  infra.defer('close HTTP client', () => api.close());
  // Someone else logs in: the user whose GETs are timed is not the one whose logins hash.
  const email = `login@${tenant.slug}.example`;
  await api.json('POST', '/api/v1/users', { email, display_name: 'Login user', role: 'viewer', password: BENCH_PASSWORD }, 201);
  for (let i = 0; i < 5; i++) await api.json('POST', '/api/v1/services', { name: `auth bench ${i}`, type: 'api' }, 201);
  const login = { tenant_slug: tenant.slug, email, password: BENCH_PASSWORD };
  const logins = new HttpClient(node.url, undefined, LOGINS);
  infra.defer('close login client', () => logins.close());
  const first = await logins.json('POST', '/api/v1/auth/login', login);
  if (typeof first.data?.access_token !== 'string') throw new Error('POST /auth/login answered 200 without an access token');
  log(`tenant ${tenant.slug}: GETs as the admin, logins as ${email}`);

  const idle = await measure(() => api.getOk(GET), budget);
  log(`idle: GET p50 ${idle.p50.toFixed(2)} p99 ${idle.p99.toFixed(2)} ms (${idle.latencies.length} requests)`);

  const load = new LoginLoop(logins, login, LOGINS, budget.timeCapMs * 3);
  const { loaded, during } = await (async () => {
    try {
      await load.started(10_000);
      const cpu = await cpuWindow(node, () => measure(() => api.getOk(GET), budget));
      return { loaded: cpu.result, during: { ...load.stats(), cores: cpu.cores } };
    } finally {
      await load.stop();
    }
  })();
  // The node may still be hashing the logins that were cut off: stop it before the next suite runs.
  await node.close();
  const refused = [...during.failures].map(([status, n]) => `${n}× ${status}`).join(', ');
  log(
    `under ${LOGINS} logins: GET p50 ${loaded.p50.toFixed(2)} p99 ${loaded.p99.toFixed(2)} ms (${loaded.latencies.length} requests); ` +
      `${during.ok} logins done (${during.rate.toFixed(1)}/s, p50 ${during.p50.toFixed(0)} ms)${refused ? `, refused: ${refused}` : ''}; node ${during.cores.toFixed(2)} cores`,
  );

  const label = `GET /services?limit=1 while ${LOGINS} correct-password logins run`;
  const rows = comparisonRows(loaded, idle, { suite: SUITE, label, baselineName: 'the same GET, node idle', concurrency: 1 });
  const p99 = rows[1]!;
  p99.note = [`target ≤${TARGET_RATIO}x idle ${loaded.p99 <= TARGET_RATIO * idle.p99 ? 'met' : 'MISSED'}`, p99.note].filter(Boolean).join('; ');
  rows.push({
    suite: SUITE,
    metric: `correct-password logins/s, ${LOGINS} in flight (during the timed GETs)`,
    unit: 'logins/s',
    value: during.rate,
    samples: during.ok,
    note: [
      `login p50 ${during.p50.toFixed(0)} ms; node CPU ${during.cores.toFixed(2)} cores`,
      refused ? `INVALID: logins refused (${refused}), so hashing did not run for them` : 'every login 200',
    ].join('; '),
  });
  return rows;
}

/** LOGINS closed loops of POST /auth/login; each records its answer's status and latency. */
class LoginLoop {
  private stopping = false;
  private readonly loops: Promise<void>[];
  private ok = 0;
  private readonly latencies: number[] = [];
  private readonly failures = new Map<string, number>();
  private windowStart = { at: 0, ok: 0, latencies: 0 };

  constructor(
    private readonly client: HttpClient,
    body: unknown,
    inFlight: number,
    deadlineMs: number,
  ) {
    const deadline = performance.now() + deadlineMs;
    this.loops = Array.from({ length: inFlight }, async () => {
      while (!this.stopping && performance.now() < deadline) {
        const t0 = performance.now();
        const res = await client.request('POST', '/api/v1/auth/login', body).catch((err: unknown) => ({ status: String(err), body: Buffer.alloc(0) }));
        if (this.stopping) break; // cut off by stop(), after the figures were taken
        if (res.status === 200) {
          this.ok++;
          this.latencies.push(performance.now() - t0);
        } else {
          this.failures.set(String(res.status), (this.failures.get(String(res.status)) ?? 0) + 1);
        }
      }
    });
  }

  /**
   * Resolves at the first answer: the loops' connections are open and, as each loop sends again at
   * once, the node's hashing queue stays full from then on.
   */
  async started(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.ok + this.failed() === 0) {
      if (performance.now() > deadline) throw new Error(`no login answered within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    this.windowStart = { at: performance.now(), ok: this.ok, latencies: this.latencies.length };
  }

  /** Logins completed since started(), per second, with their p50 and any refusals. */
  stats() {
    const seconds = (performance.now() - this.windowStart.at) / 1000;
    const latencies = this.latencies.slice(this.windowStart.latencies).sort((a, b) => a - b);
    const ok = this.ok - this.windowStart.ok;
    return { ok, rate: ok / seconds, p50: percentile(latencies, 50), failures: new Map(this.failures) };
  }

  /** Ends the loops at once: the logins in flight are cut off (their client's sockets destroyed). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.client.close();
    await Promise.all(this.loops);
  }

  private failed(): number {
    return [...this.failures.values()].reduce((s, n) => s + n, 0);
  }
}

/** Runs `work` and returns its result with the node's CPU over it (cores: 1 = one core busy). */
async function cpuWindow<T>(node: AppNode, work: () => Promise<T>): Promise<{ result: T; cores: number }> {
  const [before, t0] = [await node.cpuUsage(), performance.now()];
  const result = await work();
  const after = await node.cpuUsage();
  const us = after.user + after.system - before.user - before.system;
  return { result, cores: us / 1000 / (performance.now() - t0) };
}

const suite: Suite = {
  name: SUITE,
  description: `Login stall: an authenticated GET's p50/p99 (c=1) while ${LOGINS} correct-password logins run, beside the same GET on the idle node`,
  run,
};
export default suite;
