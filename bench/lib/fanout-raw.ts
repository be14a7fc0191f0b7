// The parent side of the fan-out baseline node (bench/lib/fanout-raw-server.ts): a plain Socket.IO
// server with the Redis adapter in a child process of its own, like an app node, so it has its own
// event loop and RSS and the comparison is process for process.
import { fork, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import type { NodeMemory } from './node-process.js';
import type { Log } from './types.js';

export interface RawNodeOptions {
  name: string;
  redisUrl: string;
  /** The adapter's key (channel prefix); the same on every node of one baseline cluster. */
  key: string;
}

export interface RawNode {
  name: string;
  url: string;
  pid: number;
  memory(opts?: { gc?: boolean }): Promise<NodeMemory>;
  /** io.emit of `count` events at `rate`/s, each `{...template, seq, at}`; seqs continue across calls. */
  broadcast(rate: number, count: number, template: unknown): Promise<{ first: number; last: number; wallMs: number }>;
  /** engine.io clients connected to this node. */
  sockets(): Promise<number>;
  close(): Promise<void>;
}

interface Reply { id: number; ok: boolean; result?: unknown; error?: string }

const ENTRY = fileURLToPath(new URL('./fanout-raw-server.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 120_000;

export async function startRawNode(opts: RawNodeOptions, log: Log): Promise<RawNode> {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    env: { ...process.env, BENCH_FANOUT_RAW: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => log(`[raw ${opts.name}] ${line}`));
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
    else call.reject(new Error(`raw node ${opts.name}: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`raw node ${opts.name} exited (${signal ?? code})`));
    }
    pending.clear();
  });
  const call = <T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`raw node ${opts.name} is gone`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`raw node ${opts.name}: ${cmd} timed out`));
      }, CALL_TIMEOUT_MS);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, cmd, ...args });
    });

  const url = await waitForReady(child, opts.name);
  let closing: Promise<void> | undefined;
  return {
    name: opts.name,
    url,
    pid: child.pid!,
    memory: (o = {}) => call<NodeMemory>('memory', { gc: o.gc ?? false }),
    broadcast: (rate, count, template) => call('broadcast', { rate, count, template }),
    sockets: () => call<number>('sockets'),
    close: () =>
      (closing ??= (async () => {
        if (child.connected) await call<void>('close').catch(() => {});
        await stopChild(child, 'SIGTERM', 5_000);
      })()),
  };
}

function waitForReady(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`raw node ${name} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onMessage = (msg: { type?: string; url?: string; error?: string }) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve(msg.url!);
      } else if (msg.type === 'failed') {
        cleanup();
        reject(new Error(`raw node ${name} failed to start: ${msg.error}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`raw node ${name} exited during start-up (${signal ?? code})`));
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
