// Rows for the results table from measurements, shared by the suites: latency percentiles and
// throughput beside a baseline measured in the same run, and memory figures.
import type { Measurement } from './measure.js';
import type { Row } from './types.js';

export interface CompareOptions {
  suite: string;
  /** What was measured, e.g. "GET /services/:id (detail view)". */
  label: string;
  baselineName: string;
  concurrency?: number;
  /** A latency target (ms) to check p99 against, e.g. 20 ms for a single entity read. */
  targetMs?: number;
  targetName?: string;
  /** Also emit a throughput row (`unit`/s). */
  throughputUnit?: string;
}

const cappedNote = (m: Measurement) => (m.cappedEarly ? `time cap: ${m.latencies.length} samples` : undefined);
const joinNotes = (...notes: (string | undefined)[]) => notes.filter(Boolean).join('; ') || undefined;

/** p50 and p99 (and optionally throughput) of ours beside the baseline's. */
export function comparisonRows(ours: Measurement, base: Measurement, o: CompareOptions): Row[] {
  const at = o.concurrency !== undefined ? ` (c=${o.concurrency})` : '';
  const rows: Row[] = (['p50', 'p99'] as const).map((p) => ({
    suite: o.suite,
    metric: `${o.label} ${p}${at}`,
    unit: 'ms',
    value: ours[p],
    baseline: { name: o.baselineName, value: base[p] },
    samples: ours.latencies.length,
    note: joinNotes(
      p === 'p99' && o.targetMs !== undefined ? `${o.targetName ?? 'target'} <${o.targetMs} ms ${ours.p99 < o.targetMs ? 'met' : 'MISSED'}` : undefined,
      cappedNote(ours),
    ),
  }));
  if (o.throughputUnit) {
    rows.push({
      suite: o.suite,
      metric: `${o.label} throughput${at}`,
      unit: o.throughputUnit,
      value: ours.throughput,
      baseline: { name: o.baselineName, value: base.throughput },
      samples: ours.latencies.length,
      note: cappedNote(ours),
    });
  }
  return rows;
}

/** A memory figure in MB (or KB per unit, e.g. per socket or per document, when `per` is given). */
export function memoryRow(suite: string, metric: string, bytes: number, per?: { count: number; unit: string }): Row {
  return per
    ? { suite, metric, unit: `KB/${per.unit}`, value: bytes / 1024 / per.count, samples: per.count }
    : { suite, metric, unit: 'MB', value: bytes / 1024 / 1024 };
}
