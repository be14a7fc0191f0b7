// Test factories: a fresh migrated database wired to the real write path, tenants, and acting
// users of any role. Rows that are not the subject of a test are inserted directly.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InProcessEventBus, type ChangeEvent } from '../../src/platform/bus.js';
import { userActor, type ServiceContext, type UserRole } from '../../src/platform/context.js';
import { createLogger } from '../../src/platform/logger.js';
import { WriteRunner } from '../../src/platform/write.js';
import { createEntityServices } from '../../src/modules/catalog/service.js';
import { createTestDatabase } from './postgres.js';

export const quietLogger = createLogger('error');

export async function createHarness() {
  const db = await createTestDatabase();
  const bus = new InProcessEventBus();
  const published: ChangeEvent[] = [];
  bus.subscribe((events) => published.push(...events));
  const writes = new WriteRunner(db.knex, bus, quietLogger);
  return {
    knex: db.knex,
    /** The owner's pool (the app's, `knex`, is the runtime role's). */
    owner: () => db.owner(),
    bus,
    published,
    writes,
    entities: createEntityServices(writes),
    async close() {
      await bus.close();
      await db.drop();
    },
  };
}

export async function createTenant(knex: Knex, slug = `t-${randomUUID().slice(0, 8)}`): Promise<string> {
  const [row] = await knex('tenants')
    .insert({ name: `Tenant ${slug}`, slug })
    .returning('id');
  return row.id as string;
}

export async function createUser(knex: Knex, tenantId: string, role: UserRole = 'admin') {
  const [row] = await knex('users')
    .insert({ tenant_id: tenantId, email: `${role}-${randomUUID().slice(0, 8)}@example.com`, display_name: role, role })
    .returning(['id', 'role', 'email']);
  return row as { id: string; role: UserRole; email: string };
}

/** A context acting as a new user of the given role in the tenant. */
export async function actingAs(knex: Knex, tenantId: string, role: UserRole = 'admin'): Promise<ServiceContext> {
  const user = await createUser(knex, tenantId, role);
  return { tenantId, actor: userActor(user), db: knex, requestId: `test-${randomUUID()}` };
}
