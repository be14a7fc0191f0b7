// Config for the knex CLI against a shared database (DATABASE_URL). Run it through tsx so the
// TypeScript migrations load: `npx tsx node_modules/knex/bin/cli.js migrate:status`; the build's
// copy takes the compiled ones (in the image too): `node node_modules/knex/bin/cli.js --knexfile
// dist/knexfile.js migrate:status`.
// The embedded database is not started by the knex CLI: use `npm run migrate` for it.
import type { Knex } from 'knex';
import { loadConfig } from './src/platform/config.js';
import { migrationConfig } from './src/platform/db.js';

const config = loadConfig();
if (!config.databaseUrl) {
  throw new Error(
    'knexfile.ts needs DATABASE_URL. For the embedded database run `npm run migrate` ' +
      '(or `npm run migrate -- --rollback-all`), which starts it under DATA_DIR first.',
  );
}

export default {
  client: 'pg',
  connection: config.databaseUrl,
  pool: { min: 0, max: config.dbPoolMax },
  // Same migration source as the app (names without extension, no .d.ts); `migrate:make` writes .ts.
  migrations: { ...migrationConfig(), extension: 'ts' },
} satisfies Knex.Config;
