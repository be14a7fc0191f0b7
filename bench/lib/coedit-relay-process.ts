// The parent side of the stock y-websocket relay (bench/lib/coedit-relay.ts) in its own process:
// start it, ask it for its memory, profile it, close it — the same hooks an app node offers.
import { fork } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import type { NodeMemory } from './node-process.js';
import type { Log } from './types.js';

export interface RelayNode {
  url: string;
  pid: number;
  memory(opts?: { gc?: boolean }): Promise<NodeMemory>;
  /** Rooms (documents) held and open connections. */
  rooms(): Promise<{ rooms: number; connections: number }>;
  startProfile(intervalUs?: number): Promise<void>;
  stopProfile(file: string): Promise<void>;
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./coedit-relay.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 30_000;

export async function startRelay(log: Log): Promise<RelayNode> {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => log(`[relay] ${line}`));
  }
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let onReady: ((url: string) => void) | undefined;
  child.on('message', (msg: { id?: number; ok?: boolean; result?: unknown; error?: string; type?: string; url?: string }) => {
    if (msg.type === 'ready') return onReady?.(msg.url!);
    const call = msg.id !== undefined ? pending.get(msg.id) : undefined;
    if (!call) return;
    pending.delete(msg.id!);
    clearTimeout(call.timer);
    if (msg.ok) call.resolve(msg.result);
    else call.reject(new Error(`relay: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`relay exited (${signal ?? code})`));
    }
    pending.clear();
  });
  const call = <T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error('the relay is gone'));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`relay: ${cmd} timed out`));
      }, CALL_TIMEOUT_MS);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, cmd, ...args });
    });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the relay did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    onReady = (u) => {
      clearTimeout(timer);
      resolve(u);
    };
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the relay exited during start-up (${signal ?? code})`));
    });
  });
  log(`stock y-websocket relay up at ${url} (pid ${child.pid})`);
  let closing: Promise<void> | undefined;
  return {
    url,
    pid: child.pid!,
    memory: (o = {}) => call<NodeMemory>('memory', { gc: o.gc ?? false }),
    rooms: () => call<{ rooms: number; connections: number }>('rooms'),
    startProfile: (intervalUs = 250) => call<void>('profile-start', { intervalUs }),
    stopProfile: (file) => call<void>('profile-stop', { file }),
    close: () =>
      (closing ??= (async () => {
        if (child.connected) await call<void>('close').catch(() => {});
        await stopChild(child, 'SIGTERM', 5_000);
      })()),
  };
}
