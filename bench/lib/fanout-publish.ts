// The raw Redis PUBLISH figure of the fan-out suite: redis-benchmark against the suite's own Redis
// with a payload the size of a real change envelope; without redis-benchmark on PATH, a PUBLISH
// loop on one ioredis connection (and the row says so).
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Log } from './types.js';

export interface PublishResult {
  name: string;
  rate: number;
}

export async function redisPublish(redisUrl: string, bytes: number, requests: number, log: Log): Promise<PublishResult> {
  const { hostname, port } = new URL(redisUrl);
  const payload = 'x'.repeat(bytes);
  // redis-benchmark 7.0 has no built-in publish test (-t publish runs nothing): give it the command,
  // with the payload on stdin (-x) as its last argument.
  const out = await new Promise<string | undefined>((resolve) => {
    const child = spawn('redis-benchmark', ['-h', hostname, '-p', port, '-n', String(requests), '-c', '50', '--csv', '-x', 'PUBLISH', 'bench-fanout-publish'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
    child.on('error', () => resolve(undefined)); // not installed
    child.stdin.on('error', () => {});
    child.stdin.end(payload);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  // CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",…
  const m = out && /^"PUBLISH[^"]*","([\d.]+)","[\d.]+","[\d.]+","([\d.]+)"/m.exec(out);
  if (m) {
    const rate = Number(m[1]);
    log(`redis-benchmark -c 50 PUBLISH (${bytes} B payload, no subscriber): ${rate.toFixed(0)} requests/s, p50 ${m[2]} ms`);
    return { name: `redis-benchmark PUBLISH (${bytes} B, 50 conns)`, rate };
  }
  if (out) log(`redis-benchmark gave no PUBLISH figure (${JSON.stringify(out.slice(-200))}); measuring with ioredis instead`);
  // No redis-benchmark: PUBLISH from one ioredis connection, 50 in flight.
  const client = new Redis(redisUrl);
  try {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < requests) {
          next++;
          await client.publish('bench-fanout-publish', payload);
        }
      }),
    );
    const rate = requests / ((performance.now() - started) / 1000);
    log(`redis-benchmark not found; ioredis PUBLISH loop (1 connection, 50 in flight, ${bytes} B): ${rate.toFixed(0)} requests/s`);
    return { name: `ioredis PUBLISH loop (${bytes} B, 50 in flight; no redis-benchmark)`, rate };
  } finally {
    client.disconnect();
  }
}
