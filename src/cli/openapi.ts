// `npm run openapi -- <file>` (stdout without one) writes the OpenAPI document the API serves, without a database or
// a listening server: the routes are built as a node builds them, and their document printed.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knex from 'knex';
import { createDomain } from '../composition.js';
import { apiDocument, createHttpApp } from '../http.js';
import { InProcessEventBus } from '../platform/bus.js';
import { HTTP_DEFAULTS } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { createOriginPolicy } from '../platform/origins.js';

/** The document a node serves at /api/v1/openapi.json, built without a database. */
export async function servedDocument(): Promise<ReturnType<typeof apiDocument>> {
  const logger = createLogger('error');
  // Never connected: knex opens connections on the first query, and building routes runs none.
  const db = knex({ client: 'pg', connection: {} });
  try {
    const domain = createDomain({ knex: db, bus: new InProcessEventBus(), logger, jwtSecret: 'x'.repeat(32) });
    const origins = createOriginPolicy({ configured: undefined, mode: 'cluster', port: () => undefined });
    createHttpApp({ domain, logger, config: { http: { ...HTTP_DEFAULTS }, mode: 'cluster' }, origins });
    return apiDocument();
  } finally {
    await db.destroy();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  const text = `${JSON.stringify(await servedDocument(), null, 2)}\n`;
  if (out) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, text);
  } else process.stdout.write(text);
}
