// The parent side of an app node running in its own process (bench/lib/app-node.ts): start it,
// ask it for its memory, profile it, close it. A separate process keeps the load generator and
// the raw-driver baselines off the node's event loop, and gives the node its own RSS.
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import { startWorker } from './worker.js';
import type { Log } from './types.js';

/** The JWT secret every bench app node runs with, so a suite can mint tokens for tenants it inserts. */
export const BENCH_JWT_SECRET = 'bench-secret-that-is-at-least-32-characters-long';

/** What the node sent while counting: knex 'query' events and, from the driver, every pg query (= round trip). */
export interface QueryCount {
  /** knex 'query' events. */
  count: number;
  /** The text of the first 100 of them. */
  statements: string[];
  /** pg Client#query calls in the node (BEGIN and COMMIT included): one round trip each. */
  roundTrips: number;
  /** The text of the first 100 of them. */
  roundTripStatements: string[];
}

export interface AppNodeOptions {
  /** Label for logs, e.g. "rest" or "fanout-a". */
  name: string;
  databaseUrl: string;
  redisUrl?: string;
  /** The node's knex pool (the production default is 10). */
  dbPoolMax?: number;
  /** startServer's live options (change-log sweep interval, Redis channel prefix). */
  live?: { sweepIntervalMs?: number; redisPrefix?: string };
  /** Extra flags for node, e.g. ['--max-old-space-size=512']. */
  execArgv?: string[];
}

export interface NodeMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface AppNode {
  name: string;
  url: string;
  pid: number;
  /** process.memoryUsage() of the node, after a full GC when `gc` is set. */
  memory(opts?: { gc?: boolean }): Promise<NodeMemory>;
  /** process.cpuUsage() of the node (µs of user and system CPU since it started). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  /** Starts the V8 sampling profiler in the node (inspector session, interval in µs). */
  startProfile(intervalUs?: number): Promise<void>;
  /** Stops it and writes the .cpuprofile to `file`. */
  stopProfile(file: string): Promise<void>;
  /** Counts the SQL statements the node sends from now on (knex 'query' events and pg Client#query calls). */
  startQueryCount(): Promise<void>;
  /** The counts, and the text of the first 100 statements of each. */
  stopQueryCount(): Promise<QueryCount>;
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./app-node.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;

export async function startAppNode(opts: AppNodeOptions, log: Log): Promise<AppNode> {
  const { child, url, call } = await startWorker(
    {
      entry: ENTRY,
      label: `node ${opts.name}`,
      env: { BENCH_APP_NODE: JSON.stringify(opts) },
      // BENCH_NODE_FLAGS (diagnostic): extra node flags for every app node, e.g. a V8 heap setting.
      execArgv: [...(opts.execArgv ?? []), ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [])],
      startTimeoutMs: START_TIMEOUT_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
    },
    log,
  );
  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    url,
    pid: child.pid!,
    memory: (o = {}) => call<NodeMemory>('memory', { gc: o.gc ?? false }),
    cpuUsage: () => call<NodeJS.CpuUsage>('cpu'),
    startProfile: (intervalUs = 250) => call<void>('profile-start', { intervalUs }),
    stopProfile: (file) => call<void>('profile-stop', { file }),
    startQueryCount: () => call<void>('count-start'),
    stopQueryCount: () => call<QueryCount>('count-stop'),
    close: () =>
      (closing ??= (async () => {
        if (child.connected) await call<void>('close').catch(() => {});
        await stopChild(child, 'SIGTERM', 10_000);
      })()),
  };
}
