// Closed-loop latency measurement: `concurrency` workers issue `count` operations in total (after
// a warm-up), each timed from call to completion; bounded by a time cap as well as the count.
import { performance } from 'node:perf_hooks';

export interface MeasureOptions {
  count: number;
  concurrency: number;
  warmup: number;
  /** Stop early (with fewer samples) when the measurement takes longer than this. */
  timeCapMs: number;
  /** Called between the warm-up and the timed part (e.g. to read CPU counters). */
  afterWarmup?: () => Promise<void>;
}

export interface Measurement {
  /** Latencies in ms, sorted ascending. */
  latencies: number[];
  p50: number;
  p99: number;
  mean: number;
  /** Completed operations per second of wall time. */
  throughput: number;
  wallMs: number;
  cappedEarly: boolean;
}

/** `op(k)` gets the operation's index k (0, 1, 2, …), to rotate ids or cursors. */
export async function measure(op: (k: number) => Promise<void>, opts: MeasureOptions): Promise<Measurement> {
  await runLoop(op, opts.warmup, opts.concurrency, opts.timeCapMs, []);
  await opts.afterWarmup?.();
  const latencies: number[] = [];
  const started = performance.now();
  const cappedEarly = await runLoop(op, opts.count, opts.concurrency, opts.timeCapMs, latencies);
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    latencies,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    mean: latencies.reduce((s, v) => s + v, 0) / Math.max(1, latencies.length),
    throughput: latencies.length / (wallMs / 1000),
    wallMs,
    cappedEarly,
  };
}

async function runLoop(op: (k: number) => Promise<void>, count: number, concurrency: number, timeCapMs: number, out: number[]): Promise<boolean> {
  const deadline = performance.now() + timeCapMs;
  let next = 0;
  let capped = false;
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) {
        capped = true;
        return;
      }
      const k = next++;
      const t0 = performance.now();
      await op(k);
      out.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return capped;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
