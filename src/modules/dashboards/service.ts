// Dashboards with their widgets and filters, written as one aggregate: every write (the dashboard
// itself or one widget) bumps the dashboard's version and records the whole dashboard once.
import type { ServiceContext } from '../../platform/context.js';
import { NotFound, UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { listPage, type ListQuery, type Listable, type Page } from '../../platform/listing.js';
import { RecordTable, diff, parseInput, plain, present, type WriteOptions } from '../../platform/records.js';
import { uuid } from '../../platform/schema-kit.js';
import { scoped } from '../../platform/tenancy.js';
import type { FieldChanges, WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { liveRecordIds } from '../permissions/service.js';
import { widgetData, type WidgetSources } from './data.js';
import { Dashboard, DashboardFilter, Widget } from './model.js';
import type { WidgetResult } from './widget-data.js';
import { dashboardCreate, dashboardUpdate, sourcePairIssue, widgetInput, widgetPatch, type FilterInput, type WidgetInput } from './schemas.js';

export type WidgetData = Record<string, unknown> & { id: string; dashboard_id: string };
export type FilterData = Record<string, unknown> & { id: string; dashboard_id: string };
export type DashboardData = Record<string, unknown> & {
  id: string;
  name: string;
  row_version: number;
  widgets: WidgetData[];
  filters: FilterData[];
};

export const DASHBOARD_LISTING: Listable = {
  model: Dashboard,
  titleColumn: 'name',
  enumFilters: {},
  searchExpr: `(name || ' ' || coalesce(description, ''))`,
  hasTeam: false,
  hasTags: false,
};

const dashboards = new RecordTable<Dashboard>(Dashboard, 'dashboard');
/** Widgets keep their own version; writes to them are versioned (If-Match) by their dashboard's. */
const widgets = new RecordTable<Widget>(Widget, 'widget', false);
const DEFAULT_LAYOUT = { x: 0, y: 0, w: 4, h: 3 };

type SourceRef = { source_entity_type?: string | null; source_entity_id?: string | null };

/** JSON with object keys sorted: jsonb hands keys back in its own order, so compare canonically. */
export function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

const withoutTenant = (row: object): Record<string, unknown> => present(row);

/** A dashboard's widgets computed: deterministic for the same stored records (no clock in it). */
export interface DashboardWidgets {
  dashboard_id: string;
  row_version: number;
  widgets: WidgetResult[];
}

export class DashboardService {
  constructor(
    private readonly writes: WriteRunner,
    private readonly sources: WidgetSources,
  ) {}

  // ---- reads ---------------------------------------------------------------------------------

  /** The dashboard with its widgets (grid order: row, then column) and filters (by position). */
  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<DashboardData> {
    return this.present(ctx, await dashboards.find(ctx, id, opts));
  }

  /** A page of dashboards (their own columns; widgets and filters come with `get`). */
  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<Record<string, unknown>>> {
    if (query.includeDeleted) await authorize(ctx, 'read_deleted', { type: 'dashboards' });
    const page = await listPage<Dashboard>(ctx, DASHBOARD_LISTING, query);
    return { data: page.rows.map(withoutTenant), meta: page.meta };
  }

  /**
   * Every widget's data from its source and the dashboard's filters (data.ts says what each type
   * computes). Reads only, so any context may ask: a member's, or a system context of the tenant.
   */
  async data(ctx: ServiceContext, id: string): Promise<DashboardWidgets> {
    return this.dataOf(ctx, await this.get(ctx, id));
  }

  /** `data` of a dashboard already read (`get`). */
  async dataOf(ctx: ServiceContext, dashboard: DashboardData): Promise<DashboardWidgets> {
    return {
      dashboard_id: dashboard.id,
      row_version: dashboard.row_version,
      widgets: await widgetData(ctx, this.sources, dashboard as unknown as Parameters<typeof widgetData>[2]),
    };
  }

  // ---- dashboard writes ----------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<DashboardData> {
    await authorize(ctx, 'write', { type: 'dashboards' });
    const parsed = parseInput(dashboardCreate, input);
    return this.writes.run(ctx, async (w) => {
      await this.checkSources(w, parsed.widgets ?? [], (i) => `widgets.${i}.source_entity_id`);
      // A live dashboard of the same name makes this a unique violation: 409 from the error mapper.
      const row = (await scoped(Dashboard, w)
        .insert({
          name: parsed.name,
          description: parsed.description ?? null,
          created_by: w.actor.userId,
          updated_by: w.actor.userId,
        })
        .returning('*')) as unknown as Dashboard;
      await this.insertWidgets(w, row.id, parsed.widgets ?? []);
      await this.insertFilters(w, row.id, parsed.filters ?? []);
      const data = await this.get(w, row.id);
      w.record({ entityType: 'dashboards', entityId: row.id, entityName: data.name, action: 'created', data });
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<DashboardData> {
    await authorize(ctx, 'write', { type: 'dashboards', id });
    const { widgets, filters, ...fields } = parseInput(dashboardUpdate, input);
    return this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, id, opts);
      const before = await this.present(w, current);
      const columns = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      const columnsSame = Object.entries(columns).every(([k, v]) => (before[k] ?? null) === (v ?? null));
      if (columnsSame && !widgets && !filters) return before; // no version bump, no event
      if (widgets) await this.checkSources(w, widgets, (i) => `widgets.${i}.source_entity_id`);
      if (widgets) {
        await scoped(Widget, w).where('dashboard_id', id).delete();
        await this.insertWidgets(w, id, widgets);
      }
      if (filters) {
        await scoped(DashboardFilter, w).where('dashboard_id', id).delete();
        await this.insertFilters(w, id, filters);
      }
      return this.touch(w, current, before, columns);
    });
  }

  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: 'dashboards', id });
    await this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, id, opts);
      await dashboards.softDelete(w, current);
      const data = await this.get(w, id, { includeDeleted: true });
      w.record({ entityType: 'dashboards', entityId: id, entityName: data.name, action: 'deleted', data, previous: current });
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<DashboardData> {
    await authorize(ctx, 'write', { type: 'dashboards', id });
    return this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, id, { includeDeleted: true });
      if (!(await dashboards.restore(w, current))) return this.present(w, current);
      const data = await this.get(w, id);
      w.record({ entityType: 'dashboards', entityId: id, entityName: data.name, action: 'restored', data, previous: current });
      return data;
    });
  }

  // ---- widget writes (each one an update of the dashboard) ------------------------------------

  async addWidget(ctx: ServiceContext, dashboardId: string, input: unknown, opts: WriteOptions = {}): Promise<WidgetData> {
    await authorize(ctx, 'write', { type: 'dashboards', id: dashboardId });
    const parsed = parseInput(widgetInput, input);
    return this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, dashboardId, opts);
      await this.checkSources(w, [parsed], () => 'source_entity_id');
      const before = await this.present(w, current);
      const [widget] = await this.insertWidgets(w, dashboardId, [parsed]);
      await this.touch(w, current, before);
      return withoutTenant(widget) as WidgetData;
    });
  }

  async updateWidget(ctx: ServiceContext, dashboardId: string, widgetId: string, patch: unknown, opts: WriteOptions = {}): Promise<WidgetData> {
    await authorize(ctx, 'write', { type: 'dashboards', id: dashboardId });
    const parsed = parseInput(widgetPatch, patch);
    return this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, dashboardId, opts);
      const widget = await this.findWidget(w, dashboardId, widgetId);
      const changes = Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined));
      const own = plain(widget) as unknown as Record<string, unknown>;
      if (Object.entries(changes).every(([k, v]) => canonical(own[k]) === canonical(v))) {
        return withoutTenant(widget) as WidgetData;
      }
      const merged = { ...own, ...changes } as SourceRef;
      const pair = sourcePairIssue(merged);
      if (pair) throw UnprocessableEntity('The request did not pass validation.', [pair]);
      if ('source_entity_type' in changes || 'source_entity_id' in changes) {
        await this.checkSources(w, [merged], () => 'source_entity_id');
      }
      const before = await this.present(w, current);
      await widgets.patch(w, widget, changes);
      await this.touch(w, current, before);
      return withoutTenant(await this.findWidget(w, dashboardId, widgetId)) as WidgetData;
    });
  }

  async removeWidget(ctx: ServiceContext, dashboardId: string, widgetId: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: 'dashboards', id: dashboardId });
    await this.writes.run(ctx, async (w) => {
      const current = await dashboards.lock(w, dashboardId, opts);
      await this.findWidget(w, dashboardId, widgetId);
      const before = await this.present(w, current);
      await scoped(Widget, w).findById(widgetId).delete();
      await this.touch(w, current, before);
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Bumps the dashboard's version, writes `columns`, and records the whole dashboard once. */
  private async touch(w: WriteScope, current: Dashboard, before: DashboardData, columns: Record<string, unknown> = {}): Promise<DashboardData> {
    await dashboards.patch(w, current, columns);
    const data = await this.get(w, current.id);
    const changes: FieldChanges = diff(before, data);
    w.record({ entityType: 'dashboards', entityId: current.id, entityName: data.name, action: 'updated', data, changes });
    return data;
  }

  /** A widget's source must be a live record of the dashboard's own tenant (422, never 404). */
  private async checkSources(w: WriteScope, widgets: SourceRef[], path: (i: number) => string): Promise<void> {
    const byType = new Map<string, string[]>();
    for (const wd of widgets) {
      if (!wd.source_entity_type || !wd.source_entity_id) continue;
      byType.set(wd.source_entity_type, [...(byType.get(wd.source_entity_type) ?? []), wd.source_entity_id]);
    }
    const live = new Map<string, Set<string>>();
    for (const [type, ids] of byType) live.set(type, await liveRecordIds(w, type, ids));
    const issues: FieldIssue[] = [];
    widgets.forEach((wd, i) => {
      if (!wd.source_entity_type || !wd.source_entity_id) return;
      if (!live.get(wd.source_entity_type)?.has(wd.source_entity_id)) {
        issues.push({ path: path(i), message: `no ${wd.source_entity_type} record with id ${wd.source_entity_id} in this tenant` });
      }
    });
    if (issues.length) throw UnprocessableEntity('The request refers to records that do not exist.', issues);
  }

  private async insertWidgets(w: WriteScope, dashboardId: string, widgets: WidgetInput[]): Promise<Widget[]> {
    if (widgets.length === 0) return [];
    return (await scoped(Widget, w)
      .insert(
        widgets.map((wd) => ({
          dashboard_id: dashboardId,
          title: wd.title,
          widget_type: wd.widget_type,
          source_entity_type: wd.source_entity_type ?? null,
          source_entity_id: wd.source_entity_id ?? null,
          layout: wd.layout ?? DEFAULT_LAYOUT,
          config: wd.config ?? {},
        })),
      )
      .returning('*')) as unknown as Widget[];
  }

  private async insertFilters(w: WriteScope, dashboardId: string, filters: FilterInput[]): Promise<void> {
    if (filters.length === 0) return;
    await scoped(DashboardFilter, w).insert(
      filters.map((f, i) => ({
        dashboard_id: dashboardId,
        filter_type: f.filter_type,
        target_column: f.target_column,
        config: f.config ?? {},
        position: f.position ?? i,
      })),
    );
  }

  private async present(ctx: ServiceContext, row: Dashboard): Promise<DashboardData> {
    const [widgets, filters] = await Promise.all([
      scoped(Widget, ctx).where('dashboard_id', row.id).orderByRaw(`(layout->>'y')::int, (layout->>'x')::int, created_at, id`),
      scoped(DashboardFilter, ctx)
        .where('dashboard_id', row.id)
        .orderBy([{ column: 'position' }, { column: 'created_at' }, { column: 'id' }]),
    ]);
    return {
      ...withoutTenant(row),
      widgets: widgets.map(withoutTenant),
      filters: filters.map(withoutTenant),
    } as DashboardData;
  }

  private async findWidget(ctx: ServiceContext, dashboardId: string, widgetId: string): Promise<Widget> {
    const row = uuid.safeParse(widgetId).success ? await scoped(Widget, ctx).findById(widgetId).where('dashboard_id', dashboardId) : undefined;
    if (!row) throw NotFound(`No widget with id ${widgetId} on this dashboard.`);
    return row;
  }
}
