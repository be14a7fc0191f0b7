// `dashboards.data_changed`: computed after commit by a change-log follower, never inside the write
// that moved the data. For each live dashboard of a tenant it keeps a digest of each widget's data
// (dashboard_data_digests); when a batch of events touches the kinds a dashboard's widgets read, it
// computes the data again (as `GET /dashboards/:id/data` does) and records an event carrying the
// widgets whose data changed. A dashboard's own create or edit re-baselines silently: its own
// `dashboards.*` event says that its widgets changed, and `/dashboards/:id/data` has their data.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { ChangeEvent } from '../../platform/bus.js';
import { unlessNotFound } from '../../platform/errors.js';
import type { FollowerPort } from '../../platform/followers.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteScope } from '../../platform/write.js';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { widgetInputTypes } from './data.js';
import { Dashboard, DashboardDataDigest } from './model.js';
import { canonical, type DashboardService, type DashboardWidgets } from './service.js';
import type { WidgetResult } from './widget-data.js';

export const DATA_CHANGED = 'data_changed';

/** What a `dashboards.data_changed` event carries: the widgets whose data changed, as `/data` returns them. */
export interface DataChange {
  dashboard_id: string;
  dashboard_name: string;
  row_version: number;
  widgets: WidgetResult[];
}

const digestOf = (widget: WidgetResult) =>
  createHash('sha256')
    .update(canonical({ data: widget.data, error: widget.error ?? null }))
    .digest('hex');
const digestsOf = (data: DashboardWidgets) => Object.fromEntries(data.widgets.map((w) => [w.widget_id, digestOf(w)]));

export class DashboardDataEvents implements FollowerPort {
  readonly name = 'dashboard_data';
  readonly entityTypes = [...CATALOG_TYPES, 'incidents', 'scorecards', 'dashboards'];

  constructor(private readonly dashboards: DashboardService) {}

  async tenants(db: Knex): Promise<string[]> {
    const rows = (await db('dashboards as d')
      .whereNull('d.deleted_at')
      .whereExists((q) => void q.select(1).from('widgets as w').whereRaw('w.dashboard_id = d.id'))
      .distinct('d.tenant_id')) as { tenant_id: string }[];
    return rows.map((r) => r.tenant_id);
  }

  wakes(event: ChangeEvent): boolean {
    return event.entity_type === 'dashboards' && event.action !== DATA_CHANGED;
  }

  async begin(w: WriteScope): Promise<void> {
    for (const { id } of await this.live(w)) {
      const dashboard = await unlessNotFound(this.dashboards.get(w, id));
      if (dashboard) await this.store(w, id, digestsOf(await this.dashboards.dataOf(w, dashboard)));
    }
  }

  async handle(w: WriteScope, events: ChangeEvent[]): Promise<void> {
    const own = new Set<string>();
    const kinds = new Set<string>();
    for (const e of events) {
      if (e.entity_type === 'dashboards') {
        if (e.action !== DATA_CHANGED && e.entity_id) own.add(e.entity_id);
      } else {
        kinds.add(e.entity_type);
      }
    }
    const dashboards = await this.live(w);
    const live = new Set(dashboards.map((d) => d.id));
    const gone = [...own].filter((id) => !live.has(id));
    if (gone.length) await scoped(DashboardDataDigest, w).whereIn('dashboard_id', gone).delete();
    const stored = new Map((await scoped(DashboardDataDigest, w)).map((r) => [r.dashboard_id, r.digests]));
    for (const { id, name } of dashboards) {
      const before = stored.get(id);
      const baseline = own.has(id) || !before;
      const dashboard = await unlessNotFound(this.dashboards.get(w, id));
      if (!dashboard) continue; // deleted meanwhile
      // Computed again only when the batch touches a kind its widgets read.
      if (!baseline && !intersects(widgetInputTypes(dashboard as unknown as Parameters<typeof widgetInputTypes>[0]), kinds)) continue;
      const data = await this.dashboards.dataOf(w, dashboard);
      const digests = digestsOf(data);
      // Its own edit (or a dashboard not seen yet): the new baseline, without an event.
      if (baseline) {
        await this.store(w, id, digests);
        continue;
      }
      const changed = data.widgets.filter((widget) => before[widget.widget_id] !== digests[widget.widget_id]);
      if (changed.length === 0) continue;
      await this.store(w, id, digests);
      const change: DataChange = { dashboard_id: id, dashboard_name: name, row_version: data.row_version, widgets: changed };
      w.record({ entityType: 'dashboards', entityId: id, entityName: name, action: DATA_CHANGED, data: change, changes: null });
    }
  }

  private async live(w: WriteScope): Promise<{ id: string; name: string }[]> {
    return (await scoped(Dashboard, w).select('id', 'name').orderBy('id')) as { id: string; name: string }[];
  }

  private async store(w: WriteScope, id: string, digests: Record<string, string>): Promise<void> {
    await scoped(DashboardDataDigest, w)
      .insert({ dashboard_id: id, digests })
      .onConflict('dashboard_id')
      .merge(['digests', 'updated_at'] as never);
  }
}

function intersects(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}
