// Prometheus metrics of one app node, with prom-client: HTTP requests by route template, the
// live-event and co-editing engines, the event bus and the database pool in the node's own
// Registry (several nodes in one process keep apart), and the runtime metrics (event loop, GC,
// heap, process) in one Registry per process, since the process is what they measure.
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsSink } from '../metrics-sink.js';
import { routeTemplate } from './route-template.js';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Commit to emit: a bus hop is milliseconds; a catch-up from the log waits for the next sweep (about a second). */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * prom-client's default gauges named like counters (`*_total`), which promtool refuses; the
 * same series by type (`nodejs_active_handles{type}` …) sum to them.
 */
const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let processRegistry: Registry | undefined;

/** Event loop lag, GC, heap, CPU, memory, file descriptors: collected once per process, whatever the number of nodes in it. */
function runtimeRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** What the node's gauges read at scrape time (LiveEvents, CollabHandle, RedisEventBus). */
export interface LiveSocketsSource {
  localSocketCount(): number;
}
export interface CollabSource {
  loadedDocuments(): number;
  connections(): number;
}
export interface BusConnectionSource {
  connectionState(): { publisher: boolean; subscriber: boolean };
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max: number;
}

export class NodeMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP responses by method, route template (`unmatched` for no route) and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request arriving to its response finishing, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly published = this.counter('live_events_published_total', 'Committed change events this node handed to the event bus.');
  private readonly publishFailures = this.counter(
    'live_events_publish_failed_total',
    'Committed change events the bus could not publish (Redis down); every node catches them up from the change log.',
  );
  private readonly delivered = this.counter(
    'live_events_delivered_total',
    "Change events this node's tenant streams emitted to their live sockets (one per event and tenant, whatever the number of sockets).",
  );
  private readonly messages = new Counter({
    name: 'live_event_messages_total',
    help: 'Change messages sent to sockets: `live` for each live socket an emitted event reached, `replay` for events replayed to a socket joining with since.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly liveMessages = this.messages.labels('live');
  private readonly replayMessages = this.messages.labels('replay');
  private readonly emitLag = new Histogram({
    name: 'live_event_emit_lag_seconds',
    help: "From a write's commit timestamp to this node emitting its event to the tenant's sockets (clocks of the writing node and this one).",
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });
  private readonly sweeps = new Counter({
    name: 'live_changelog_sweeps_total',
    help: "Sweeps comparing the change log's latest seqs with what this node delivered, by outcome (`ok`, `failed`: the log could not be read).",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly sweepsOk = this.sweeps.labels('ok');
  private readonly sweepsFailed = this.sweeps.labels('failed');
  private readonly catchUps = this.counter(
    'live_changelog_catchups_total',
    'Reads of missed events from the change log by a tenant stream (a gap in what the bus brought, a lost bus message, a bus outage).',
  );
  private readonly catchUpEvents = this.counter('live_changelog_catchup_events_total', 'Change events delivered from the change log rather than the bus.');
  private readonly followerPasses = new Counter({
    name: 'derived_event_passes_total',
    help: "Change-log followers' passes over a tenant, by follower and outcome (`ok`, `busy`: another node held the tenant, `failed`: rolled back and retried).",
    labelNames: ['follower', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly derivedEvents = new Counter({
    name: 'derived_events_total',
    help: 'Events the change-log followers appended after commit (scorecards.score_changed, dashboards.data_changed), by follower.',
    labelNames: ['follower'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Counters start at zero, so a rate() over them works from the first scrape.
    this.sweepsOk.inc(0);
    this.sweepsFailed.inc(0);
    this.liveMessages.inc(0);
    this.replayMessages.inc(0);
  }

  /** Counts every response under its route template and status, with its duration. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const start = process.hrtime.bigint();
      res.once('finish', () => {
        const labels = { method: req.method, route: routeTemplate(req), status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        this.httpDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      });
      next();
    };
  }

  /** The text exposition of the process's runtime metrics and this node's own. */
  async render(): Promise<string> {
    return `${await runtimeRegistry().metrics()}${await this.registry.metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Connections of the node's database pool (knex's tarn pool), read at scrape time. */
  watchPool(knex: Knex): void {
    const pool = () => (knex.client as { pool?: TarnPool }).pool;
    this.gauge('db_pool_used', 'Database connections in use.', () => pool()?.numUsed() ?? 0);
    this.gauge('db_pool_free', 'Idle database connections in the pool.', () => pool()?.numFree() ?? 0);
    this.gauge('db_pool_pending_acquires', 'Requests waiting for a database connection.', () => pool()?.numPendingAcquires() ?? 0);
    this.gauge('db_pool_max', 'Most database connections the pool opens (DB_POOL_MAX).', () => pool()?.max ?? 0);
  }

  watchLive(live: LiveSocketsSource): void {
    this.gauge('live_sockets', 'Live-event (Socket.IO) sockets connected to this node.', () => live.localSocketCount());
  }

  watchCollab(collab: CollabSource): void {
    this.gauge('collab_documents', 'Co-editing documents held in memory on this node.', () => collab.loadedDocuments());
    this.gauge('collab_connections', 'Co-editing (y-websocket) connections to this node.', () => collab.connections());
  }

  /** Cluster mode: whether the event bus's Redis connections are up (1) or not (0). */
  watchBus(bus: BusConnectionSource): void {
    new Gauge({
      name: 'event_bus_connected',
      help: "Whether the event bus's Redis connection is up (1) or down (0): `publisher` sends this node's events, `subscriber` receives every node's.",
      labelNames: ['client'] as const,
      registers: [this.registry],
      collect() {
        const state = bus.connectionState();
        this.set({ client: 'publisher' }, state.publisher ? 1 : 0);
        this.set({ client: 'subscriber' }, state.subscriber ? 1 : 0);
      },
    });
  }

  eventsPublished(count: number): void {
    this.published.inc(count);
  }

  publishFailed(count: number): void {
    this.publishFailures.inc(count);
  }

  eventDelivered(sockets: number, lagSeconds: number): void {
    this.delivered.inc();
    this.liveMessages.inc(sockets);
    this.emitLag.observe(Math.max(0, lagSeconds));
  }

  eventsReplayed(count: number): void {
    this.replayMessages.inc(count);
  }

  changeLogSwept(failed: boolean): void {
    (failed ? this.sweepsFailed : this.sweepsOk).inc();
  }

  caughtUp(events: number): void {
    this.catchUps.inc();
    this.catchUpEvents.inc(events);
  }

  followerPass(follower: string, outcome: 'ok' | 'busy' | 'failed', derived: number): void {
    this.followerPasses.inc({ follower, outcome });
    this.derivedEvents.inc({ follower }, derived);
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] });
  }

  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}
