// An app node of the fault suite in a child process (`node --import tsx test/support/fault-node.ts`):
// cluster mode (DATABASE_URL, REDIS_URL, JWT_SECRET, LIVE_REDIS_PREFIX), live events and co-editing
// with short test timings, so a SIGKILLed node's documents are taken over within seconds.
// Prints one JSON line {url} when ready; exits when its stdin closes.
import { randomUUID } from 'node:crypto';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createKnex } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import { FAST_COLLAB } from './collab-client.js';
import { serveUntilStopped } from './child-node.js';

const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
const logger = createLogger(config.logLevel, { node: 'fault-child' });
const knex = createKnex(config.databaseUrl!, { poolMax: 6 });
const app = await startServer({
  config: { ...config, nodeId: `fault-${randomUUID().slice(0, 6)}` },
  knex,
  logger,
  live: { redisPrefix: process.env.LIVE_REDIS_PREFIX, sweepIntervalMs: 300 },
  collab: { ...FAST_COLLAB },
});
serveUntilStopped(app, knex);
