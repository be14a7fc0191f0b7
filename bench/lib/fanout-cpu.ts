// CPU time of the fan-out suite's processes over one load step, from /proc (Linux; elsewhere every
// figure is undefined): the bench process itself (socket clients and writer), each node, and the
// PostgreSQL and Redis servers with their children. On a small machine the sockets' client side
// competes with the servers for the same cores, and these figures say who the bottleneck was.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  comm: string;
  ticks: number;
}

function readProcs(): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return procs;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
      procs.set(Number(entry), {
        ppid: Number(fields[1]),
        comm: stat.slice(open + 1, close),
        ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // ended meanwhile
    }
  }
  return procs;
}

/** Ticks of `root` and every live descendant (reaped children count through cutime/cstime). */
function treeTicks(procs: Map<number, ProcStat>, root: number): number {
  let total = 0;
  for (const [pid, p] of procs) {
    for (let cur: number | undefined = pid; cur && cur > 1; cur = procs.get(cur)?.ppid) {
      if (cur === root) {
        total += p.ticks;
        break;
      }
    }
  }
  return total;
}

/** The pid of a direct child of this process running `comm` (e.g. redis-server), if any. */
export function childPidByName(comm: string): number | undefined {
  for (const [pid, p] of readProcs()) if (p.ppid === process.pid && p.comm === comm) return pid;
  return undefined;
}

export type CpuTargets = Record<string, number | undefined>;
/** Cores used on average (1 = one core busy all the time) per target; `bench` is this process only. */
export type CpuUse = Record<string, number>;

export class CpuMeter {
  private start?: { at: number; bench: NodeJS.CpuUsage; ticks: Record<string, number> };

  constructor(private readonly targets: CpuTargets) {}

  begin(): void {
    const procs = readProcs();
    this.start = { at: performance.now(), bench: process.cpuUsage(), ticks: this.ticks(procs) };
  }

  end(): CpuUse {
    if (!this.start) throw new Error('CpuMeter.end() before begin()');
    const procs = readProcs();
    const seconds = (performance.now() - this.start.at) / 1000;
    const bench = process.cpuUsage(this.start.bench);
    const use: CpuUse = { bench: (bench.user + bench.system) / 1e6 / seconds };
    if (procs.size > 0) {
      const now = this.ticks(procs);
      for (const name of Object.keys(now)) use[name] = (now[name]! - (this.start.ticks[name] ?? 0)) / TICKS_PER_SECOND / seconds;
    }
    return use;
  }

  private ticks(procs: Map<number, ProcStat>): Record<string, number> {
    const out: Record<string, number> = {};
    if (procs.size === 0) return out;
    for (const [name, pid] of Object.entries(this.targets)) if (pid) out[name] = treeTicks(procs, pid);
    return out;
  }
}

/** "bench 0.93, node-a 0.41, … of 2 cores" */
export function formatCpu(use: CpuUse): string {
  const parts = Object.entries(use).map(([k, v]) => `${k} ${v.toFixed(2)}`);
  return `${parts.join(', ')} (cores, of ${os.cpus().length})`;
}
