// A co-editing node in a child process, for the crash test that SIGKILLs it:
// `node --import tsx test/support/collab-node.ts`. Env: DATABASE_URL, JWT_SECRET (and REDIS_URL for
// cluster mode); prints one JSON line {url} when ready; exits when its stdin closes.
import { randomUUID } from 'node:crypto';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createKnex } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import { serveUntilStopped } from './child-node.js';

const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
const logger = createLogger(config.logLevel, { node: 'collab-child' });
const knex = createKnex(config.databaseUrl!, { poolMax: 3 });
const app = await startServer({
  config: { ...config, nodeId: `child-${randomUUID().slice(0, 6)}` },
  knex,
  logger,
  // Projection is not what the crash test is about: keep it out of the way.
  collab: { projectionDelayMs: 60_000, projectionMaxDelayMs: 60_000 },
});
serveUntilStopped(app, knex);
