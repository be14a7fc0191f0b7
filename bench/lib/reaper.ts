// A dead man's switch for what the benchmark starts outside node: a detached shell that waits for
// the bench process to end and then stops the given processes and removes the given dirs. It
// matters when the bench is killed outright, e.g. SIGKILLed by the tsx CLI when a Ctrl-C is not
// acknowledged within 30 ms; a normal run disarms it after its own cleanup.
import { spawn } from 'node:child_process';

export interface Reaper {
  /** Stops the watcher without touching anything (the owner cleaned up itself). */
  disarm(): void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function startReaper(opts: { pids: number[]; dirs?: string[]; signal?: 'INT' | 'TERM' }): Reaper {
  const pids = opts.pids.filter((p) => Number.isInteger(p) && p > 0);
  const dirs = (opts.dirs ?? []).map(quote).join(' ');
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    ...pids.map((p) => `kill -${opts.signal ?? 'INT'} ${p} 2>/dev/null`),
    // Give the servers up to 30 s to stop before their files go.
    `for i in $(seq 30); do alive=0; for p in ${pids.join(' ') || 0}; do kill -0 $p 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 1; done`,
    ...pids.map((p) => `kill -KILL ${p} 2>/dev/null`),
    dirs ? `rm -rf ${dirs}` : 'true',
  ].join('\n');
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return {
    disarm: () => {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM'); // its process group: the shell and its sleep
        } catch {
          child.kill('SIGTERM');
        }
      }
    },
  };
}
