// The Socket.IO Redis adapter's connections (cluster mode): rooms and server-side operations such
// as `io.in(room).disconnectSockets()` or `fetchSockets()` across nodes. Live events themselves do
// not go through it (each node delivers its own sockets from the change log and the event bus).
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { closeRedisClient, createRedisClient, pingRedis } from '../redis-bus.js';

// The adapter fires these without handling failure; during a Redis outage the rejection would be
// unhandled and stop the process. They are caught (and logged) here instead.
const FIRE_AND_FORGET = new Set([
  'publish',
  'spublish',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'unsubscribe',
  'punsubscribe',
  'sunsubscribe',
  'send_command',
  'call',
]);

function guarded(client: Redis, log: Logger): Redis {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !FIRE_AND_FORGET.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = Reflect.apply(value, target, args) as unknown;
        if (result instanceof Promise) result.catch((err: unknown) => log.debug('adapter redis command failed', { command: prop, err: String(err) }));
        return result;
      };
    },
  });
}

export class AdapterRedis {
  readonly pub: Redis;
  readonly sub: Redis;
  private readonly guardedPub: Redis;
  private readonly guardedSub: Redis;

  constructor(url: string, logger: Logger) {
    const log = logger.child({ component: 'socket.io-adapter' });
    this.pub = createRedisClient(url, logger, 'adapter-publisher');
    // Subscriptions wait for Redis rather than fail when a node starts during an outage.
    this.sub = createRedisClient(url, logger, 'adapter-subscriber', { maxRetriesPerRequest: null });
    this.guardedPub = guarded(this.pub, log);
    this.guardedSub = guarded(this.sub, log);
  }

  /** The adapter factory for `new Server(…, { adapter })`; channels are `<key>#/#…`. */
  adapter(key: string) {
    return createAdapter(this.guardedPub, this.guardedSub, { key });
  }

  async isReachable(timeoutMs = 1_000): Promise<boolean> {
    const [pub, sub] = await Promise.all([pingRedis(this.pub, timeoutMs), Promise.resolve(this.sub.status === 'ready')]);
    return pub && sub;
  }

  async close(): Promise<void> {
    await Promise.all([closeRedisClient(this.sub), closeRedisClient(this.pub)]);
  }
}
