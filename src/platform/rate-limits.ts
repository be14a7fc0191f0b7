// Request rate limits (rate-limiter-flexible): a named limiter counts points per key in a fixed
// window, in Redis when the node runs with Redis (one count for the whole cluster) and in memory
// otherwise. While Redis is unreachable each node counts in memory, so a limit neither fails open
// (unlimited) nor closed (every request refused) during an outage.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { TooManyRequestsError } from './errors.js';

export interface RateLimitRule {
  /** Points a key may spend per window. */
  points: number;
  windowSeconds: number;
  /** Once the points are spent, the key is refused for this long (default: the window). */
  blockSeconds?: number;
}

/** One limit, e.g. login failures per account and IP. */
export interface RateLimiter {
  /** Spends `points` of the key's budget; throws a TooManyRequestsError when it is spent. */
  consume(key: string, points?: number): Promise<void>;
  /** Throws a TooManyRequestsError when the key's budget is spent, without spending any. */
  check(key: string): Promise<void>;
  /** Forgets the key's count (a successful login clears its failures). */
  reset(key: string): Promise<void>;
}

export interface RateLimitStoreOptions {
  /** The node's Redis client; without one every count is this node's, in memory. */
  redis?: Redis;
  /** Key prefix in Redis, one per deployment. */
  prefix?: string;
}

export class RateLimits {
  constructor(private readonly opts: RateLimitStoreOptions = {}) {}

  /** A limiter named `name` (its keys in Redis are `<prefix>:rl:<name>:<key>`). */
  limiter(name: string, rule: RateLimitRule): RateLimiter {
    const options = {
      points: rule.points,
      duration: rule.windowSeconds,
      blockDuration: rule.blockSeconds ?? rule.windowSeconds,
      keyPrefix: `${this.opts.prefix ?? 'appinventory'}:rl:${name}`,
    };
    const memory = new RateLimiterMemory(options);
    const store: RateLimiterAbstract = this.opts.redis
      ? new RateLimiterRedis({ ...options, storeClient: this.opts.redis, rejectIfRedisNotReady: true, insuranceLimiter: memory })
      : memory;
    return new Limiter(store, rule.points);
  }
}

class Limiter implements RateLimiter {
  constructor(
    private readonly store: RateLimiterAbstract,
    private readonly points: number,
  ) {}

  async consume(key: string, points = 1): Promise<void> {
    try {
      await this.store.consume(key, points);
    } catch (err) {
      throw refusal(err);
    }
  }

  async check(key: string): Promise<void> {
    const res = await this.store.get(key);
    if (res && res.consumedPoints >= this.points) throw refusal(res);
  }

  async reset(key: string): Promise<void> {
    await this.store.delete(key);
  }
}

/** The library rejects with a RateLimiterRes when a budget is spent, with an Error when its store failed. */
function refusal(err: unknown): Error {
  if (!(err instanceof RateLimiterRes)) return err instanceof Error ? err : new Error(String(err));
  return new TooManyRequestsError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
}
