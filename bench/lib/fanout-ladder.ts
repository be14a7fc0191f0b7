// The fan-out suite's rate ladder, run the same way for the app and for the raw Socket.IO
// baseline: one step per rate, each checked (every delivery, in order, no duplicate, no disconnect,
// p99 under the bound) and logged with its CPU figures; it stops at the first step that fails, or
// where the writer fell short of the asked rate without getting further than the step before.
import type { WindowStats } from './fanout-clients.js';
import { formatCpu, type CpuUse } from './fanout-cpu.js';
import type { Log } from './types.js';

/** A step passes only if every socket got every event in order and p99 stayed under this. */
export const P99_BOUND_MS = 1_000;
/** The writer (or emitter) must reach this share of the asked rate, or the ladder stops there. */
export const RATE_SHARE = 0.9;

export interface Percentiles {
  p50: number;
  p99: number;
  samples: number;
}

export interface Step {
  rate: number;
  /** Events per second actually committed (app) or emitted (raw): events / wall time. */
  achieved: number;
  failedWrites: number;
  stats: WindowStats;
  cpu: CpuUse;
  /** App only: HTTP latency of the writes, and `at` → seen on the Redis bus (one sample per event). */
  writes?: Percentiles;
  atToBus?: Percentiles;
  /** App only: what the busy database connections were doing (average count per state/wait). */
  pgWaits?: string;
  pass: boolean;
  /** Why the ladder stopped here (a failure, or the writer could not go faster). */
  stop?: string;
  /** The writer (or emitter) fell short of the asked rate. */
  short?: string;
}

export interface Side {
  label: string;
  steps: Step[];
  connect: { rate: number; wallMs: number };
  /** Per idle socket, bytes (after GC), summed over both nodes and divided by the sockets. */
  rssPerSocket: number;
  /** The same for V8 heap used + external memory. */
  heapPerSocket: number;
  /** Cores used with every socket connected and no traffic (timers, pings, the change-log sweep). */
  idle: CpuUse;
  /**
   * The step at 50% of raw's max sustained rate when the ladder had none there (it never asked
   * that rate, or stopped below it): run on its own after the ladder.
   */
  half?: Step;
}

export interface StepResult {
  achieved: number;
  failedWrites: number;
  stats: WindowStats;
  cpu: CpuUse;
  firstError?: string;
  writes?: Percentiles;
  atToBus?: Percentiles;
  pgWaits?: string;
}

export async function ladder(side: string, rates: number[], drainMs: number, log: Log, step: (rate: number) => Promise<StepResult>): Promise<Step[]> {
  const steps: Step[] = [];
  for (const rate of rates) {
    const r = await step(rate);
    const s = r.stats;
    const problems: string[] = [];
    if (r.failedWrites) problems.push(`${r.failedWrites} writes failed (${r.firstError})`);
    if (s.missing)
      problems.push(
        `${s.missing.toLocaleString('en-US')} of ${s.expected.toLocaleString('en-US')} deliveries missing${s.drained ? '' : ` after a ${drainMs} ms drain`}`,
      );
    if (s.outOfOrder) problems.push(`${s.outOfOrder} out of order`);
    if (s.duplicates) problems.push(`${s.duplicates} duplicates`);
    if (s.disconnects) problems.push(`${s.disconnects} disconnects`);
    if (!(s.p99 < P99_BOUND_MS)) problems.push(`p99 ${s.p99} ms ≥ ${P99_BOUND_MS} ms`);
    const pass = problems.length === 0;
    const slow = r.achieved < RATE_SHARE * rate ? `reached ${r.achieved.toFixed(0)} of ${rate} events/s asked` : undefined;
    // Short of the asked rate, the ladder goes on only while the achieved rate still grows (a step
    // can fall short on a busy machine and the next one still get further).
    const previous = steps.at(-1)?.achieved ?? 0;
    const saturated = slow && r.achieved < 1.1 * previous ? `${slow}, no more than at ${steps.at(-1)!.rate}/s` : undefined;
    const stop = pass ? saturated : problems.join('; ');
    steps.push({
      rate,
      achieved: r.achieved,
      failedWrites: r.failedWrites,
      stats: s,
      cpu: r.cpu,
      writes: r.writes,
      atToBus: r.atToBus,
      pgWaits: r.pgWaits,
      pass,
      stop,
      short: slow,
    });
    const split =
      r.atToBus && s.fromOrigin ? ` (at→bus p50 ${r.atToBus.p50}/p99 ${r.atToBus.p99} ms, bus→socket p50 ${s.fromOrigin.p50}/p99 ${s.fromOrigin.p99} ms)` : '';
    const writes = r.writes ? `; PATCH p50 ${r.writes.p50.toFixed(1)}/p99 ${r.writes.p99.toFixed(1)} ms` : '';
    log(
      `${side} @ ${rate}/s: ${r.achieved.toFixed(0)} events/s × ${s.sockets} sockets, ` +
        `${s.delivered.toLocaleString('en-US')}/${s.expected.toLocaleString('en-US')} delivered, p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms${split}, ` +
        `drain ${s.drainMs.toFixed(0)} ms${writes}; CPU ${formatCpu(r.cpu)}${r.pgWaits ? `; PostgreSQL: ${r.pgWaits}` : ''}` +
        `${pass ? '' : ` — FAILED: ${problems.join('; ')}`}${slow ? ` — ${slow}` : ''}`,
    );
    if (stop) break;
  }
  return steps;
}

/** The passing step that reached the highest rate: the side's max sustained rate. */
export function maxSustained(steps: Step[]): Step | undefined {
  return steps.filter((s) => s.pass).reduce<Step | undefined>((m, s) => (!m || s.achieved > m.achieved ? s : m), undefined);
}

/** 50% of the max sustained rate, as a whole rate to ask (events/s); undefined when no step passed. */
export function halfRate(steps: Step[]): number | undefined {
  const best = maxSustained(steps);
  return best ? Math.max(1, Math.round(best.achieved / 2)) : undefined;
}

/** The step at `rate` of a side, from its ladder or run apart from it. */
export function stepAt(side: Side, rate: number): Step | undefined {
  return side.steps.find((s) => s.rate === rate) ?? (side.half?.rate === rate ? side.half : undefined);
}

/**
 * One step at `rate` on its own, checked like a ladder step, when the ladder ran none at that rate
 * (it stopped below it, or never asked it); undefined when there is nothing to run. After a failed
 * last step, `settle` first waits out its backlog, so the step is not measured in its wake.
 */
export async function stepApart(
  side: string,
  steps: Step[],
  rate: number | undefined,
  drainMs: number,
  log: Log,
  step: (rate: number) => Promise<StepResult>,
  settle: () => Promise<void>,
): Promise<Step | undefined> {
  if (rate === undefined || steps.some((s) => s.rate === rate)) return undefined;
  if (steps.at(-1)?.pass === false) await settle();
  log(`${side}: one more step at ${rate}/s, apart from the ladder (50% of raw's max sustained rate)`);
  return (await ladder(side, [rate], drainMs, log, step))[0];
}
