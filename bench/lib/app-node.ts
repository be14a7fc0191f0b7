// One app node for the benchmarks, in its own process: startServer from src/app.ts on a free
// port of 127.0.0.1 with a test-like config, driven by its parent over IPC (memory, profiler,
// SQL statement count, close). It exits by itself when the parent goes away.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { Session, type Profiler } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { startServer, type AppHandle } from '../../src/app.js';
import { DEFAULT_COLLAB_LIMITS } from '../../src/platform/collab/limits.js';
import { HTTP_DEFAULTS, LIVE_LIMIT_DEFAULTS, DERIVED_EVENT_DEFAULTS, WEBHOOK_DEFAULTS, type Config } from '../../src/platform/config.js';
import { createKnex } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import pg from 'pg';
import { BENCH_JWT_SECRET, type AppNodeOptions } from './node-process.js';

interface Command {
  id: number;
  cmd: string;
  [arg: string]: unknown;
}

const opts = JSON.parse(process.env.BENCH_APP_NODE ?? '{}') as AppNodeOptions;
const send = (msg: unknown) => process.send?.(msg);

const config: Config = {
  port: 0,
  host: '127.0.0.1',
  databaseUrl: opts.databaseUrl,
  redisUrl: opts.redisUrl,
  dataDir: path.join(os.tmpdir(), `ail-bench-${randomUUID()}`),
  jwtSecret: BENCH_JWT_SECRET,
  logLevel: 'error',
  nodeId: `bench-${opts.name}`,
  dbPoolMax: opts.dbPoolMax ?? 10,
  http: { ...HTTP_DEFAULTS },
  collab: { ...DEFAULT_COLLAB_LIMITS },
  // Benchmarks sign up, log in and connect far more from one address than any person does.
  rateLimits: { loginFailuresPerAccountIp: 1_000_000, loginAttemptsPerIp: 1_000_000, signupsPerIp: 1_000_000 },
  live: { ...LIVE_LIMIT_DEFAULTS, socketsPerUser: 1_000_000, socketsPerTenant: 10_000_000 },
  webhooks: { ...WEBHOOK_DEFAULTS },
  derivedEvents: { ...DERIVED_EVENT_DEFAULTS },
  mode: opts.redisUrl ? 'cluster' : 'embedded',
  seedSampleData: false,
  statementTimeoutMs: 30_000,
};
// Diagnostic (BENCH_QUIET_TIMERS=1): the node's background polls (change-log sweep, followers,
// webhook worker) run once every 10 minutes, to see how much of a latency tail they cause.
const QUIET_TIMERS_MS = 600_000;
const quietTimers = process.env.BENCH_QUIET_TIMERS === '1';
if (quietTimers) {
  config.derivedEvents = { ...config.derivedEvents, pollMs: QUIET_TIMERS_MS };
  config.webhooks = { ...config.webhooks, pollMs: QUIET_TIMERS_MS };
}
const logger = createLogger(config.logLevel, { node: config.nodeId });
const knex = createKnex(opts.databaseUrl, { poolMax: config.dbPoolMax, logger });

let app: AppHandle | undefined;
let profiler: Session | undefined;
let queries = 0;
let counting = false;
const statements: string[] = [];
knex.on('query', (q: { sql?: string }) => {
  if (!counting) return;
  queries++;
  if (statements.length < 100) statements.push(q.sql ?? '');
});
// Round trips from the driver: every Client#query (knex's, a transaction's BEGIN/COMMIT, anything
// else in this process that talks to PostgreSQL through pg) is one extended-protocol exchange.
let roundTrips = 0;
const roundTripStatements: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with apply(this, …) on the client
const pgQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  if (counting) {
    roundTrips++;
    const q = args[0];
    if (roundTripStatements.length < 100) roundTripStatements.push(typeof q === 'string' ? q : String((q as { text?: string })?.text ?? ''));
  }
  return pgQuery.apply(this, args);
};

let stopping: Promise<void> | undefined;
function shutdown(code = 0): Promise<void> {
  stopping ??= (async () => {
    try {
      await app?.close();
      await knex.destroy();
    } finally {
      process.exit(code);
    }
  })();
  return stopping;
}

async function handle(msg: Command): Promise<unknown> {
  switch (msg.cmd) {
    case 'memory': {
      if (msg.gc && global.gc) {
        global.gc();
        await new Promise((r) => setTimeout(r, 50));
        global.gc();
      }
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      return { rss, heapUsed, heapTotal, external };
    }
    case 'profile-start': {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: Number(msg.intervalUs ?? 250) });
      await profiler.post('Profiler.start');
      return undefined;
    }
    case 'profile-stop': {
      if (!profiler) throw new Error('the profiler is not running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      toSourcePositions(profile);
      await fs.mkdir(path.dirname(String(msg.file)), { recursive: true });
      await fs.writeFile(String(msg.file), JSON.stringify(profile));
      return undefined;
    }
    case 'cpu':
      return process.cpuUsage();
    case 'count-start':
      queries = 0;
      statements.length = 0;
      roundTrips = 0;
      roundTripStatements.length = 0;
      counting = true;
      return undefined;
    case 'count-stop':
      counting = false;
      return { count: queries, statements: [...statements], roundTrips, roundTripStatements: [...roundTripStatements] };
    case 'close':
      setImmediate(() => void shutdown(0));
      return undefined;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

/**
 * tsx compiles each TypeScript module to one line, so the profile's positions in our own files are
 * all "line 1"; its inline source maps (tsx enables them) give back the TypeScript line of each function.
 */
function toSourcePositions(profile: Profiler.Profile): void {
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    if (!frame.url.startsWith('file://') || frame.url.includes('/node_modules/')) continue;
    const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (!entry || !('originalLine' in entry)) continue;
    frame.lineNumber = entry.originalLine;
    frame.columnNumber = entry.originalColumn;
    delete node.positionTicks; // generated-code lines, meaningless now
  }
}

process.on('message', (msg: Command) => {
  handle(msg).then(
    (result) => send({ id: msg.id, ok: true, result }),
    (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent died or closed the channel: nothing else will ever stop us.
process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// Ctrl-C in the terminal reaches the whole process group; the parent decides when we stop.
process.on('SIGINT', () => {});

try {
  app = await startServer({ config, knex, logger, live: quietTimers ? { ...opts.live, sweepIntervalMs: QUIET_TIMERS_MS } : opts.live });
  send({ type: 'ready', url: app.url });
} catch (err) {
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  await shutdown(1);
}
