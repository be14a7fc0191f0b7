// The contract between the runner (bench/run.ts) and the suites (bench/<name>.ts): a suite gets
// the mode, a log and the shared infrastructure, and returns rows for the one results table.
import type { BenchInfra } from './infra.js';

export interface Baseline {
  /** What the baseline is, e.g. "raw pg (1 SQL)", "raw Socket.IO broadcast", "stock y-websocket". */
  name: string;
  value: number;
}

export interface Row {
  suite: string;
  /** What was measured, e.g. "GET /services/:id p50 (c=1)", "RSS per socket". */
  metric: string;
  /** ms, req/s, events/s, MB, KB/socket, KB/document, … */
  unit: string;
  value: number;
  baseline?: Baseline;
  /** value / baseline.value, filled in by the runner when a baseline is given. */
  ratio?: number;
  /** How many samples the value comes from (fewer than asked when a time cap was hit). */
  samples?: number;
  note?: string;
}

export type Log = (message: string) => void;

export interface SuiteOptions {
  /** CI mode: smaller data, fewer requests; the whole run stays well under the runner's quick watchdog. */
  quick: boolean;
  log: Log;
  /** Lazily started PostgreSQL, Redis and app nodes; the runner stops all of it at the end. */
  infra: BenchInfra;
  /** Extra `--name=value` flags from the command line (e.g. profile=detail). */
  flags: Record<string, string>;
}

export interface Suite {
  /** Same as the module's file name (bench/<name>.ts); `--only=<name>` selects it. */
  name: string;
  description: string;
  run(opts: SuiteOptions): Promise<Row[]>;
}
