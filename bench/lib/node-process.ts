// The parent side of an app node running in its own process (bench/lib/app-node.ts): start it,
// ask it for its memory, profile it, close it. A separate process keeps the load generator and
// the raw-driver baselines off the node's event loop, and gives the node its own RSS.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { stopChild } from './infra.js';
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

interface Reply { id: number; ok: boolean; result?: unknown; error?: string }

const ENTRY = fileURLToPath(new URL('./app-node.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;

export async function startAppNode(opts: AppNodeOptions, log: Log): Promise<AppNode> {
  const tsx = import.meta.resolve('tsx');
  const child = fork(ENTRY, [], {
    execArgv: ['--import', tsx, '--expose-gc', ...(opts.execArgv ?? [])],
    env: { ...process.env, BENCH_APP_NODE: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => log(`[node ${opts.name}] ${line}`));
  }

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  child.on('message', (msg: Reply | { type: string }) => {
    if (!('id' in msg)) return;
    const call = pending.get(msg.id);
    if (!call) return;
    pending.delete(msg.id);
    clearTimeout(call.timer);
    if (msg.ok) call.resolve(msg.result);
    else call.reject(new Error(`app node ${opts.name}: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`app node ${opts.name} exited (${signal ?? code})`));
    }
    pending.clear();
  });
  const call = <T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`app node ${opts.name} is gone`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`app node ${opts.name}: ${cmd} timed out`));
      }, CALL_TIMEOUT_MS);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, cmd, ...args });
    });

  const ready = await waitForReady(child, opts.name);
  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    url: ready.url,
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

function waitForReady(child: ChildProcess, name: string): Promise<{ url: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`app node ${name} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onMessage = (msg: { type?: string; url?: string; error?: string }) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve({ url: msg.url! });
      } else if (msg.type === 'failed') {
        cleanup();
        reject(new Error(`app node ${name} failed to start: ${msg.error}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`app node ${name} exited during start-up (${signal ?? code})`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
