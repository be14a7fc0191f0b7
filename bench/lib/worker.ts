// The parent side of every benchmark process (app nodes, the raw Socket.IO baseline, the stock
// y-websocket relay): fork it under tsx, relay its output to the log, wait for its `ready`
// message, and call it by request id over IPC (`{id, cmd, ...args}` → `{id, ok, result|error}`).
import { fork, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Log } from './types.js';

export interface WorkerOptions {
  /** The child's entry file (absolute path). */
  entry: string;
  /** Label in logs and errors, e.g. "app node rest", "raw node a", "relay". */
  label: string;
  /** Extra environment for the child (its options, as JSON, under a name of its own). */
  env?: Record<string, string>;
  execArgv?: string[];
  startTimeoutMs: number;
  callTimeoutMs: number;
}

export interface Worker {
  child: ChildProcess;
  url: string;
  call: <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  type?: string;
  url?: string;
}

export async function startWorker(opts: WorkerOptions, log: Log): Promise<Worker> {
  const { label } = opts;
  const child = fork(opts.entry, [], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => log(`[${label}] ${line}`));
  }
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  child.on('message', (msg: Reply) => {
    const call = msg.id !== undefined ? pending.get(msg.id) : undefined;
    if (!call) return;
    pending.delete(msg.id!);
    clearTimeout(call.timer);
    if (msg.ok) call.resolve(msg.result);
    else call.reject(new Error(`${label}: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`${label} exited (${signal ?? code})`));
    }
    pending.clear();
  });
  const call = <T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${label} is gone`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${label}: ${cmd} timed out`));
      }, opts.callTimeoutMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, cmd, ...args });
    });
  const url = await waitForReady(child, label, opts.startTimeoutMs);
  return { child, url, call };
}

function waitForReady(child: ChildProcess, label: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: Reply) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve(msg.url!);
      } else if (msg.type === 'failed') {
        cleanup();
        reject(new Error(`${label} failed to start: ${msg.error}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${label} exited during start-up (${signal ?? code})`));
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
