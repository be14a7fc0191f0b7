// The parent side of the fan-out baseline node (bench/lib/fanout-raw-server.ts): a plain Socket.IO
// server with the Redis adapter in a child process of its own, like an app node, so it has its own
// event loop and RSS and the comparison is process for process.
import { fileURLToPath } from 'node:url';
import { stopChild } from './infra.js';
import { startWorker } from './worker.js';
import type { NodeMemory } from './node-process.js';
import type { Log } from './types.js';

export interface RawNodeOptions {
  name: string;
  /** Without it the server runs Socket.IO's in-memory adapter (one node). */
  redisUrl?: string;
  /** The adapter's key (channel prefix); the same on every node of one baseline cluster. */
  key?: string;
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

const ENTRY = fileURLToPath(new URL('./fanout-raw-server.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 120_000;

export async function startRawNode(opts: RawNodeOptions, log: Log): Promise<RawNode> {
  const { child, url, call } = await startWorker(
    {
      entry: ENTRY,
      label: `raw ${opts.name}`,
      env: { BENCH_FANOUT_RAW: JSON.stringify(opts) },
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
    broadcast: (rate, count, template) => call('broadcast', { rate, count, template }),
    sockets: () => call<number>('sockets'),
    close: () =>
      (closing ??= (async () => {
        if (child.connected) await call<void>('close').catch(() => {});
        await stopChild(child, 'SIGTERM', 5_000);
      })()),
  };
}
