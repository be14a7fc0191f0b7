// `npm run seed`: migrate, then load the sample data if the database holds no tenant yet.
import { seedSampleDataIfEmpty } from '../../seeds/sample.js';
import { runWithDatabase } from '../platform/database-runtime.js';

await runWithDatabase(async ({ logger, database }) => {
  await database.migrate();
  const seed = await seedSampleDataIfEmpty(database.knex, logger);
  logger.info(seed.seeded ? 'sample data loaded' : 'sample data already present, nothing loaded', {
    tenant: seed.tenantSlug,
    email: seed.email,
  });
});
