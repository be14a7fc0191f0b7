// The parent side of the stock y-websocket relay (bench/lib/coedit-relay.ts) in its own process:
// start it, ask it for its memory, profile it, close it — the same hooks an app node offers.
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import { startWorker } from './worker.js';
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
  const { child, url, call } = await startWorker(
    {
      entry: ENTRY,
      label: 'relay',
      startTimeoutMs: START_TIMEOUT_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
    },
    log,
  );
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
