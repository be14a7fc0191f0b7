// The catalog's write path through the generic EntityService, against a real PostgreSQL.
import assert from 'node:assert/strict';
import { Service, Team } from '../src/modules/catalog/model.js';
import { CATALOG_TYPES } from '../src/modules/catalog/kinds.js';
import { readImpact } from '../src/modules/catalog/impact.js';
import { IncidentService } from '../src/modules/incidents/service.js';
import type { ServiceContext } from '../src/platform/context.js';
import { UnscopedQueryError, scoped } from '../src/platform/tenancy.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';
import { rejectsWith } from './support/assertions.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

const minimal: Record<string, Record<string, unknown>> = {
  teams: { name: 'Payments', description: 'Money' },
  people: { name: 'Ada', email: 'Ada@Example.com' },
  products: { name: 'Checkout', tags: ['core'] },
  services: { name: 'payments-api', type: 'api', attributes: { endpoint: 'https://pay', protocol: 'REST' } },
  components: { name: 'pay-sdk', type: 'sdk', attributes: { vendor: 'us' } },
  resources: { name: 'pay-db-vm', type: 'virtual_machine', environment: 'staging' },
  repositories: { name: 'payments', provider: 'github', url: 'https://github.com/acme/payments' },
};

describe('catalog write path (EntityService)', () => {
  let h: Harness;
  let tenantA: string;
  let tenantB: string;
  let admin: ServiceContext;
  let viewer: ServiceContext;
  let otherAdmin: ServiceContext;

  before(async () => {
    h = await createHarness();
    tenantA = await createTenant(h.knex);
    tenantB = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenantA, 'admin');
    viewer = await actingAs(h.knex, tenantA, 'viewer');
    otherAdmin = await actingAs(h.knex, tenantB, 'admin');
  });
  after(async () => h?.close());

  for (const type of CATALOG_TYPES) {
    it(`${type}: create, read, update, soft delete and restore, each audited and announced`, async () => {
      const svc = h.entities[type];
      const before = h.published.length;
      const created = await svc.create(admin, minimal[type]);
      assert.equal(created.row_version, 1);
      assert.equal(created.tenant_id, undefined, 'tenant_id is not part of the read shape');
      if (type === 'people') assert.equal(created.email, 'ada@example.com');

      const updated = await svc.update(admin, created.id, { name: `${String(minimal[type].name)}-2` }, { expectedVersion: 1 });
      assert.equal(updated.row_version, 2);
      assert.equal(updated.name, `${String(minimal[type].name)}-2`);

      await svc.remove(admin, created.id);
      await rejectsWith(svc.get(admin, created.id), 404);
      const listed = await svc.list(admin, { limit: 50, sort: 'name', filters: {} });
      assert.ok(!listed.data.some((r) => r.id === created.id), 'soft-deleted rows are not listed');

      const restored = await svc.restore(admin, created.id);
      assert.equal(restored.deleted_at, null);
      assert.equal(restored.row_version, 4);

      const events = h.published.slice(before).filter((e) => e.entity_id === created.id);
      assert.deepEqual(
        events.map((e) => e.type),
        ['created', 'updated', 'deleted', 'restored'].map((a) => `${type}.${a}`),
      );
      assert.deepEqual(events[1].changes!.name, { old: minimal[type].name, new: `${String(minimal[type].name)}-2` });
      const audit = await h.knex('audit_logs').where({ entity_id: created.id }).orderBy('timestamp');
      assert.deepEqual(audit.map((a) => a.action).sort(), ['create', 'delete', 'restore', 'update']);
      assert.ok(audit.every((a) => a.user_id === admin.actor.userId && a.metadata.request_id === admin.requestId));
    });
  }

  it('writes relation lists and assignments, and refuses ids of another tenant with 422', async () => {
    const { services, components, people, resources } = h.entities;
    const comp = await components.create(admin, { name: 'ledger-lib', type: 'library' });
    const res = await resources.create(admin, { name: 'ledger-k8s', type: 'kubernetes' });
    const dep = await services.create(admin, { name: 'fx-api', type: 'api' });
    const lead = await people.create(admin, { name: 'Grace', email: 'grace@example.com' });
    const svc = await services.create(admin, {
      name: 'ledger',
      type: 'database',
      component_ids: [comp.id],
      resource_ids: [res.id],
      depends_on_service_ids: [dep.id],
      assignments: [{ person_id: lead.id, role: 'Lead' }],
    });
    assert.deepEqual(svc.component_ids, [comp.id]);
    assert.deepEqual(svc.depends_on_service_ids, [dep.id]);
    assert.deepEqual(svc.assignments, [{ person_id: lead.id, role: 'Lead' }]);

    const detail = await services.getDetail(admin, svc.id);
    assert.equal((detail.components as { name: string }[])[0].name, 'ledger-lib');
    const depDetail = await services.getDetail(admin, dep.id);
    assert.deepEqual(
      (depDetail.dependents as { id: string }[]).map((d) => d.id),
      [svc.id],
    );

    const foreign = await h.entities.components.create(otherAdmin, { name: 'foreign', type: 'library' });
    const eventsBefore = h.published.length;
    await rejectsWith(services.update(admin, svc.id, { component_ids: [comp.id, foreign.id] }), 422, 'component_ids.1');
    await rejectsWith(services.update(admin, svc.id, { depends_on_service_ids: [svc.id] }), 422, 'depends_on_service_ids');
    await rejectsWith(services.create(admin, { name: 'x', type: 'api', team_id: '00000000-0000-4000-8000-000000000000' }), 422, 'team_id');
    assert.equal(h.published.length, eventsBefore, 'refused writes announce nothing');
    assert.deepEqual((await services.get(admin, svc.id)).component_ids, [comp.id]);

    const upd = await services.update(admin, svc.id, { component_ids: [] });
    assert.deepEqual(upd.component_ids, []);
    const last = h.published[h.published.length - 1];
    assert.deepEqual(last.changes!.component_ids, { old: [comp.id], new: [] });
  });

  it('keeps names unique among live rows of a tenant, reusable after delete; restoring into a taken name is 409', async () => {
    const { teams } = h.entities;
    const first = await teams.create(admin, { name: 'Platform' });
    await rejectsWith(teams.create(admin, { name: 'Platform' }), 409);
    await teams.create(otherAdmin, { name: 'Platform' }); // another tenant: fine
    await teams.remove(admin, first.id);
    const second = await teams.create(admin, { name: 'Platform' });
    assert.notEqual(second.id, first.id);
    await rejectsWith(teams.restore(admin, first.id), 409);
  });

  it('isolates tenants: B sees nothing of A, even by id, and cannot write it', async () => {
    const a = await h.entities.products.create(admin, { name: 'Secret product' });
    await rejectsWith(h.entities.products.get(otherAdmin, a.id), 404);
    await rejectsWith(h.entities.products.update(otherAdmin, a.id, { name: 'pwned' }), 404);
    await rejectsWith(h.entities.products.remove(otherAdmin, a.id), 404);
    const listB = await h.entities.products.list(otherAdmin, { limit: 200, sort: 'name', filters: {} });
    assert.ok(listB.data.every((p) => p.name !== 'Secret product'));
    assert.equal((await h.entities.products.get(admin, a.id)).name, 'Secret product');
  });

  it('refuses a query that names no tenant', async () => {
    await assert.rejects(async () => Service.query(h.knex).select('id'), UnscopedQueryError);
    await assert.rejects(async () => Team.query(h.knex).insert({ name: 'x' }), UnscopedQueryError);
    const mineB = await h.entities.services.create(otherAdmin, { name: 'scoped-b', type: 'api' });
    const mineA = await h.entities.services.create(admin, { name: 'scoped-a', type: 'api' });
    const goneB = await h.entities.services.create(otherAdmin, { name: 'scoped-b-deleted', type: 'api' });
    await h.entities.services.remove(otherAdmin, goneB.id);
    const rows = await scoped(Service, { tenantId: tenantB, db: h.knex }).select('id');
    // Exactly tenant B's live services: B's new one, never A's, never a soft-deleted one.
    const expected = await h.knex('services').where({ tenant_id: tenantB }).whereNull('deleted_at').select('id');
    assert.deepEqual(rows.map((r) => r.id).sort(), expected.map((r) => r.id as string).sort());
    assert.ok(
      rows.some((r) => r.id === mineB.id),
      "tenant B's service is found",
    );
    assert.ok(!rows.some((r) => r.id === mineA.id), "tenant A's service is not");
    assert.ok(!rows.some((r) => r.id === goneB.id), 'a soft-deleted service is not');
  });

  it('validates attributes against the type: unknown keys and a type change that orphans keys are 422', async () => {
    const { services } = h.entities;
    await rejectsWith(services.create(admin, { name: 'bad', type: 'cache', attributes: { endpoint: 'x' } }), 422, 'attributes.endpoint');
    await rejectsWith(services.create(admin, { name: 'bad2', type: 'api', attributes: { endpoint: { nested: 1 } } }), 422, 'attributes.endpoint');
    await rejectsWith(services.create(admin, { name: 'bad3', type: 'api', tenant_id: tenantB }), 422, 'tenant_id');
    const api = await services.create(admin, { name: 'typed', type: 'api', attributes: { rate_limit: 100 } });
    await rejectsWith(services.update(admin, api.id, { type: 'cache' }), 422, 'attributes.rate_limit');
    const cache = await services.update(admin, api.id, { type: 'cache', attributes: { ttl: 60 } });
    assert.deepEqual(cache.attributes, { ttl: 60 });
  });

  it('enforces roles and optimistic concurrency', async () => {
    const { services } = h.entities;
    await rejectsWith(services.create(viewer, { name: 'nope', type: 'api' }), 403);
    const s = await services.create(admin, { name: 'versioned', type: 'api' });
    await services.update(admin, s.id, { description: 'one' }, { expectedVersion: 1 });
    await rejectsWith(services.update(admin, s.id, { description: 'two' }, { expectedVersion: 1 }), 412);
    assert.equal((await services.get(admin, s.id)).description, 'one');
    const same = await services.update(admin, s.id, { description: 'one' });
    assert.equal(same.row_version, 2, 'a PATCH that changes nothing bumps nothing');
    const readOnlyKey = { ...admin, actor: { ...admin.actor, type: 'api_key' as const, canWrite: false } };
    await rejectsWith(services.update(readOnlyKey, s.id, { description: 'three' }), 403);
  });

  it('audit_logs refuses UPDATE and DELETE at the database', async () => {
    // The trigger holds even for the tables' owner; the runtime role lacks the privilege itself.
    await assert.rejects(h.owner()('audit_logs').update({ action: 'x' }), /append-only/);
    await assert.rejects(h.owner()('audit_logs').delete(), /append-only/);
    await assert.rejects(h.knex('audit_logs').update({ action: 'x' }), /permission denied/);
    await assert.rejects(h.knex('audit_logs').delete(), /permission denied/);
  });

  it('gives each tenant a strictly increasing, gapless seq in commit order under 20 concurrent writers', async () => {
    const tenant = await createTenant(h.knex);
    const ctx = await actingAs(h.knex, tenant, 'editor');
    const other = await actingAs(h.knex, await createTenant(h.knex), 'editor');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        Promise.all([h.entities.teams.create(ctx, { name: `team-${i}` }), h.entities.teams.create(other, { name: `team-${i}` })]),
      ),
    );
    const rows = await h.knex('change_events').where({ tenant_id: tenant }).orderBy('seq');
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // Commit order: a later seq never belongs to a row created earlier in the transaction clock.
    const published = h.published
      .filter((e) => e.tenant_id === tenant)
      .map((e) => e.seq)
      .sort((a, b) => a - b);
    assert.deepEqual(
      published,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('numbers events in commit order, not start order', async () => {
    const tenant = await createTenant(h.knex);
    const ctx = await actingAs(h.knex, tenant, 'editor');
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));
    // The first write starts, writes its row, then waits until the second has committed.
    const first = h.writes.run(ctx, async (w) => {
      const team = await h.entities.teams.create(w, { name: 'started-first' });
      await firstMayFinish;
      return team;
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = await h.entities.teams.create(ctx, { name: 'committed-first' });
    releaseFirst();
    const firstTeam = await first;
    const seqOf = async (id: string) => Number((await h.knex('change_events').where({ tenant_id: tenant, entity_id: id }).first()).seq);
    assert.equal(await seqOf(second.id), 1);
    assert.equal(await seqOf(firstTeam.id), 2);
  });

  it('impact skips soft-deleted services in the middle of a chain', async () => {
    const { services } = h.entities;
    const s1 = await services.create(admin, { name: 'chain-1', type: 'api' });
    const s2 = await services.create(admin, { name: 'chain-2', type: 'api', depends_on_service_ids: [s1.id] });
    await services.create(admin, { name: 'chain-3', type: 'api', depends_on_service_ids: [s2.id] });
    const names = async () => (await readImpact(admin, 'services', s1.id, 1000)).dependents.map((d) => d.name);
    assert.deepEqual(await names(), ['chain-2', 'chain-3']);
    await services.remove(admin, s2.id);
    assert.deepEqual(await names(), [], 'chain-3 no longer depends on chain-1 through a deleted service');
  });

  it('a restored entity takes the operational status of the incidents active now', async () => {
    const incidents = new IncidentService(h.writes, h.entities);
    const svc = await h.entities.services.create(admin, { name: 'restored-later', type: 'api' });
    const inc = await incidents.create(admin, {
      title: 'Down',
      severity: 'major',
      impact_type: 'outage',
      affected: [{ entity_type: 'services', entity_id: svc.id }],
    });
    assert.equal((await h.entities.services.get(admin, svc.id)).operational_status, 'outage');
    await h.entities.services.remove(admin, svc.id);
    await incidents.addUpdate(admin, inc.id, { status: 'resolved', message: 'Fixed' });
    const restored = await h.entities.services.restore(admin, svc.id);
    assert.equal(restored.operational_status, 'operational');
    assert.equal((await h.entities.services.get(admin, svc.id)).operational_status, 'operational');
  });

  it('a rolled-back write leaves no row, no audit entry, no event, and the bus hears nothing', async () => {
    const tenant = await createTenant(h.knex);
    const ctx = await actingAs(h.knex, tenant, 'editor');
    const heard = h.published.length;
    await assert.rejects(
      h.writes.run(ctx, async (w) => {
        await h.entities.teams.create(w, { name: 'doomed' });
        throw new Error('boom after the write');
      }),
      /boom/,
    );
    assert.equal((await h.knex('teams').where({ tenant_id: tenant })).length, 0);
    assert.equal((await h.knex('audit_logs').where({ tenant_id: tenant })).length, 0);
    assert.equal((await h.knex('change_events').where({ tenant_id: tenant })).length, 0);
    assert.equal(h.published.length, heard);
    const next = await h.entities.teams.create(ctx, { name: 'survivor' });
    const [ev] = await h.knex('change_events').where({ tenant_id: tenant, entity_id: next.id });
    assert.equal(Number(ev.seq), 1, 'the rolled-back seq was never used');
  });

  it('a write whose append fails (it travels with the COMMIT) commits nothing, and its connection serves the next write', async () => {
    const tenant = await createTenant(h.knex);
    const ctx = await actingAs(h.knex, tenant, 'editor');
    const heard = h.published.length;
    // PostgreSQL refuses \u0000 in jsonb: the append statement fails, after the row was written.
    await assert.rejects(
      h.writes.run(ctx, async (w) => {
        const team = await h.entities.teams.create(w, { name: 'doomed' });
        w.record({ entityType: 'teams', entityId: team.id, action: 'updated', data: { note: 'nul \u0000 here' } });
      }),
    );
    assert.equal((await h.knex('teams').where({ tenant_id: tenant })).length, 0, 'the row went with the failed append');
    assert.equal((await h.knex('audit_logs').where({ tenant_id: tenant })).length, 0);
    assert.equal((await h.knex('change_events').where({ tenant_id: tenant })).length, 0);
    assert.equal(h.published.length, heard, 'nothing announced');
    // Every pooled connection is out of the failed transaction: writes on all of them succeed.
    const survivors = await Promise.all(Array.from({ length: 12 }, (_, i) => h.entities.teams.create(ctx, { name: `survivor-${i}` })));
    const seqs = (await h.knex('change_events').where({ tenant_id: tenant }).orderBy('seq').select('seq')).map((r) => Number(r.seq));
    assert.deepEqual(
      seqs,
      survivors.map((_, i) => i + 1),
      'the failed write used no seq; the next ones are gapless',
    );
  });
});
