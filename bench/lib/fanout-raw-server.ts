// The fan-out suite's baseline node, in its own process: a plain Socket.IO server with
// @socket.io/redis-adapter on ioredis (or, without a Redis URL, Socket.IO's own in-memory adapter:
// the sockets suite's single node), nothing else (no auth, no database, no streams). Its parent
// (bench/lib/fanout-raw.ts) drives it over IPC: memory, and `broadcast` — io.emit('change', …)
// at a given rate with a seq and the time in the payload, like the app's envelope.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { RawNodeOptions } from './fanout-raw.js';

interface Command {
  id: number;
  cmd: string;
  [arg: string]: unknown;
}

const opts = JSON.parse(process.env.BENCH_FANOUT_RAW ?? '{}') as RawNodeOptions;
const send = (msg: unknown) => process.send?.(msg);

const pub = opts.redisUrl ? new Redis(opts.redisUrl) : undefined;
const sub = pub?.duplicate();
const server = http.createServer();
const io = new Server(server, { serveClient: false, ...(pub && sub ? { adapter: createAdapter(pub, sub, { key: opts.key }) } : {}) });
let seq = 0;

/**
 * Emits `count` events at `rate`/s to every socket of every node (io.emit goes through the
 * adapter: local sockets at once, the other node's via Redis), each `{...template, seq, at}`.
 */
async function broadcast(rate: number, count: number, template: Record<string, unknown>): Promise<{ first: number; last: number; wallMs: number }> {
  const first = seq + 1;
  const started = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (sent < due) {
      seq++;
      sent++;
      io.emit('change', { ...template, seq, at: new Date().toISOString() });
    }
    if (sent < count) await new Promise((r) => setTimeout(r, 1));
  }
  return { first, last: seq, wallMs: performance.now() - started };
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
    case 'broadcast':
      return broadcast(Number(msg.rate), Number(msg.count), (msg.template ?? {}) as Record<string, unknown>);
    case 'sockets':
      return io.engine.clientsCount;
    case 'close':
      setImmediate(() => void shutdown());
      return undefined;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 3_000);
  io.disconnectSockets(true);
  await new Promise<void>((resolve) => {
    void io.close(() => resolve());
  });
  await Promise.allSettled([pub?.quit(), sub?.quit()]);
  clearTimeout(timer);
  process.exit(0);
}

process.on('message', (msg: Command) => {
  handle(msg).then(
    (result) => send({ id: msg.id, ok: true, result }),
    (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => {});

try {
  await Promise.all([
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    }),
    // The adapter subscribes on its own; make sure both connections are up before reporting ready.
    ...[pub, sub].map((r) => new Promise<void>((resolve) => (!r || r.status === 'ready' ? resolve() : r.once('ready', () => resolve())))),
  ]);
  const { port } = server.address() as AddressInfo;
  send({ type: 'ready', url: `http://127.0.0.1:${port}` });
} catch (err) {
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
