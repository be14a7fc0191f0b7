// Scorecards against a real PostgreSQL: CRUD with criteria through the write path (audit entries,
// change events), every check type passing and failing on purpose-built entities, weighted
// scores, per-check_type config validation, the criteria cascade, roles and tenant isolation.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../src/platform/context.js';
import { toAppError } from '../src/platform/errors.js';
import { parseListQuery } from '../src/platform/listing.js';
import { evaluate } from '../src/modules/scorecards/scoring.js';
import { SCORECARD_LISTING, ScorecardService, type CriterionData, type EntityResult, type ScorecardData } from '../src/modules/scorecards/service.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

async function rejects(promise: Promise<unknown>, status: number): Promise<{ path: string; message: string }[]> {
  try {
    await promise;
  } catch (err) {
    const mapped = toAppError(err);
    assert.ok(mapped, `unmapped error: ${String(err)}`);
    assert.equal(mapped.status, status, `${mapped.status} ${mapped.detail} ${JSON.stringify(mapped.errors)}`);
    return mapped.errors ?? [];
  }
  assert.fail(`expected a ${status}`);
}

const names = (list: CriterionData[]) => list.map((c) => c.name).sort();

describe('scorecards', function () {
  let h: Harness;
  let scorecards: ScorecardService;
  let tenant: string;
  let admin: ServiceContext;
  let editor: ServiceContext;
  let viewer: ServiceContext;

  before(async function () {
    this.timeout(120_000);
    h = await createHarness();
    scorecards = new ScorecardService(h.writes, h.entities);
    tenant = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenant, 'admin');
    editor = await actingAs(h.knex, tenant, 'editor');
    viewer = await actingAs(h.knex, tenant, 'viewer');
  });

  after(async () => {
    await h?.close();
  });

  const card = (overrides: Record<string, unknown> = {}) => ({
    name: `Card ${randomUUID().slice(0, 8)}`,
    entity_types: ['services'],
    criteria: [],
    ...overrides,
  });

  describe('CRUD with criteria', () => {
    it('creates a scorecard with its criteria rows, audit entry and change event', async () => {
      const seqBefore = h.published.length;
      const created = await scorecards.create(editor, {
        name: 'Production readiness',
        description: 'Basics every service needs',
        entity_types: ['services', 'components'],
        criteria: [
          { name: 'Has an owner team', check_type: 'has_field', check_config: { field: 'team_id' }, weight: 3 },
          { name: 'Has a repository', check_type: 'has_items', check_config: { field: 'repository_ids' } },
          { name: 'Healthy', check_type: 'no_active_incidents', check_config: {}, weight: 2, sort_order: -1 },
        ],
      });
      assert.equal(created.name, 'Production readiness');
      assert.deepEqual(created.entity_types, ['services', 'components']);
      assert.equal(created.row_version, 1);
      assert.equal('tenant_id' in created, false);
      // sort_order given wins; the others default to their list position.
      assert.deepEqual(
        created.criteria.map((c) => [c.name, c.sort_order, c.weight]),
        [
          ['Healthy', -1, 2],
          ['Has an owner team', 0, 3],
          ['Has a repository', 1, 1],
        ],
      );

      const rows = await h.knex('scorecard_criteria').where({ scorecard_id: created.id }).orderBy('sort_order');
      assert.equal(rows.length, 3);
      assert.ok(rows.every((r) => r.tenant_id === tenant));
      assert.deepEqual(rows[1].check_config, { field: 'team_id' });
      const [row] = await h.knex('scorecards').where({ id: created.id });
      assert.deepEqual(row.entity_types, ['services', 'components']);
      assert.equal(row.created_by, editor.actor.userId);

      const [audit] = await h.knex('audit_logs').where({ entity_type: 'scorecards', entity_id: created.id });
      assert.equal(audit.action, 'create');
      assert.equal(audit.user_id, editor.actor.userId);
      assert.equal(audit.entity_name, 'Production readiness');
      assert.equal(audit.metadata.request_id, editor.requestId);

      const events = await h.knex('change_events').where({ tenant_id: tenant, entity_id: created.id });
      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'scorecards.created');
      assert.equal(events[0].data.criteria.length, 3);
      const published = h.published.slice(seqBefore).filter((e) => e.entity_id === created.id);
      assert.deepEqual(
        published.map((e) => e.type),
        ['scorecards.created'],
      );
      assert.equal(published[0].seq, Number(events[0].seq));
    });

    it('gets criteria ordered by sort_order, then name', async () => {
      const created = await scorecards.create(
        admin,
        card({
          criteria: [
            { name: 'b', check_type: 'has_tag', check_config: { tag: 'x' }, sort_order: 5 },
            { name: 'z', check_type: 'has_tag', check_config: { tag: 'x' }, sort_order: 1 },
            { name: 'a', check_type: 'has_tag', check_config: { tag: 'x' }, sort_order: 5 },
          ],
        }),
      );
      const got = await scorecards.get(viewer, created.id);
      assert.deepEqual(
        got.criteria.map((c) => c.name),
        ['z', 'a', 'b'],
      );
    });

    it('update replaces the criteria in one transaction, recorded as one change', async () => {
      const created = await scorecards.create(
        admin,
        card({
          criteria: [
            { name: 'Documented', check_type: 'has_field', check_config: { field: 'description' } },
            { name: 'Tagged tier-1', check_type: 'has_tag', check_config: { tag: 'tier-1' } },
          ],
        }),
      );
      const oldIds = created.criteria.map((c) => c.id);
      const updated = await scorecards.update(
        editor,
        created.id,
        {
          description: 'now with a lead',
          criteria: [{ name: 'Has a lead', check_type: 'has_assignment', check_config: { role: 'Lead' }, weight: 2 }],
        },
        { expectedVersion: 1 },
      );
      assert.equal(updated.row_version, 2);
      assert.equal(updated.description, 'now with a lead');
      assert.deepEqual(
        updated.criteria.map((c) => [c.name, c.weight, c.check_config]),
        [['Has a lead', 2, { role: 'Lead' }]],
      );

      const rows = await h.knex('scorecard_criteria').where({ scorecard_id: created.id });
      assert.deepEqual(
        rows.map((r) => r.name),
        ['Has a lead'],
      );
      assert.equal((await h.knex('scorecard_criteria').whereIn('id', oldIds)).length, 0);

      const events = await h.knex('change_events').where({ tenant_id: tenant, entity_id: created.id }).orderBy('seq');
      assert.deepEqual(
        events.map((e) => e.type),
        ['scorecards.created', 'scorecards.updated'],
      );
      const changes = events[1].changes;
      assert.deepEqual(Object.keys(changes).sort(), ['criteria', 'description']);
      assert.deepEqual(
        changes.criteria.old.map((c: CriterionData) => c.name),
        ['Documented', 'Tagged tier-1'],
      );
      assert.deepEqual(
        changes.criteria.new.map((c: CriterionData) => c.name),
        ['Has a lead'],
      );
      const audits = await h.knex('audit_logs').where({ entity_id: created.id, action: 'update' });
      assert.equal(audits.length, 1);
      assert.ok(audits[0].changes.criteria);

      // Without `criteria` the list stays as it is.
      const renamed = await scorecards.update(editor, created.id, { name: `${created.name} v2` });
      assert.deepEqual(
        renamed.criteria.map((c) => c.id),
        updated.criteria.map((c) => c.id),
      );
      assert.equal(renamed.row_version, 3);
    });

    it('a PATCH that changes nothing (criteria equal by content) writes nothing', async () => {
      const criteria = [{ name: 'Lead', check_type: 'min_assignments', check_config: { role: 'Lead', min: 1 } }];
      const created = await scorecards.create(admin, card({ criteria }));
      const before = await h.knex('change_events').where({ tenant_id: tenant }).count<{ count: string }[]>('* as count');
      const same = await scorecards.update(admin, created.id, {
        name: created.name,
        criteria: [{ name: 'Lead', check_type: 'min_assignments', check_config: { min: 1, role: 'Lead' } }],
      });
      assert.equal(same.row_version, 1);
      assert.deepEqual(
        same.criteria.map((c) => c.id),
        created.criteria.map((c) => c.id),
      );
      const after = await h.knex('change_events').where({ tenant_id: tenant }).count<{ count: string }[]>('* as count');
      assert.equal(after[0].count, before[0].count);
    });

    it('a stale If-Match is a 412 and writes nothing', async () => {
      const created = await scorecards.create(admin, card());
      await scorecards.update(admin, created.id, { description: 'x' });
      await rejects(scorecards.update(admin, created.id, { description: 'y' }, { expectedVersion: 1 }), 412);
      await rejects(scorecards.remove(admin, created.id, { expectedVersion: 1 }), 412);
      assert.equal((await scorecards.get(admin, created.id)).description, 'x');
    });

    it('lists with search and cursor pagination', async () => {
      const t = await createTenant(h.knex);
      const ctx = await actingAs(h.knex, t, 'editor');
      for (const n of ['Alpha security', 'Beta docs', 'Gamma security', 'Delta ops']) {
        await scorecards.create(ctx, card({ name: n, criteria: [{ name: 'c', check_type: 'has_tag', check_config: { tag: 'x' } }] }));
      }
      const first = await scorecards.list(ctx, parseListQuery(SCORECARD_LISTING, { limit: '3', sort: 'name' }));
      assert.deepEqual(
        first.data.map((s) => s.name),
        ['Alpha security', 'Beta docs', 'Delta ops'],
      );
      assert.equal(first.meta.total, 4);
      assert.equal(first.data[0].criteria.length, 1);
      assert.equal('__sort_key' in first.data[0], false);
      const second = await scorecards.list(ctx, parseListQuery(SCORECARD_LISTING, { limit: '3', sort: 'name', cursor: first.meta.next_cursor }));
      assert.deepEqual(
        second.data.map((s) => s.name),
        ['Gamma security'],
      );
      assert.equal(second.meta.next_cursor, null);
      const found = await scorecards.list(ctx, parseListQuery(SCORECARD_LISTING, { q: 'SECURITY', sort: 'name' }));
      assert.deepEqual(
        found.data.map((s) => s.name),
        ['Alpha security', 'Gamma security'],
      );
      await rejects(scorecards.list(ctx, parseListQuery(SCORECARD_LISTING, { include_deleted: 'true' })), 403);
    });

    it('soft-deletes and restores, with events; a deleted name can be reused, restoring into it is a 409', async () => {
      const created = await scorecards.create(
        admin,
        card({
          criteria: [{ name: 'c', check_type: 'has_tag', check_config: { tag: 'x' } }],
        }),
      );
      await scorecards.remove(editor, created.id);
      await rejects(scorecards.get(admin, created.id), 404);
      const listed = await scorecards.list(admin, parseListQuery(SCORECARD_LISTING, { limit: '200' }));
      assert.ok(!listed.data.some((s) => s.id === created.id));
      const withDeleted = await scorecards.list(admin, parseListQuery(SCORECARD_LISTING, { limit: '200', include_deleted: 'true' }));
      assert.ok(withDeleted.data.some((s) => s.id === created.id));
      const [row] = await h.knex('scorecards').where({ id: created.id });
      assert.ok(row.deleted_at);
      assert.equal(row.row_version, 2);
      // The criteria stay with the soft-deleted row.
      assert.equal((await h.knex('scorecard_criteria').where({ scorecard_id: created.id })).length, 1);

      const restored = await scorecards.restore(editor, created.id);
      assert.equal(restored.deleted_at, null);
      assert.equal(restored.criteria.length, 1);

      await scorecards.remove(editor, created.id);
      await scorecards.create(admin, card({ name: created.name }));
      await rejects(scorecards.restore(admin, created.id), 409);

      const types = (await h.knex('change_events').where({ entity_id: created.id }).orderBy('seq')).map((e) => e.type);
      assert.deepEqual(types, ['scorecards.created', 'scorecards.deleted', 'scorecards.restored', 'scorecards.deleted']);
      const actions = (await h.knex('audit_logs').where({ entity_id: created.id }).orderBy('timestamp')).map((a) => a.action);
      assert.deepEqual(actions, ['create', 'delete', 'restore', 'delete']);
    });

    it('a duplicate live name is a 409', async () => {
      const created = await scorecards.create(admin, card());
      await rejects(scorecards.create(admin, card({ name: created.name })), 409);
    });

    it('a hard DELETE of the scorecard row removes its criteria (cascade)', async () => {
      const created = await scorecards.create(
        admin,
        card({
          criteria: [
            { name: 'a', check_type: 'has_tag', check_config: { tag: 'x' } },
            { name: 'b', check_type: 'no_active_incidents' },
          ],
        }),
      );
      assert.equal((await h.knex('scorecard_criteria').where({ scorecard_id: created.id })).length, 2);
      await h.knex('scorecards').where({ id: created.id }).delete();
      assert.equal((await h.knex('scorecard_criteria').where({ scorecard_id: created.id })).length, 0);
    });

    it('the database itself refuses a weight outside 1–3', async () => {
      const created = await scorecards.create(admin, card());
      await rejects(
        h.knex('scorecard_criteria').insert({
          tenant_id: tenant,
          scorecard_id: created.id,
          name: 'x',
          weight: 4,
          check_type: 'has_tag',
          check_config: '{}',
        }),
        422,
      );
    });
  });

  describe('validation', () => {
    const bad = (criterion: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      rejects(scorecards.create(admin, card({ criteria: [{ name: 'c', ...criterion }], ...extra })), 422);

    it('refuses an unknown check_config key at its own path', async () => {
      const errors = await bad({ check_type: 'has_field', check_config: { field: 'description', feild: 'x' } });
      assert.deepEqual(
        errors.map((e) => e.path),
        ['criteria.0.check_config.feild'],
      );
      const none = await bad({ check_type: 'no_active_incidents', check_config: { since: 'x' } });
      assert.deepEqual(
        none.map((e) => e.path),
        ['criteria.0.check_config.since'],
      );
    });

    it('refuses a wrong type in check_config', async () => {
      const errors = await bad({ check_type: 'min_assignments', check_config: { min: 'two' } });
      assert.deepEqual(
        errors.map((e) => e.path),
        ['criteria.0.check_config.min'],
      );
      const zero = await bad({ check_type: 'min_assignments', check_config: { min: 0 } });
      assert.deepEqual(
        zero.map((e) => e.path),
        ['criteria.0.check_config.min'],
      );
      const missing = await bad({ check_type: 'has_tag', check_config: {} });
      assert.deepEqual(
        missing.map((e) => e.path),
        ['criteria.0.check_config.tag'],
      );
      const obj = await bad({ check_type: 'field_equals', check_config: { field: 'status', value: { a: 1 } } });
      assert.deepEqual(
        obj.map((e) => e.path),
        ['criteria.0.check_config.value'],
      );
    });

    it('refuses an unknown check_type', async () => {
      const errors = await bad({ check_type: 'has_vibes', check_config: {} });
      assert.deepEqual(
        errors.map((e) => e.path),
        ['criteria.0.check_type'],
      );
    });

    it('refuses weight 4 (and 0)', async () => {
      const errors = await bad({ check_type: 'has_tag', check_config: { tag: 'x' }, weight: 4 });
      assert.deepEqual(
        errors.map((e) => e.path),
        ['criteria.0.weight'],
      );
      await bad({ check_type: 'has_tag', check_config: { tag: 'x' }, weight: 0 });
    });

    it('refuses fields the scorecard entity types do not have', async () => {
      const notColumn = await bad({ check_type: 'has_field', check_config: { field: 'owner' } });
      assert.deepEqual(
        notColumn.map((e) => e.path),
        ['criteria.0.check_config.field'],
      );
      const listAsScalar = await bad({ check_type: 'has_field', check_config: { field: 'component_ids' } });
      assert.deepEqual(
        listAsScalar.map((e) => e.path),
        ['criteria.0.check_config.field'],
      );
      // component_ids is a list of services, not of products.
      const wrongKind = await bad({ check_type: 'has_items', check_config: { field: 'component_ids' } }, { entity_types: ['services', 'products'] });
      assert.deepEqual(
        wrongKind.map((e) => e.path),
        ['criteria.0.check_config.field'],
      );
      const noAttributes = await bad({ check_type: 'has_attribute', check_config: { key: 'endpoint' } }, { entity_types: ['repositories'] });
      assert.deepEqual(
        noAttributes.map((e) => e.path),
        ['criteria.0.check_config.key'],
      );
      const badAttribute = await bad({ check_type: 'has_field', check_config: { field: 'attributes.colour' } });
      assert.deepEqual(
        badAttribute.map((e) => e.path),
        ['criteria.0.check_config.field'],
      );
      const badEnum = await bad({ check_type: 'field_equals', check_config: { field: 'status', value: 'retired' } });
      assert.deepEqual(
        badEnum.map((e) => e.path),
        ['criteria.0.check_config.value'],
      );
    });

    it('refuses bad entity_types, unknown top-level keys and duplicate criterion names', async () => {
      for (const entity_types of [[], ['teams'], ['services', 'services'], 'services']) {
        const errors = await rejects(scorecards.create(admin, card({ entity_types })), 422);
        assert.ok(
          errors.every((e) => e.path.startsWith('entity_types')),
          JSON.stringify(errors),
        );
      }
      const extra = await rejects(scorecards.create(admin, { ...card(), tenant_id: randomUUID() }), 422);
      assert.deepEqual(
        extra.map((e) => e.path),
        ['tenant_id'],
      );
      const dup = await rejects(
        scorecards.create(
          admin,
          card({
            criteria: [
              { name: 'Same', check_type: 'has_tag', check_config: { tag: 'a' } },
              { name: 'same', check_type: 'has_tag', check_config: { tag: 'b' } },
            ],
          }),
        ),
        422,
      );
      assert.deepEqual(
        dup.map((e) => e.path),
        ['criteria.1.name'],
      );
    });

    it('re-checks stored criteria when entity_types changes', async () => {
      const created = await scorecards.create(
        admin,
        card({
          criteria: [{ name: 'Has components', check_type: 'has_items', check_config: { field: 'component_ids' } }],
        }),
      );
      const errors = await rejects(scorecards.update(admin, created.id, { entity_types: ['repositories'] }), 422);
      assert.deepEqual(
        errors.map((e) => e.path),
        ['criteria.0.check_config.field'],
      );
      const moved = await scorecards.update(admin, created.id, {
        entity_types: ['repositories'],
        criteria: [{ name: 'Has people', check_type: 'has_items', check_config: { field: 'assignments' } }],
      });
      assert.deepEqual(moved.entity_types, ['repositories']);
      assert.deepEqual(
        moved.criteria.map((c) => c.name),
        ['Has people'],
      );
    });

    it('writes nothing when validation fails', async () => {
      const before = (await h.knex('scorecards').where({ tenant_id: tenant })).length;
      await bad({ check_type: 'has_tag', check_config: { tag: 'x' }, weight: 9 });
      assert.equal((await h.knex('scorecards').where({ tenant_id: tenant })).length, before);
    });
  });

  describe('roles and tenants', () => {
    it('viewers and incident commanders read but may not write (403)', async () => {
      const created = await scorecards.create(admin, card());
      const commander = await actingAs(h.knex, tenant, 'incident_commander');
      for (const ctx of [viewer, commander]) {
        await rejects(scorecards.create(ctx, card()), 403);
        await rejects(scorecards.update(ctx, created.id, { description: 'x' }), 403);
        await rejects(scorecards.remove(ctx, created.id), 403);
        await rejects(scorecards.restore(ctx, created.id), 403);
        assert.equal((await scorecards.get(ctx, created.id)).id, created.id);
        assert.ok(Array.isArray(await scorecards.results(ctx, created.id)));
      }
      const readOnlyKey: ServiceContext = { ...editor, actor: { ...editor.actor, canWrite: false } };
      await rejects(scorecards.create(readOnlyKey, card()), 403);
    });

    it("another tenant's scorecard id is a 404 everywhere", async () => {
      const created = await scorecards.create(admin, card());
      const other = await createTenant(h.knex);
      const outsider = await actingAs(h.knex, other, 'admin');
      await rejects(scorecards.get(outsider, created.id), 404);
      await rejects(scorecards.results(outsider, created.id), 404);
      await rejects(scorecards.update(outsider, created.id, { description: 'hijack' }), 404);
      await rejects(scorecards.remove(outsider, created.id), 404);
      await rejects(scorecards.restore(outsider, created.id), 404);
      const listed = await scorecards.list(outsider, parseListQuery(SCORECARD_LISTING, {}));
      assert.equal(listed.data.length, 0);
      await rejects(scorecards.get(admin, 'not-a-uuid'), 404);
      assert.equal((await scorecards.get(admin, created.id)).description ?? null, null);
    });
  });

  describe('results', () => {
    let t: string;
    let ctx: ServiceContext;
    let good: Record<string, unknown> & { id: string };
    let bare: Record<string, unknown> & { id: string };
    let allChecks: ScorecardData;

    const criteria = [
      { name: 'has_field description', check_type: 'has_field', check_config: { field: 'description' } },
      { name: 'has_field team_id', check_type: 'has_field', check_config: { field: 'team_id' } },
      { name: 'has_field attributes.endpoint', check_type: 'has_field', check_config: { field: 'attributes.endpoint' } },
      { name: 'has_items component_ids', check_type: 'has_items', check_config: { field: 'component_ids' } },
      { name: 'has_items repository_ids', check_type: 'has_items', check_config: { field: 'repository_ids' } },
      { name: 'has_items depends_on_service_ids', check_type: 'has_items', check_config: { field: 'depends_on_service_ids' } },
      { name: 'has_items assignments', check_type: 'has_items', check_config: { field: 'assignments' } },
      { name: 'field_equals status', check_type: 'field_equals', check_config: { field: 'status', value: 'active' } },
      { name: 'field_equals attributes.protocol', check_type: 'field_equals', check_config: { field: 'attributes.protocol', value: 'REST' } },
      { name: 'has_assignment Lead', check_type: 'has_assignment', check_config: { role: 'Lead' } },
      { name: 'has_assignment any', check_type: 'has_assignment' },
      { name: 'min_assignments 2', check_type: 'min_assignments', check_config: { min: 2 } },
      { name: 'min_assignments 1 On-Call', check_type: 'min_assignments', check_config: { min: 1, role: 'On-Call' } },
      { name: 'no_active_incidents', check_type: 'no_active_incidents', check_config: {} },
      { name: 'has_tag tier-1', check_type: 'has_tag', check_config: { tag: 'tier-1' } },
      { name: 'has_attribute endpoint', check_type: 'has_attribute', check_config: { key: 'endpoint' } },
    ];

    const resultFor = (results: EntityResult[], id: string) => {
      const r = results.find((x) => x.entity_id === id);
      assert.ok(r, `no result for ${id}`);
      return r;
    };

    before(async () => {
      t = await createTenant(h.knex);
      ctx = await actingAs(h.knex, t, 'editor');
      const e = h.entities;
      const team = await e.teams.create(ctx, { name: 'Platform' });
      const lead = await e.people.create(ctx, { name: 'Lea', email: 'lea@example.com' });
      const oncall = await e.people.create(ctx, { name: 'Oscar', email: 'oscar@example.com' });
      const component = await e.components.create(ctx, { name: 'auth-lib', type: 'library' });
      const repo = await e.repositories.create(ctx, { name: 'auth-repo', provider: 'github' });
      const upstream = await e.services.create(ctx, { name: 'upstream', type: 'database', status: 'deprecated' });
      good = await e.services.create(ctx, {
        name: 'good',
        type: 'api',
        description: 'Serves auth',
        team_id: team.id,
        status: 'active',
        attributes: { endpoint: 'https://auth.example.com', protocol: 'REST' },
        tags: ['tier-1'],
        component_ids: [component.id],
        repository_ids: [repo.id],
        depends_on_service_ids: [upstream.id],
        assignments: [
          { person_id: lead.id, role: 'Lead' },
          { person_id: oncall.id, role: 'On-Call' },
        ],
      });
      bare = await e.services.create(ctx, {
        name: 'bare',
        type: 'api',
        description: '   ',
        status: 'planned',
        attributes: { endpoint: null, protocol: 'gRPC' },
        tags: ['tier-2'],
        // One person twice is still one person; a non-Lead role is not a lead.
        assignments: [
          { person_id: lead.id, role: 'Engineer' },
          { person_id: lead.id, role: 'Architect' },
        ],
      });
      allChecks = await scorecards.create(ctx, { name: 'All checks', entity_types: ['services'], criteria });
    });

    it('every check type passes on an entity built to pass it', async () => {
      const results = await scorecards.results(ctx, allChecks.id);
      const r = resultFor(results, good.id);
      assert.deepEqual(names(r.failed), []);
      assert.equal(r.score, 100);
      assert.equal(r.name, 'good');
      assert.equal(r.entity_type, 'services');
    });

    it('every check type fails on an entity built to fail it', async () => {
      const r = resultFor(await scorecards.results(ctx, allChecks.id), bare.id);
      assert.deepEqual(names(r.passed), ['has_assignment any', 'has_items assignments', 'no_active_incidents']);
      assert.equal(r.failed.length, criteria.length - 3);
      assert.equal(r.score, Math.round((100 * 3) / criteria.length));
      // Criteria come back whole, as stored.
      const failedLead = r.failed.find((c) => c.name === 'has_assignment Lead')!;
      assert.deepEqual(failedLead.check_config, { role: 'Lead' });
      assert.ok(failedLead.id);
    });

    it('scores every live entity of the applicable types, skipping deleted ones', async () => {
      const gone = await h.entities.services.create(ctx, { name: 'gone', type: 'cache' });
      await h.entities.services.remove(ctx, gone.id);
      const results = await scorecards.results(ctx, allChecks.id);
      assert.deepEqual(
        results.map((r) => r.name),
        ['bare', 'good', 'upstream'],
      );
    });

    it('no_active_incidents follows an unresolved, non-deleted incident, then its resolution', async () => {
      const [incident] = await h
        .knex('incidents')
        .insert({ tenant_id: t, title: 'Auth down', severity: 'major', status: 'investigating', impact_type: 'outage' })
        .returning('id');
      await h.knex('incident_affected_entities').insert({ incident_id: incident.id, entity_type: 'services', entity_id: good.id });

      let r = resultFor(await scorecards.results(ctx, allChecks.id), good.id);
      assert.deepEqual(names(r.failed), ['no_active_incidents']);
      assert.equal(r.score, Math.round((100 * (criteria.length - 1)) / criteria.length));
      assert.deepEqual(names(resultFor(await scorecards.results(ctx, allChecks.id), bare.id).failed).includes('no_active_incidents'), false);

      // Another tenant's incident naming the same id does not count here.
      const other = await createTenant(h.knex);
      const [foreign] = await h.knex('incidents').insert({ tenant_id: other, title: 'x', severity: 'minor' }).returning('id');
      await h.knex('incident_affected_entities').insert({ incident_id: foreign.id, entity_type: 'services', entity_id: bare.id });
      assert.ok(names(resultFor(await scorecards.results(ctx, allChecks.id), bare.id).passed).includes('no_active_incidents'));

      await h.knex('incidents').where({ id: incident.id }).update({ status: 'resolved', resolved_at: new Date() });
      r = resultFor(await scorecards.results(ctx, allChecks.id), good.id);
      assert.equal(r.score, 100);

      // A soft-deleted incident is not active either.
      await h.knex('incidents').where({ id: incident.id }).update({ status: 'monitoring', resolved_at: null });
      assert.equal(resultFor(await scorecards.results(ctx, allChecks.id), good.id).score, Math.round((100 * (criteria.length - 1)) / criteria.length));
      await h.knex('incidents').where({ id: incident.id }).update({ deleted_at: new Date() });
      assert.equal(resultFor(await scorecards.results(ctx, allChecks.id), good.id).score, 100);
    });

    it('weights drive the score', async () => {
      const weighted = await scorecards.create(ctx, {
        name: 'Weighted',
        entity_types: ['services'],
        criteria: [
          { name: 'heavy: has a lead', check_type: 'has_assignment', check_config: { role: 'lead' }, weight: 3 },
          { name: 'light: tier-2', check_type: 'has_tag', check_config: { tag: 'tier-2' }, weight: 1 },
          { name: 'medium: documented', check_type: 'has_field', check_config: { field: 'description' }, weight: 2 },
        ],
      });
      const results = await scorecards.results(ctx, weighted.id);
      assert.equal(resultFor(results, good.id).score, 83); // (3 + 2) / 6
      assert.equal(resultFor(results, bare.id).score, 17); // 1 / 6
      const upstream = results.find((r) => r.name === 'upstream')!;
      assert.equal(upstream.score, 0);

      const empty = await scorecards.create(ctx, { name: 'Empty', entity_types: ['services', 'repositories'] });
      const emptyResults = await scorecards.results(ctx, empty.id);
      assert.deepEqual(
        emptyResults.map((r) => [r.entity_type, r.name, r.score]),
        [
          ['services', 'bare', 100],
          ['services', 'good', 100],
          ['services', 'upstream', 100],
          ['repositories', 'auth-repo', 100],
        ],
      );
    });

    it('evaluate() is pure: score = round(100 × passed weight / total weight)', () => {
      const c = (name: string, weight: number, tag: string) => ({ name, weight, check_type: 'has_tag', check_config: { tag } });
      const facts = { activeIncidentEntityIds: new Set<string>() };
      const entity = { id: randomUUID(), tags: ['a'] };
      assert.deepEqual(evaluate([], entity, facts), { score: 100, passed: [], failed: [] });
      const r = evaluate([c('x', 1, 'a'), c('y', 2, 'b')], entity, facts);
      assert.equal(r.score, 33);
      assert.deepEqual(
        r.passed.map((p) => p.name),
        ['x'],
      );
      assert.deepEqual(
        r.failed.map((p) => p.name),
        ['y'],
      );
      assert.equal(evaluate([{ name: 'unknown', weight: 1, check_type: 'future_check', check_config: {} }], entity, facts).score, 0);
      const incident = evaluate([{ name: 'i', weight: 1, check_type: 'no_active_incidents', check_config: {} }], entity, {
        activeIncidentEntityIds: new Set([entity.id]),
      });
      assert.equal(incident.score, 0);
    });

    it('resultsForEntity scores one entity on every scorecard of its type (detail view)', async () => {
      const other = await scorecards.create(ctx, {
        name: 'Repos only',
        entity_types: ['repositories'],
        criteria: [{ name: 'has url', check_type: 'has_field', check_config: { field: 'url' } }],
      });
      const detail = await h.entities.services.getDetail(ctx, good.id);
      const scores = await scorecards.resultsForEntity(ctx, 'services', detail);
      assert.ok(!scores.some((s) => s.scorecard_id === other.id));
      const mine = scores.find((s) => s.scorecard_id === allChecks.id)!;
      assert.equal(mine.scorecard_name, 'All checks');
      assert.equal(mine.score, 100);
      assert.deepEqual(
        scores.map((s) => s.scorecard_name),
        [...scores.map((s) => s.scorecard_name)].sort(),
      );
      const bareScores = await scorecards.resultsForEntity(ctx, 'services', await h.entities.services.get(ctx, bare.id));
      assert.equal(bareScores.find((s) => s.scorecard_id === allChecks.id)!.failed.length, criteria.length - 3);
      assert.deepEqual(await scorecards.resultsForEntity(ctx, 'teams', { id: randomUUID(), row_version: 1 }), []);
    });

    it('loads results in batches, not one query per entity', async () => {
      const big = await createTenant(h.knex);
      const bigCtx = await actingAs(h.knex, big, 'viewer');
      const rows = Array.from({ length: 450 }, (_, i) => ({
        tenant_id: big,
        name: `product-${String(i).padStart(3, '0')}`,
        tags: JSON.stringify(i % 2 ? ['even'] : []),
      }));
      await h.knex('products').insert(rows);
      const [sc] = await h
        .knex('scorecards')
        .insert({ tenant_id: big, name: 'Tagged', entity_types: JSON.stringify(['products']) })
        .returning('id');
      await h.knex('scorecard_criteria').insert([
        { tenant_id: big, scorecard_id: sc.id, name: 'tagged', check_type: 'has_tag', check_config: JSON.stringify({ tag: 'even' }) },
        { tenant_id: big, scorecard_id: sc.id, name: 'healthy', check_type: 'no_active_incidents', check_config: '{}' },
      ]);
      let queries = 0;
      const count = () => {
        queries += 1;
      };
      h.knex.on('query', count);
      try {
        const results = await scorecards.results(bigCtx, sc.id);
        assert.equal(results.length, 450);
        assert.equal(results.filter((r) => r.score === 100).length, 225);
        assert.equal(results[0].name, 'product-000');
      } finally {
        h.knex.removeListener('query', count);
      }
      // scorecard + criteria + incidents, then per page of 200: rows, count, service_ids, assignments.
      assert.ok(queries <= 3 + 3 * 4, `${queries} queries`);
    });
  });
});
