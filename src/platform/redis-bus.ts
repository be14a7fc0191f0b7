// Cluster mode's event bus: committed change events fan out to every node over Redis pub/sub.
// Delivery only, at most once: a message lost to a Redis restart or a dead writer is recovered by
// each node's live-event streams from the change log (src/platform/realtime/).
import { Redis, type RedisOptions } from 'ioredis';
import type { ChangeEvent, ChangeListener, EventBus } from './bus.js';
import type { Logger } from './logger.js';
import { NO_METRICS, type MetricsSink } from './metrics-sink.js';

export const DEFAULT_REDIS_PREFIX = 'appinventory';

/** An ioredis client that reconnects forever and logs an outage once, not on every retry. */
export function createRedisClient(url: string, logger: Logger, name: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    ...options,
  });
  const log = logger.child({ component: 'redis', client: name });
  let healthy = true;
  client.on('error', (err: Error) => {
    if (!healthy) return;
    healthy = false;
    log.warn('redis unavailable; retrying', { err: err.message });
  });
  client.on('ready', () => {
    if (healthy) return;
    healthy = true;
    log.info('redis connection restored');
  });
  return client;
}

/** QUIT when connected (pending replies arrive first), else just drop the connection. Never hangs. */
export async function closeRedisClient(client: Redis, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([client.quit().catch(() => {}), timeout]);
    clearTimeout(timer);
  }
  if ((client.status as string) !== 'end') client.disconnect();
}

/** PING within the timeout: /readyz's Redis check. */
export async function pingRedis(client: Redis, timeoutMs = 1_000): Promise<boolean> {
  if (client.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([
      client.ping().then(
        (r) => r === 'PONG',
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RedisEventBusOptions {
  url: string;
  logger: Logger;
  /** Key prefix shared by every node of one deployment; the channel is `<prefix>:events`. */
  prefix?: string;
  /** Where failed publishes are counted (the node's metrics). */
  metrics?: Pick<MetricsSink, 'publishFailed'>;
}

export class RedisEventBus implements EventBus {
  readonly channel: string;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly listeners = new Set<ChangeListener>();
  private readonly resumeListeners = new Set<() => void>();
  private readonly logger: Logger;
  private readonly metrics: Pick<MetricsSink, 'publishFailed'>;
  private subscribed: Promise<void> | undefined;
  private publishFailing = false;

  constructor({ url, logger, prefix = DEFAULT_REDIS_PREFIX, metrics = NO_METRICS }: RedisEventBusOptions) {
    this.channel = `${prefix}:events`;
    this.logger = logger.child({ component: 'redis-bus' });
    this.metrics = metrics;
    // No offline queue for publishing: during an outage a publish fails at once (the log has the
    // events) instead of piling up and flooding every node with stale messages when Redis returns.
    this.pub = createRedisClient(url, logger, 'bus-publisher', { enableOfflineQueue: false });
    // The SUBSCRIBE of a node started while Redis is down waits for Redis instead of failing.
    this.sub = createRedisClient(url, logger, 'bus-subscriber', { maxRetriesPerRequest: null });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.dispatch(message);
    });
    let connectedBefore = false;
    this.sub.on('ready', () => {
      // ioredis resubscribes by itself; what was published meanwhile is gone, so tell the readers.
      if (connectedBefore) for (const listener of this.resumeListeners) listener();
      connectedBefore = true;
    });
  }

  /** Subscribes to the channel; resolves false (and keeps retrying in the background) if Redis is not there in time. */
  start(timeoutMs = 5_000): Promise<boolean> {
    this.subscribed ??= this.sub.subscribe(this.channel).then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const done = this.subscribed.then(
      () => true,
      (err: unknown) => {
        this.logger.warn('subscribing to the event channel failed', { err: String(err) });
        return false;
      },
    );
    return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  }

  /** Never rejects (the EventBus contract): a failed publish is recovered from the change log. */
  async publish(events: ChangeEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      await this.pub.publish(this.channel, JSON.stringify(events));
      this.publishFailing = false;
    } catch (err) {
      this.metrics.publishFailed(events.length);
      // Once per outage, not once per write.
      if (!this.publishFailing) {
        this.logger.warn('event publish failed; live delivery catches up from the change log', {
          err: String(err),
          tenant_id: events[0].tenant_id,
          first_seq: events[0].seq,
        });
      }
      this.publishFailing = true;
    }
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after the subscriber reconnects: messages published during the outage were lost. */
  onResume(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  /** The subscriber is connected (ioredis re-subscribes on every reconnect). */
  isListening(): boolean {
    return this.sub.status === 'ready';
  }

  /** Whether each Redis connection is up now (the node's metrics). */
  connectionState(): { publisher: boolean; subscriber: boolean } {
    return { publisher: this.pub.status === 'ready', subscriber: this.sub.status === 'ready' };
  }

  isReachable(timeoutMs = 1_000): Promise<boolean> {
    return pingRedis(this.pub, timeoutMs);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.resumeListeners.clear();
    await Promise.all([closeRedisClient(this.sub), closeRedisClient(this.pub)]);
  }

  private dispatch(message: string): void {
    let events: ChangeEvent[];
    try {
      events = JSON.parse(message) as ChangeEvent[];
    } catch {
      this.logger.warn('ignoring a malformed event message');
      return;
    }
    if (!Array.isArray(events) || events.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch {
        // A failing listener must not stop delivery to the others; the log stays the truth.
      }
    }
  }
}
