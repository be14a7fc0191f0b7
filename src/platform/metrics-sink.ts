// What the write path, the event bus and the live-event engine report for the node's metrics.
// Plain calls with counts, so the engines know no metrics library and pay one call per event
// (never one per socket); http/metrics.ts implements it with prom-client.

export interface MetricsSink {
  /** The write path handed `count` committed events to the bus. */
  eventsPublished(count: number): void;
  /** The bus could not publish `count` events (Redis down): live delivery catches them up from the change log. */
  publishFailed(count: number): void;
  /**
   * A tenant stream emitted one event to `sockets` live sockets, `lagSeconds` after the write
   * that committed it took its timestamp.
   */
  eventDelivered(sockets: number, lagSeconds: number): void;
  /** `count` events read from the change log and sent to one socket that joined with `since`. */
  eventsReplayed(count: number): void;
  /** One sweep compared the change log's latest seqs with what this node delivered (`failed`: it could not read them). */
  changeLogSwept(failed: boolean): void;
  /** A tenant stream read what it had missed from the change log (a gap, a lost bus message): `events` delivered from it. */
  caughtUp(events: number): void;
  /**
   * A change-log follower's pass over one tenant ended: `ok` (committed, `derived` events appended),
   * `busy` (another node's pass held the tenant) or `failed` (rolled back; retried at the next wake-up).
   */
  followerPass(follower: string, outcome: 'ok' | 'busy' | 'failed', derived: number): void;
}

/** Reports nowhere: engines built without a node (tests of one engine, the CLI). */
export const NO_METRICS: MetricsSink = {
  eventsPublished() {},
  publishFailed() {},
  eventDelivered() {},
  eventsReplayed() {},
  changeLogSwept() {},
  caughtUp() {},
  followerPass() {},
};
