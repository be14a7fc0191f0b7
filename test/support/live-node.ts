// An app node in a child process, for fault tests that kill it: `node --import tsx test/support/live-node.ts`.
// Env: DATABASE_URL, REDIS_URL, JWT_SECRET, LIVE_REDIS_PREFIX; prints one JSON line {url} when ready.
// With KILL_AFTER_COMMIT=1 the node SIGKILLs itself the moment a write has committed and is about
// to be published: the test-only hook wraps the bus here, production code has no such branch.
import { startServer } from '../../src/app.js';
import type { ChangeEvent, ChangeListener, EventBus } from '../../src/platform/bus.js';
import { loadConfig } from '../../src/platform/config.js';
import { createKnex } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import { RedisEventBus } from '../../src/platform/redis-bus.js';
import { serveUntilStopped } from './child-node.js';

class KillBeforePublish implements EventBus {
  constructor(private readonly inner: RedisEventBus) {}

  async publish(events: ChangeEvent[]): Promise<void> {
    // WriteRunner calls publish right after COMMIT: dying here is "committed, never announced".
    process.kill(process.pid, 'SIGKILL');
    await this.inner.publish(events);
  }

  subscribe(listener: ChangeListener): () => void {
    return this.inner.subscribe(listener);
  }

  isReachable(): Promise<boolean> {
    return this.inner.isReachable();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
const logger = createLogger(config.logLevel, { node: 'child' });
const knex = createKnex(config.databaseUrl!, { poolMax: 3 });
const prefix = process.env.LIVE_REDIS_PREFIX;
const redisBus = new RedisEventBus({ url: config.redisUrl!, logger, prefix });
await redisBus.start();
const bus = process.env.KILL_AFTER_COMMIT === '1' ? new KillBeforePublish(redisBus) : redisBus;
const app = await startServer({ config, knex, logger, bus, live: { redisPrefix: prefix, sweepIntervalMs: 300 } });
serveUntilStopped(app, knex);
