// How much of the machine's CPU went to processes that are not ours during a run (other users'
// test suites, builds…): benchmark numbers on a shared box are only as good as this figure.
// Linux only (/proc); elsewhere it reports nothing.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

interface Snapshot {
  at: number;
  systemBusy: number;
  ours: number;
}

function systemBusyTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return user + nice + system + irq + softirq + steal;
}

/** CPU ticks of this process and all its descendants (including reaped children's, via cutime). */
function ourTicks(): number {
  return processTreeTicks(process.pid);
}

/** CPU ticks (1/100 s) of a process and its descendants, e.g. a PostgreSQL postmaster and its backends. */
export function processTreeTicks(rootPid: number): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
      procs.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) });
    } catch {
      // the process ended meanwhile
    }
  }
  let total = 0;
  for (const [pid, p] of procs) {
    for (let cur: number | undefined = pid; cur && cur > 1; cur = procs.get(cur)?.ppid) {
      if (cur === rootPid) {
        total += p.ticks;
        break;
      }
    }
  }
  return total;
}

export class CpuShare {
  private readonly start?: Snapshot;

  constructor() {
    this.start = CpuShare.snapshot();
  }

  private static snapshot(): Snapshot | undefined {
    try {
      return { at: Date.now(), systemBusy: systemBusyTicks(), ours: ourTicks() };
    } catch {
      return undefined;
    }
  }

  /**
   * Shares of the machine's total CPU capacity since construction: ours (this process tree:
   * bench, app nodes, PostgreSQL, Redis) and others'. Ticks are 1/100 s on Linux.
   */
  measure(): { ours: number; others: number } | undefined {
    const end = CpuShare.snapshot();
    if (!this.start || !end) return undefined;
    const capacity = ((end.at - this.start.at) / 1000) * 100 * os.cpus().length;
    const ours = Math.max(0, end.ours - this.start.ours);
    const others = Math.max(0, end.systemBusy - this.start.systemBusy - ours);
    return { ours: ours / capacity, others: others / capacity };
  }
}
