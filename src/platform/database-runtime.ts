// "Get a database for this config": the embedded server under DATA_DIR, or the shared cluster's
// DATABASE_URL. Used by the server (src/main.ts) and the CLIs, so they start it the same way.
// Two roles: the app's pool runs as the runtime role, migrations run as the owner (the embedded
// server's own owner role, or MIGRATION_DATABASE_URL in cluster mode), which then grants the
// runtime role what the app needs and no more.
import type { Knex } from 'knex';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createKnex, migrateLatest } from './db.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { createLogger, type Logger } from './logger.js';

export interface DatabaseRuntime {
  /** The runtime role's pool. */
  knex: Knex;
  connectionString: string;
  mode: Config['mode'];
  /** Applies the pending migrations as the owner and grants the runtime role its privileges. */
  migrate(directory?: string): Promise<string[]>;
  /** Runs `task` on a connection of the owner's (migrations, rollbacks), closed afterwards. */
  asOwner<T>(task: (owner: Knex) => Promise<T>): Promise<T>;
  /** Destroys the pool, then stops the embedded server if there is one. Idempotent. */
  stop(): Promise<void>;
  /** Embedded mode: whether this node's own PostgreSQL is running (for /healthz). Cluster: always true. */
  alive: () => boolean;
}

export interface OpenDatabaseOptions {
  /** Embedded mode: the server died and could not be restarted; the node should exit non-zero. */
  onFatal?(err: Error): void;
  /** Waits between restart attempts of a dead embedded server (ms); its length is the number of attempts. */
  restartBackoffMs?: number[];
}

const RESTART_BACKOFF_MS = [500, 2_000, 5_000];

export async function openDatabase(config: Config, logger: Logger, opts: OpenDatabaseOptions = {}): Promise<DatabaseRuntime> {
  if (config.mode === 'cluster') {
    // A shared database's outages show on /readyz (and as 503s), never as a dead node.
    const knex = createKnex(config.databaseUrl!, { poolMax: config.dbPoolMax, statementTimeoutMs: config.statementTimeoutMs, logger });
    if (!config.migrationDatabaseUrl) {
      logger.warn(
        'MIGRATION_DATABASE_URL is not set: migrations run as the DATABASE_URL role, which then owns every table and can alter or drop audit_logs, change_events and their triggers; give MIGRATION_DATABASE_URL an owner role and DATABASE_URL a role of its own',
      );
    }
    const ownerUrl = config.migrationDatabaseUrl ?? config.databaseUrl!;
    let stopping: Promise<void> | undefined;
    return {
      knex,
      connectionString: config.databaseUrl!,
      mode: 'cluster',
      ...ownerSide(ownerUrl, async (owner) => {
        const [runtimeRole, ownerRole] = await Promise.all([currentUser(knex), currentUser(owner)]);
        if (runtimeRole !== ownerRole) return runtimeRole;
        logger.warn('DATABASE_URL and MIGRATION_DATABASE_URL are the same role: the runtime role owns the tables and no privileges are narrowed', {
          role: runtimeRole,
        });
        return undefined;
      }),
      stop: () => (stopping ??= knex.destroy()),
      alive: () => true,
    };
  }

  const pgLog = logger.child({ component: 'postgres' });
  logger.info('starting embedded PostgreSQL', { dataDir: config.dataDir });
  const start = (port?: number) =>
    startEmbeddedPostgres({
      dataDir: config.dataDir,
      port,
      log: (line) => pgLog.debug(line),
      notice: (message) => pgLog.warn(message),
    });
  let server = await start();
  logger.info('embedded PostgreSQL ready', { port: server.port, pid: server.pid });
  const knex = createKnex(server.connectionString, { poolMax: config.dbPoolMax, statementTimeoutMs: config.statementTimeoutMs, logger });
  let stopping: Promise<void> | undefined;
  let alive = true;

  // The node's own PostgreSQL is part of the node: if it dies, it is started again on the same
  // port (the pool reconnects by itself); if it cannot be, the node gives up rather than answer
  // 503 for ever.
  const watch = (current: typeof server) => {
    void current.exited.then(async () => {
      if (stopping) return;
      alive = false;
      logger.error('embedded PostgreSQL exited unexpectedly; restarting it', { pid: current.pid });
      let lastError: unknown;
      for (const wait of opts.restartBackoffMs ?? RESTART_BACKOFF_MS) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (stopping) return;
        try {
          server = await start(current.port);
          alive = true;
          logger.info('embedded PostgreSQL restarted', { port: server.port, pid: server.pid });
          watch(server);
          return;
        } catch (err) {
          lastError = err;
          logger.warn('embedded PostgreSQL did not restart', { err: String(err) });
        }
      }
      opts.onFatal?.(new Error(`embedded PostgreSQL could not be restarted: ${String(lastError)}`));
    });
  };
  watch(server);

  const stop = async () => {
    try {
      await knex.destroy();
    } finally {
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    }
  };
  return {
    knex,
    connectionString: server.connectionString,
    mode: 'embedded',
    ...ownerSide(server.migrationConnectionString, async () => server.runtimeRole),
    stop: () => (stopping ??= stop()),
    alive: () => alive,
  };
}

/** migrate() and asOwner() over the owner's URL; `runtimeRole` names the role to grant to, if any. */
function ownerSide(ownerUrl: string, runtimeRole: (owner: Knex) => Promise<string | undefined>): Pick<DatabaseRuntime, 'migrate' | 'asOwner'> {
  const asOwner = async <T>(task: (owner: Knex) => Promise<T>): Promise<T> => {
    const owner = createKnex(ownerUrl, { poolMax: 1 });
    try {
      return await task(owner);
    } finally {
      await owner.destroy();
    }
  };
  return {
    asOwner,
    migrate: (directory) => asOwner(async (owner) => migrateLatest(owner, directory, { runtimeRole: await runtimeRole(owner) })),
  };
}

async function currentUser(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: { user: string }[] }>('SELECT current_user AS "user"');
  return rows[0]!.user;
}

/**
 * Harness for one-shot CLIs (migrate, seed): config, logger, a database as `npm start` gets it, the
 * task, and a guaranteed stop so an embedded server never outlives the command. Exits the process.
 */
export async function runWithDatabase(task: (ctx: { config: Config; logger: Logger; database: DatabaseRuntime }) => Promise<void>): Promise<never> {
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
