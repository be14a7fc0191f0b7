// "Get a database for this config": the embedded server under DATA_DIR, or the shared cluster's
// DATABASE_URL. Used by the server (src/main.ts) and the CLIs, so they start it the same way.
import type { Knex } from 'knex';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createKnex } from './db.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { createLogger, type Logger } from './logger.js';

export interface DatabaseRuntime {
  knex: Knex;
  connectionString: string;
  mode: Config['mode'];
  /** Destroys the pool, then stops the embedded server if there is one. Idempotent. */
  stop(): Promise<void>;
}

export async function openDatabase(config: Config, logger: Logger): Promise<DatabaseRuntime> {
  if (config.mode === 'cluster') {
    const knex = createKnex(config.databaseUrl!, { poolMax: config.dbPoolMax, statementTimeoutMs: config.statementTimeoutMs, logger });
    let stopping: Promise<void> | undefined;
    return { knex, connectionString: config.databaseUrl!, mode: 'cluster', stop: () => (stopping ??= knex.destroy()) };
  }

  const pgLog = logger.child({ component: 'postgres' });
  logger.info('starting embedded PostgreSQL', { dataDir: config.dataDir });
  const server = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    log: (line) => pgLog.debug(line),
    notice: (message) => pgLog.warn(message),
  });
  logger.info('embedded PostgreSQL ready', { port: server.port, pid: server.pid });
  const knex = createKnex(server.connectionString, { poolMax: config.dbPoolMax, statementTimeoutMs: config.statementTimeoutMs, logger });
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    try {
      await knex.destroy();
    } finally {
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    }
  };
  return { knex, connectionString: server.connectionString, mode: 'embedded', stop: () => (stopping ??= stop()) };
}

/**
 * Harness for one-shot CLIs (migrate, seed): config, logger, a database as `npm start` gets it, the
 * task, and a guaranteed stop so an embedded server never outlives the command. Exits the process.
 */
export async function runWithDatabase(
  task: (ctx: { config: Config; logger: Logger; database: DatabaseRuntime }) => Promise<void>,
): Promise<never> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel, { node: config.nodeId });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(1);
    interrupted = true;
    logger.warn('interrupted; stopping once the current step finishes');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let database: DatabaseRuntime | undefined;
  let failed = false;
  try {
    database = await openDatabase(config, logger);
    if (!interrupted) await task({ config, logger, database });
  } catch (err) {
    logger.error('failed', { err });
    failed = true;
  } finally {
    await database?.stop();
  }
  process.exit(interrupted ? 130 : failed ? 1 : 0);
}
