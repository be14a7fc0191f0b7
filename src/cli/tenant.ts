// `npm run tenant -- deactivate <slug>` (or `activate <slug>`): an operator turns a tenant off or on
// through the tenant service, so the change is audited and announced. In cluster mode it goes over
// Redis like any write, so every node at once drops the tenant's cached sessions and disconnects
// its sockets; a node that misses the message still finds the event in the change log.
import { createDomain } from '../composition.js';
import { InProcessEventBus, type EventBus } from '../platform/bus.js';
import { runWithDatabase } from '../platform/database-runtime.js';
import { RedisEventBus } from '../platform/redis-bus.js';
import { resolveJwtSecret } from '../modules/auth/tokens.js';

const [command, slug] = process.argv.slice(2);
if ((command !== 'activate' && command !== 'deactivate') || !slug) {
  process.stderr.write('usage: npm run tenant -- activate|deactivate <tenant-slug>\n');
  process.exit(2);
}

await runWithDatabase(async ({ config, logger, database }) => {
  let bus: EventBus = new InProcessEventBus();
  if (config.redisUrl) {
    const redis = new RedisEventBus({ url: config.redisUrl, logger });
    if (!(await redis.start())) logger.warn('Redis is not reachable: nodes will see the change from the change log');
    bus = redis;
  }
  try {
    const domain = createDomain({ knex: database.knex, bus, logger, jwtSecret: resolveJwtSecret(config) });
    const tenant = await domain.tenants.setActive(slug, command === 'activate');
    logger.info(`tenant ${command}d`, { tenant: tenant.slug, is_active: tenant.is_active });
  } finally {
    await bus.close();
  }
});
