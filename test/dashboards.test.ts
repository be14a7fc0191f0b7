// Dashboards through real PostgreSQL: CRUD with widgets and filters, widget-level writes, the rule
// that a widget's source entity must exist, be of the stated type and belong to the same tenant
// (else 422, nothing written), and one change event and audit row per write.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../src/platform/context.js';
import { parseListQuery } from '../src/platform/listing.js';
import { DASHBOARD_LISTING, DashboardService } from '../src/modules/dashboards/service.js';
import { IncidentService } from '../src/modules/incidents/service.js';
import { PermissionService } from '../src/modules/permissions/service.js';
import { ScorecardService } from '../src/modules/scorecards/service.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';
import { rejectsWith } from './support/assertions.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

const layout = (x: number, y: number, w = 4, h = 3) => ({ x, y, w, h });

describe('dashboards', () => {
  let h: Harness;
  let dashboards: DashboardService;
  let tenantId: string;
  let admin: ServiceContext;
  let editor: ServiceContext;
  let viewer: ServiceContext;
  let otherAdmin: ServiceContext;
  let serviceId: string;
  let foreignServiceId: string;

  before(async () => {
    h = await createHarness();
    const incidents = new IncidentService(h.writes, h.entities);
    dashboards = new DashboardService(h.writes, { entities: h.entities, incidents, scorecards: new ScorecardService(h.writes, h.entities) });
    tenantId = await createTenant(h.knex);
    const otherTenant = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenantId, 'admin');
    editor = await actingAs(h.knex, tenantId, 'editor');
    viewer = await actingAs(h.knex, tenantId, 'viewer');
    otherAdmin = await actingAs(h.knex, otherTenant, 'admin');
    serviceId = (await h.entities.services.create(admin, { name: 'checkout', type: 'api' })).id;
    foreignServiceId = (await h.entities.services.create(otherAdmin, { name: 'checkout', type: 'api' })).id;
  });

  after(async () => {
    await h.close();
  });

  const countRows = async (table: string) => Number((await h.knex(table).where({ tenant_id: tenantId }).count('* as n'))[0].n);

  it('creates a dashboard with widgets and filters, recorded once with the whole dashboard', async () => {
    const before = h.published.length;
    const d = await dashboards.create(editor, {
      name: 'Checkout health',
      description: 'Everything about checkout',
      widgets: [
        { title: 'Incidents', widget_type: 'timeline', layout: layout(4, 0) },
        {
          title: 'Checkout status',
          widget_type: 'status_board',
          source_entity_type: 'services',
          source_entity_id: serviceId,
          layout: layout(8, 0),
          config: { show: ['operational_status'] },
        },
        { title: 'Counts', widget_type: 'counter' },
      ],
      filters: [
        { filter_type: 'environment', target_column: 'environment', config: { default: 'production' }, position: 1 },
        { filter_type: 'team', target_column: 'team_id' },
      ],
    });
    assert.equal(d.name, 'Checkout health');
    assert.equal(d.created_by, editor.actor.userId);
    assert.equal(d.row_version, 1);
    assert.equal('tenant_id' in d, false);
    // Widgets in grid order (row, then column); filters by position (the second defaulted to 1 → its index).
    assert.deepEqual(
      d.widgets.map((w) => w.title),
      ['Counts', 'Incidents', 'Checkout status'],
    );
    assert.deepEqual(d.widgets[0].layout, { x: 0, y: 0, w: 4, h: 3 }); // the default
    assert.deepEqual(d.widgets[0].config, {});
    assert.equal(d.widgets[0].source_entity_type, null);
    assert.deepEqual(d.widgets[2].config, { show: ['operational_status'] });
    assert.equal(d.widgets[2].source_entity_type, 'services');
    assert.equal(d.widgets[2].source_entity_id, serviceId);
    assert.equal('tenant_id' in d.widgets[0], false);
    // A filter without a position takes its index in the list.
    const positions = Object.fromEntries(d.filters.map((f) => [f.filter_type, f.position]));
    assert.deepEqual(positions, { environment: 1, team: 1 });
    assert.deepEqual(d.filters.find((f) => f.filter_type === 'environment')?.config, { default: 'production' });

    const widgetRows = await h.knex('widgets').where({ dashboard_id: d.id });
    assert.equal(widgetRows.length, 3);
    assert.ok(widgetRows.every((r) => r.tenant_id === tenantId));
    const filterRows = await h.knex('dashboard_filters').where({ dashboard_id: d.id });
    assert.equal(filterRows.length, 2);
    assert.ok(filterRows.every((r) => r.tenant_id === tenantId));

    const events = h.published.slice(before);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'dashboards.created');
    assert.equal(events[0].entity_id, d.id);
    assert.deepEqual(events[0].data, d);
    const audit = await h.knex('audit_logs').where({ entity_type: 'dashboards', entity_id: d.id });
    assert.deepEqual(
      audit.map((a) => [a.action, a.entity_name, a.user_id]),
      [['create', 'Checkout health', editor.actor.userId]],
    );
    const logged = await h.knex('change_events').where({ entity_id: d.id });
    assert.deepEqual(
      logged.map((e) => Number(e.seq)),
      [events[0].seq],
    );

    // Everyone reads; the other tenant does not see it.
    assert.deepEqual(await dashboards.get(viewer, d.id), d);
    await rejectsWith(dashboards.get(otherAdmin, d.id), 404);
    await rejectsWith(dashboards.get(admin, 'not-a-uuid'), 404);
  });

  it('orders filters by position', async () => {
    const d = await dashboards.create(admin, {
      name: 'Filtered',
      filters: [
        { filter_type: 'severity', target_column: 'severity', position: 5 },
        { filter_type: 'tag', target_column: 'tags', position: 0 },
        { filter_type: 'status', target_column: 'status', position: 2 },
      ],
    });
    assert.deepEqual(
      d.filters.map((f) => f.filter_type),
      ['tag', 'status', 'severity'],
    );
  });

  it('only admins and editors write; read-only keys never', async () => {
    const before = await countRows('dashboards');
    await rejectsWith(dashboards.create(viewer, { name: 'Mine' }), 403);
    await rejectsWith(dashboards.create(await actingAs(h.knex, tenantId, 'incident_commander'), { name: 'Mine' }), 403);
    const key = { ...admin, actor: { ...admin.actor, type: 'api_key' as const, canWrite: false } };
    await rejectsWith(dashboards.create(key, { name: 'Mine' }), 403);
    assert.equal(await countRows('dashboards'), before);
  });

  it('validates widgets and filters strictly', async () => {
    const bad = async (widget: Record<string, unknown>, path: string) =>
      rejectsWith(dashboards.create(admin, { name: `bad-${randomUUID()}`, widgets: [{ title: 'w', widget_type: 'counter', ...widget }] }), 422, path);
    await bad({ layout: { x: 0, y: 0, w: 0, h: 3 } }, 'widgets.0.layout.w');
    await bad({ layout: { x: 0, y: 0, w: 25, h: 3 } }, 'widgets.0.layout.w');
    await bad({ layout: { x: -1, y: 0, w: 4, h: 3 } }, 'widgets.0.layout.x');
    await bad({ layout: { x: 0, y: 0.5, w: 4, h: 3 } }, 'widgets.0.layout.y');
    await bad({ layout: { x: 0, y: 0, w: 4, h: 3, z: 1 } }, 'widgets.0.layout.z');
    await bad({ layout: { x: 0, y: 0, w: 4 } }, 'widgets.0.layout.h');
    await bad({ widget_type: 'pie' }, 'widgets.0.widget_type');
    await bad({ config: [1, 2] }, 'widgets.0.config');
    await bad({ source_entity_type: 'services' }, 'widgets.0.source_entity_id');
    await bad({ source_entity_id: serviceId }, 'widgets.0.source_entity_type');
    await bad({ source_entity_type: 'dashboards', source_entity_id: serviceId }, 'widgets.0.source_entity_type');
    await bad({ tenant_id: tenantId }, 'widgets.0.tenant_id');
    const badFilter = async (filter: Record<string, unknown>, path: string) =>
      rejectsWith(
        dashboards.create(admin, { name: `bad-${randomUUID()}`, filters: [{ filter_type: 'team', target_column: 'team_id', ...filter }] }),
        422,
        path,
      );
    await badFilter({ filter_type: 'owner' }, 'filters.0.filter_type');
    await badFilter({ target_column: '' }, 'filters.0.target_column');
    await badFilter({ target_column: 'x'.repeat(101) }, 'filters.0.target_column');
    await badFilter({ position: -1 }, 'filters.0.position');
    await badFilter({ config: 'x' }, 'filters.0.config');
    await rejectsWith(dashboards.create(admin, { name: '' }), 422, 'name');
    assert.equal(await h.knex('dashboards').where('name', 'like', 'bad-%').first(), undefined);
  });

  it("refuses a widget sourced from another tenant's service with 422 and writes nothing", async () => {
    const rows = { dashboards: await countRows('dashboards'), widgets: await countRows('widgets') };
    const published = h.published.length;
    const audits = Number((await h.knex('audit_logs').where({ tenant_id: tenantId }).count('* as n'))[0].n);
    await rejectsWith(
      dashboards.create(admin, {
        name: 'Leaky',
        widgets: [
          { title: 'ok', widget_type: 'status_board', source_entity_type: 'services', source_entity_id: serviceId },
          { title: 'foreign', widget_type: 'status_board', source_entity_type: 'services', source_entity_id: foreignServiceId },
        ],
      }),
      422,
      'widgets.1.source_entity_id',
    );
    // Right id, wrong type; and an id that exists nowhere.
    await rejectsWith(
      dashboards.create(admin, {
        name: 'Leaky',
        widgets: [{ title: 'x', widget_type: 'list', source_entity_type: 'components', source_entity_id: serviceId }],
      }),
      422,
      'widgets.0.source_entity_id',
    );
    assert.equal(await countRows('dashboards'), rows.dashboards);
    assert.equal(await countRows('widgets'), rows.widgets);
    assert.equal(h.published.length, published);
    assert.equal(Number((await h.knex('audit_logs').where({ tenant_id: tenantId }).count('* as n'))[0].n), audits);

    const d = await dashboards.create(admin, { name: 'Single adds' });
    await rejectsWith(
      dashboards.addWidget(admin, d.id, {
        title: 'foreign',
        widget_type: 'status_board',
        source_entity_type: 'services',
        source_entity_id: foreignServiceId,
      }),
      422,
      'source_entity_id',
    );
    await rejectsWith(
      dashboards.update(admin, d.id, {
        widgets: [{ title: 'foreign', widget_type: 'chart', source_entity_type: 'services', source_entity_id: foreignServiceId }],
      }),
      422,
      'widgets.0.source_entity_id',
    );
    const after = await dashboards.get(admin, d.id);
    assert.equal(after.row_version, 1);
    assert.deepEqual(after.widgets, []);
  });

  it('keeps names unique among live dashboards (409), reusable once deleted', async () => {
    const first = await dashboards.create(admin, { name: 'On-call' });
    await rejectsWith(dashboards.create(admin, { name: 'On-call' }), 409);
    await dashboards.create(otherAdmin, { name: 'On-call' }); // another tenant may
    await dashboards.remove(admin, first.id);
    const second = await dashboards.create(admin, { name: 'On-call' });
    await rejectsWith(dashboards.restore(admin, first.id), 409);
    await dashboards.remove(admin, second.id);
    const restored = await dashboards.restore(admin, first.id);
    assert.equal(restored.deleted_at, null);
  });

  it('updates name and description, replaces widget and filter lists, and checks If-Match', async () => {
    const d = await dashboards.create(editor, {
      name: 'Team board',
      widgets: [{ title: 'old', widget_type: 'list' }],
      filters: [{ filter_type: 'team', target_column: 'team_id' }],
    });
    await rejectsWith(dashboards.update(viewer, d.id, { name: 'x' }), 403);
    await rejectsWith(dashboards.update(editor, d.id, { name: 'x' }, { expectedVersion: 7 }), 412);
    await rejectsWith(dashboards.update(editor, d.id, { row_version: 9 }), 422);

    const before = h.published.length;
    const renamed = await dashboards.update(editor, d.id, { name: 'Platform board', description: 'All of platform' }, { expectedVersion: 1 });
    assert.equal(renamed.row_version, 2);
    assert.equal(renamed.widgets.length, 1); // lists untouched when not given
    // Same values again: no version bump, no event.
    await dashboards.update(editor, d.id, { name: 'Platform board' });

    const replaced = await dashboards.update(admin, d.id, {
      widgets: [
        { title: 'new A', widget_type: 'scorecard', layout: layout(0, 1) },
        { title: 'new B', widget_type: 'chart', layout: layout(0, 0) },
      ],
      filters: [],
    });
    assert.equal(replaced.row_version, 3);
    assert.deepEqual(
      replaced.widgets.map((w) => w.title),
      ['new B', 'new A'],
    );
    assert.deepEqual(replaced.filters, []);
    assert.equal((await h.knex('widgets').where({ dashboard_id: d.id })).length, 2);
    assert.equal((await h.knex('dashboard_filters').where({ dashboard_id: d.id })).length, 0);
    const row = await h.knex('dashboards').where({ id: d.id }).first();
    assert.equal(row.updated_by, admin.actor.userId);

    const events = h.published.slice(before);
    assert.deepEqual(
      events.map((e) => e.type),
      ['dashboards.updated', 'dashboards.updated'],
    );
    assert.deepEqual(events[0].changes?.name, { old: 'Team board', new: 'Platform board' });
    assert.deepEqual(Object.keys(events[1].changes ?? {}).sort(), ['filters', 'widgets']);
    assert.deepEqual(events[1].data, replaced);
  });

  it('adds, updates and removes single widgets, each one dashboard update', async () => {
    const d = await dashboards.create(editor, { name: 'Widget ops' });
    const elsewhere = await dashboards.create(editor, { name: 'Widget ops 2', widgets: [{ title: 'theirs', widget_type: 'list' }] });
    const before = h.published.length;

    const widget = await dashboards.addWidget(editor, d.id, { title: 'Status', widget_type: 'status_board', layout: layout(2, 2, 6, 4) });
    assert.equal(widget.dashboard_id, d.id);
    assert.deepEqual(widget.layout, { x: 2, y: 2, w: 6, h: 4 });
    await rejectsWith(dashboards.addWidget(viewer, d.id, { title: 'x', widget_type: 'list' }), 403);
    await rejectsWith(dashboards.addWidget(editor, randomUUID(), { title: 'x', widget_type: 'list' }), 404);
    await rejectsWith(dashboards.addWidget(otherAdmin, d.id, { title: 'x', widget_type: 'list' }), 404);

    const updated = await dashboards.updateWidget(editor, d.id, widget.id, {
      title: 'Checkout status',
      source_entity_type: 'services',
      source_entity_id: serviceId,
    });
    assert.equal(updated.title, 'Checkout status');
    assert.equal(updated.source_entity_id, serviceId);
    assert.equal(updated.row_version, 2);
    await rejectsWith(dashboards.updateWidget(editor, d.id, widget.id, { source_entity_id: foreignServiceId }), 422, 'source_entity_id');
    await rejectsWith(dashboards.updateWidget(editor, d.id, widget.id, { source_entity_type: null }), 422, 'source_entity_type');
    await rejectsWith(dashboards.updateWidget(editor, d.id, widget.id, { layout: { x: 0, y: 0, w: 30, h: 1 } }), 422, 'layout.w');
    await rejectsWith(dashboards.updateWidget(editor, d.id, elsewhere.widgets[0].id, { title: 'stolen' }), 404);
    await rejectsWith(dashboards.updateWidget(editor, d.id, widget.id, { title: 'stale' }, { expectedVersion: 1 }), 412);
    // Unchanged values (key order aside): nothing happens.
    await dashboards.updateWidget(editor, d.id, widget.id, { title: 'Checkout status', layout: { w: 6, h: 4, x: 2, y: 2 } });
    const cleared = await dashboards.updateWidget(editor, d.id, widget.id, { source_entity_type: null, source_entity_id: null });
    assert.equal(cleared.source_entity_type, null);

    await rejectsWith(dashboards.removeWidget(editor, d.id, elsewhere.widgets[0].id), 404);
    await dashboards.removeWidget(editor, d.id, widget.id);
    assert.equal(await h.knex('widgets').where({ id: widget.id }).first(), undefined);

    const final = await dashboards.get(editor, d.id);
    assert.equal(final.row_version, 5);
    assert.deepEqual(final.widgets, []);
    const events = h.published.slice(before);
    assert.deepEqual(
      events.map((e) => e.type),
      Array(4).fill('dashboards.updated'),
    );
    assert.ok(events.every((e) => e.entity_id === d.id));
    assert.deepEqual((events[0].data as { widgets: unknown[] }).widgets, [widget]);
    assert.deepEqual(events[3].data, final);
    assert.ok(events[0].changes?.widgets);
    const audit = await h.knex('audit_logs').where({ entity_type: 'dashboards', entity_id: d.id }).orderBy('timestamp');
    assert.deepEqual(
      audit.map((a) => a.action),
      ['create', 'update', 'update', 'update', 'update'],
    );
    assert.equal((await dashboards.get(editor, elsewhere.id)).row_version, 1);
  });

  it('lets an EDIT grant holder change that dashboard only', async () => {
    const d = await dashboards.create(admin, { name: 'Shared' });
    const other = await dashboards.create(admin, { name: 'Not shared' });
    const holder = await actingAs(h.knex, tenantId, 'viewer');
    await rejectsWith(dashboards.update(holder, d.id, { description: 'mine' }), 403);
    await new PermissionService(h.writes).grant(admin, 'dashboards', d.id, { user_id: holder.actor.userId, level: 'EDIT' });
    const changed = await dashboards.update(holder, d.id, { description: 'mine' });
    assert.equal(changed.description, 'mine');
    await rejectsWith(dashboards.update(holder, other.id, { description: 'mine' }), 403);
  });

  it('soft-deletes and restores with events; deleted dashboards are gone from get and list', async () => {
    const d = await dashboards.create(admin, { name: 'Ephemeral', widgets: [{ title: 'w', widget_type: 'counter' }] });
    await rejectsWith(dashboards.remove(viewer, d.id), 403);
    await rejectsWith(dashboards.remove(admin, d.id, { expectedVersion: 5 }), 412);
    const before = h.published.length;
    await dashboards.remove(admin, d.id);
    const row = await h.knex('dashboards').where({ id: d.id }).first();
    assert.ok(row.deleted_at);
    assert.equal((await h.knex('widgets').where({ dashboard_id: d.id })).length, 1); // kept for a restore
    await rejectsWith(dashboards.get(admin, d.id), 404);
    await rejectsWith(dashboards.addWidget(admin, d.id, { title: 'x', widget_type: 'list' }), 404);
    const gone = await dashboards.get(admin, d.id, { includeDeleted: true });
    assert.ok(gone.deleted_at);
    const listed = await dashboards.list(admin, parseListQuery(DASHBOARD_LISTING, { q: 'Ephemeral' }));
    assert.equal(listed.meta.total, 0);

    const restored = await dashboards.restore(admin, d.id);
    assert.equal(restored.deleted_at, null);
    assert.equal(restored.widgets.length, 1);
    const events = h.published.slice(before);
    assert.deepEqual(
      events.map((e) => e.type),
      ['dashboards.deleted', 'dashboards.restored'],
    );
    assert.ok((events[0].data as { deleted_at: string | null }).deleted_at);
    const audit = await h.knex('audit_logs').where({ entity_id: d.id }).orderBy('timestamp');
    assert.deepEqual(
      audit.map((a) => a.action),
      ['create', 'delete', 'restore'],
    );
  });

  it('lists with search and cursor pagination', async () => {
    const t = await createTenant(h.knex);
    const a = await actingAs(h.knex, t, 'admin');
    for (const name of ['Alpha ops', 'Beta ops', 'Gamma']) await dashboards.create(a, { name, description: name === 'Gamma' ? 'ops too' : null });
    const v = await actingAs(h.knex, t, 'viewer');
    const page1 = await dashboards.list(v, parseListQuery(DASHBOARD_LISTING, { sort: 'name', limit: '2' }));
    assert.deepEqual(
      page1.data.map((d) => d.name),
      ['Alpha ops', 'Beta ops'],
    );
    assert.equal(page1.meta.total, 3);
    assert.equal('tenant_id' in page1.data[0], false);
    assert.equal('__sort_key' in page1.data[0], false);
    const page2 = await dashboards.list(v, parseListQuery(DASHBOARD_LISTING, { sort: 'name', limit: '2', cursor: page1.meta.next_cursor }));
    assert.deepEqual(
      page2.data.map((d) => d.name),
      ['Gamma'],
    );
    assert.equal(page2.meta.next_cursor, null);
    const searched = await dashboards.list(v, parseListQuery(DASHBOARD_LISTING, { q: 'ops', sort: 'name' }));
    assert.deepEqual(
      searched.data.map((d) => d.name),
      ['Alpha ops', 'Beta ops', 'Gamma'],
    );
    await rejectsWith(dashboards.list(v, parseListQuery(DASHBOARD_LISTING, { include_deleted: 'true' })), 403);
    await rejectsWith(
      Promise.resolve().then(() => parseListQuery(DASHBOARD_LISTING, { status: 'active' })),
      422,
    );
  });
});
