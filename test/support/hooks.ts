// Mocha root hooks (loaded through .mocharc.json "require"): one PostgreSQL and one Redis for the
// whole run, started before the first suite and stopped after the last, leaving no process or temp dir.
// The console is built first (cached), so every node a test starts serves it at `/`, as `npm start` does.
import { buildConsole } from '../../scripts/build-console.js';
import { startTestPostgres, stopTestPostgres } from './postgres.js';
import { getRedis, stopTestRedis } from './redis.js';

async function stopAll(): Promise<void> {
  await Promise.allSettled([stopTestPostgres(), stopTestRedis()]);
}

// An interrupted run skips afterAll: clean up here. Mocha's parent process forwards SIGINT and then
// SIGTERM at once (and a terminal's Ctrl-C adds its own), so later signals wait for the same
// cleanup, which gets 15 s before the exit is forced.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    setTimeout(() => process.exit(130), 15_000).unref();
    void stopAll().finally(() => process.exit(130));
  });
}

export const mochaHooks: Mocha.RootHookObject = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000); // a first embedded start runs initdb
    await Promise.all([startTestPostgres(), getRedis(), buildConsole()]);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopAll();
  },
};
