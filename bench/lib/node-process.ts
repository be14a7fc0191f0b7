// The parent side of an app node running in its own process (bench/lib/app-node.ts): start it,
// ask it for its memory, profile it, close it. A separate process keeps the load generator and
// the raw-driver baselines off the node's event loop, and gives the node its own RSS.
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import { startWorker } from './worker.js';
import type { Log } from './types.js';

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
  /** Counts the SQL statements the node sends from now on (knex 'query' events). */
  startQueryCount(): Promise<void>;
  /** The count, and the text of the first 100 statements. */
  stopQueryCount(): Promise<{ count: number; statements: string[] }>;
  close(): Promise<void>;
}


const ENTRY = fileURLToPath(new URL('./app-node.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;

export async function startAppNode(opts: AppNodeOptions, log: Log): Promise<AppNode> {
  const { child, url, call } = await startWorker({
    entry: ENTRY, label: `node ${opts.name}`, env: { BENCH_APP_NODE: JSON.stringify(opts) }, execArgv: opts.execArgv,
    startTimeoutMs: START_TIMEOUT_MS, callTimeoutMs: CALL_TIMEOUT_MS,
  }, log);
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
    stopQueryCount: () => call<{ count: number; statements: string[] }>('count-stop'),
    close: () =>
      (closing ??= (async () => {
        if (child.connected) await call<void>('close').catch(() => {});
        await stopChild(child, 'SIGTERM', 10_000);
      })()),
  };
}

