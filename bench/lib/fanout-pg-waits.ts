// What the database's busy connections are doing during a load step, sampled from pg_stat_activity:
// the average number of backends per state and wait event. For the fan-out suite's writes it shows
// where a write spends its time inside PostgreSQL — running, waiting for the tenant's seq lock
// (Lock:transactionid / Lock:tuple), flushing WAL at COMMIT (IO:WALSync…), or idle in the
// transaction waiting for the app node to send the next statement (Client:ClientRead).
import type { Knex } from 'knex';

const QUERY = `
  SELECT state, coalesce(wait_event_type || ':' || wait_event, 'running') AS what, count(*)::int AS n
    FROM pg_stat_activity
   WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
     AND state <> 'idle'
   GROUP BY 1, 2`;

export class PgWaitSampler {
  private readonly totals = new Map<string, number>();
  private samples = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly intervalMs = 25,
  ) {}

  start(): void {
    this.totals.clear();
    this.samples = 0;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const { rows } = await this.knex.raw<{ rows: { state: string; what: string; n: number }[] }>(QUERY);
          for (const r of rows) {
            const key = `${r.state === 'active' ? '' : `${r.state}/`}${r.what}`;
            this.totals.set(key, (this.totals.get(key) ?? 0) + r.n);
          }
          this.samples++;
        } catch {
          // a diagnostic only
        }
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  /** Average backends per "state/wait" over the samples, largest first. */
  async stop(): Promise<{ samples: number; busy: number; waits: [string, number][] }> {
    this.running = false;
    await this.loop;
    const waits = [...this.totals.entries()].map(([k, v]) => [k, v / Math.max(1, this.samples)] as [string, number]).sort((a, b) => b[1] - a[1]);
    return { samples: this.samples, busy: waits.reduce((s, [, v]) => s + v, 0), waits };
  }
}

export function formatWaits(w: { busy: number; waits: [string, number][] }): string {
  return (
    `${w.busy.toFixed(1)} busy backends on average: ` +
    w.waits
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')
  );
}
