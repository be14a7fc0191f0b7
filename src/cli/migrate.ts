// `npm run migrate` applies pending migrations; `npm run migrate -- --rollback-all` reverts them all.
// Works in both run modes (embedded database under DATA_DIR, or DATABASE_URL).
import { rollbackAll } from '../platform/db.js';
import { runWithDatabase } from '../platform/database-runtime.js';

const rollback = process.argv.includes('--rollback-all');

await runWithDatabase(async ({ logger, database }) => {
  if (rollback) {
    const reverted = await database.asOwner((owner) => rollbackAll(owner));
    logger.info(reverted.length ? 'migrations rolled back' : 'nothing to roll back', { migrations: reverted });
  } else {
    const applied = await database.migrate();
    logger.info(applied.length ? 'migrations applied' : 'already up to date', { migrations: applied });
  }
});
