// Per-record grants through real PostgreSQL: admin-only management, upsert, 422 for unknown users
// and records, hard-delete revoke, the change events and audit rows, and recordExists.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../src/platform/context.js';
import { PermissionService, recordExists } from '../src/modules/permissions/service.js';
import { grantLevel } from '../src/modules/access/policy.js';
import { actingAs, createHarness, createTenant, createUser } from './support/factories.js';
import { rejectsWith, readOnlyKey } from './support/assertions.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe('permissions: per-record grants', () => {
  let h: Harness;
  let perms: PermissionService;
  let tenantId: string;
  let otherTenant: string;
  let admin: ServiceContext;
  let otherAdmin: ServiceContext;
  let serviceId: string;
  let foreignServiceId: string;

  before(async () => {
    h = await createHarness();
    perms = new PermissionService(h.writes);
    tenantId = await createTenant(h.knex);
    otherTenant = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenantId, 'admin');
    otherAdmin = await actingAs(h.knex, otherTenant, 'admin');
    serviceId = (await h.entities.services.create(admin, { name: 'checkout', type: 'api' })).id;
    foreignServiceId = (await h.entities.services.create(otherAdmin, { name: 'checkout', type: 'api' })).id;
  });

  after(async () => {
    await h.close();
  });

  const grantsOn = (id: string) => h.knex('entity_permissions').where({ entity_id: id }).orderBy('created_at');

  it('lets only admins manage grants', async () => {
    const viewer = await createUser(h.knex, tenantId, 'viewer');
    for (const role of ['editor', 'incident_commander', 'viewer'] as const) {
      const ctx = await actingAs(h.knex, tenantId, role);
      await rejectsWith(perms.grant(ctx, 'services', serviceId, { user_id: viewer.id, level: 'VIEW' }), 403);
      await rejectsWith(perms.list(ctx, 'services', serviceId), 403);
    }
    await rejectsWith(perms.grant(readOnlyKey(admin), 'services', serviceId, { user_id: viewer.id, level: 'VIEW' }), 403);
    assert.equal((await grantsOn(serviceId)).length, 0);
  });

  it('creates a grant, records it once, and upserts on the same user and record', async () => {
    const viewer = await createUser(h.knex, tenantId, 'viewer');
    const published = h.published.length;
    const created = await perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'COMMENT' });
    assert.equal(created.level, 'COMMENT');
    assert.equal(created.user_id, viewer.id);
    assert.equal(created.created_by, admin.actor.userId);
    assert.equal('tenant_id' in created, false);

    const upserted = await perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'EDIT' });
    assert.equal(upserted.id, created.id);
    assert.equal(upserted.level, 'EDIT');
    // The same level again changes nothing and announces nothing.
    await perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'EDIT' });

    const rows = await h.knex('entity_permissions').where({ entity_id: serviceId, user_id: viewer.id });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].level, 'EDIT');
    assert.equal(rows[0].tenant_id, tenantId);

    const events = h.published.slice(published);
    assert.deepEqual(
      events.map((e) => e.type),
      ['entity_permissions.created', 'entity_permissions.updated'],
    );
    assert.equal(events[0].entity_id, created.id);
    assert.deepEqual(events[0].data, created);
    assert.deepEqual(events[1].changes, { level: { old: 'COMMENT', new: 'EDIT' } });
    assert.equal(events[1].seq, events[0].seq + 1);

    const audit = await h.knex('audit_logs').where({ entity_type: 'entity_permissions', entity_id: created.id }).orderBy('timestamp');
    assert.deepEqual(
      audit.map((a) => a.action),
      ['create', 'update'],
    );
    assert.equal(audit[0].user_id, admin.actor.userId);
    assert.equal(audit[0].tenant_id, tenantId);
    const logged = await h.knex('change_events').where({ tenant_id: tenantId, entity_id: created.id }).orderBy('seq');
    assert.deepEqual(
      logged.map((e) => Number(e.seq)),
      events.map((e) => e.seq),
    );
  });

  it('keeps one everyone-grant per record beside personal grants, listed first', async () => {
    const svc = (await h.entities.services.create(admin, { name: 'payments', type: 'api' })).id;
    const user = await createUser(h.knex, tenantId, 'viewer');
    await perms.grant(admin, 'services', svc, { user_id: user.id, level: 'VIEW' });
    const everyone = await perms.grant(admin, 'services', svc, { user_id: null, level: 'VIEW' });
    const again = await perms.grant(admin, 'services', svc, { user_id: null, level: 'COMMENT' });
    assert.equal(again.id, everyone.id);
    const list = await perms.list(admin, 'services', svc);
    assert.deepEqual(
      list.map((g) => [g.user_id, g.level]),
      [
        [null, 'COMMENT'],
        [user.id, 'VIEW'],
      ],
    );
    // Everyone in the tenant now holds COMMENT on the record, without a personal grant.
    const stranger = await actingAs(h.knex, tenantId, 'viewer');
    assert.equal(await grantLevel(stranger, 'services', svc), 'COMMENT');
  });

  it('refuses unknown users with 422 and unknown records with 404, and writes nothing', async () => {
    const before = h.published.length;
    const viewer = await createUser(h.knex, tenantId, 'viewer');
    const foreignUser = await createUser(h.knex, otherTenant, 'viewer');
    await rejectsWith(perms.grant(admin, 'services', serviceId, { user_id: randomUUID(), level: 'VIEW' }), 422, 'user_id');
    await rejectsWith(perms.grant(admin, 'services', serviceId, { user_id: foreignUser.id, level: 'VIEW' }), 422, 'user_id');
    await rejectsWith(perms.grant(admin, 'services', randomUUID(), { user_id: viewer.id, level: 'VIEW' }), 404);
    await rejectsWith(perms.grant(admin, 'services', foreignServiceId, { user_id: viewer.id, level: 'VIEW' }), 404);
    await rejectsWith(perms.grant(admin, 'components', serviceId, { user_id: viewer.id, level: 'VIEW' }), 404);
    await rejectsWith(perms.grant(admin, 'widgets', serviceId, { user_id: viewer.id, level: 'VIEW' }), 422, 'entity_type');
    await rejectsWith(perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'OWNER' }), 422, 'level');
    await rejectsWith(perms.grant(admin, 'services', serviceId, { level: 'VIEW' }), 422, 'user_id');
    await rejectsWith(perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'VIEW', extra: 1 }), 422);

    // A deleted user or a soft-deleted record is not live either.
    await h.knex('users').where({ id: viewer.id }).update({ deleted_at: new Date() });
    await rejectsWith(perms.grant(admin, 'services', serviceId, { user_id: viewer.id, level: 'VIEW' }), 422, 'user_id');
    const gone = (await h.entities.services.create(admin, { name: 'legacy', type: 'api' })).id;
    await h.entities.services.remove(admin, gone);
    const after = h.published.length;
    await rejectsWith(perms.grant(admin, 'services', gone, { user_id: null, level: 'VIEW' }), 404);
    assert.equal(h.published.length, after);
    assert.equal((await h.knex('entity_permissions').where({ user_id: viewer.id })).length, 0);
    assert.equal(h.published.slice(before).filter((e) => e.entity_type === 'entity_permissions').length, 0);
  });

  it('lists grants of a known record only', async () => {
    await rejectsWith(perms.list(admin, 'services', randomUUID()), 404);
    await rejectsWith(perms.list(admin, 'services', foreignServiceId), 404);
    await rejectsWith(perms.list(otherAdmin, 'services', serviceId), 404);
  });

  it('revokes by deleting the grant row and announces it', async () => {
    const user = await createUser(h.knex, tenantId, 'viewer');
    const grant = await perms.grant(admin, 'services', serviceId, { user_id: user.id, level: 'COMMENT' });
    await rejectsWith(perms.revoke(await actingAs(h.knex, tenantId, 'editor'), 'services', serviceId, grant.id), 403);
    await rejectsWith(perms.revoke(otherAdmin, 'services', serviceId, grant.id), 404);
    await rejectsWith(perms.revoke(admin, 'teams', serviceId, grant.id), 404);

    const before = h.published.length;
    await perms.revoke(admin, 'services', serviceId, grant.id);
    assert.equal(await h.knex('entity_permissions').where({ id: grant.id }).first(), undefined);
    const [event] = h.published.slice(before);
    assert.equal(event.type, 'entity_permissions.deleted');
    assert.equal(event.entity_id, grant.id);
    assert.deepEqual(event.data, grant);
    const audit = await h.knex('audit_logs').where({ entity_id: grant.id, action: 'delete' });
    assert.equal(audit.length, 1);
    await rejectsWith(perms.revoke(admin, 'services', serviceId, grant.id), 404);
    await rejectsWith(perms.revoke(admin, 'services', serviceId, 'not-a-uuid'), 404);
  });

  it('grants on incidents and dashboards too', async () => {
    const [incident] = await h.knex('incidents').insert({ tenant_id: tenantId, title: 'Checkout down', severity: 'major' }).returning('id');
    const [dashboard] = await h.knex('dashboards').insert({ tenant_id: tenantId, name: 'Ops' }).returning('id');
    const g1 = await perms.grant(admin, 'incidents', incident.id, { user_id: null, level: 'COMMENT' });
    const g2 = await perms.grant(admin, 'dashboards', dashboard.id, { user_id: null, level: 'EDIT' });
    assert.equal(g1.entity_type, 'incidents');
    assert.equal(g2.entity_type, 'dashboards');
    await rejectsWith(perms.grant(otherAdmin, 'incidents', incident.id, { user_id: null, level: 'VIEW' }), 404);
  });

  describe('recordExists', () => {
    it('is true only for live records of the same tenant, for every type', async () => {
      const team = await h.entities.teams.create(admin, { name: 'Core' });
      const person = await h.entities.people.create(admin, { name: 'Ada', email: 'ada@example.com' });
      assert.equal(await recordExists(admin, 'teams', team.id), true);
      assert.equal(await recordExists(admin, 'people', person.id), true);
      assert.equal(await recordExists(admin, 'services', serviceId), true);
      assert.equal(await recordExists(admin, 'services', foreignServiceId), false);
      assert.equal(await recordExists(otherAdmin, 'services', foreignServiceId), true);
      assert.equal(await recordExists(admin, 'teams', serviceId), false); // right id, wrong type
      assert.equal(await recordExists(admin, 'services', 'not-a-uuid'), false);
      assert.equal(await recordExists(admin, 'unknown', serviceId), false);

      const [live, deleted] = await h
        .knex('incidents')
        .insert([
          { tenant_id: tenantId, title: 'a', severity: 'minor' },
          { tenant_id: tenantId, title: 'b', severity: 'minor', deleted_at: new Date() },
        ])
        .returning('id');
      assert.equal(await recordExists(admin, 'incidents', live.id), true);
      assert.equal(await recordExists(admin, 'incidents', deleted.id), false);
      assert.equal(await recordExists(otherAdmin, 'incidents', live.id), false);

      const [board] = await h.knex('dashboards').insert({ tenant_id: tenantId, name: 'Board', deleted_at: new Date() }).returning('id');
      assert.equal(await recordExists(admin, 'dashboards', board.id), false);
    });
  });
});
