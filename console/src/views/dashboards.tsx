// Dashboards: the list, and one dashboard's widgets laid out on its grid (x, y, w, h), each showing
// its source records from their own fields and updating as they change on the live stream.
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useChanges, useLoad, useNow } from '../hooks.js';
import { isKind } from '../kinds.js';
import { href } from '../router.js';
import { age, Badge, Loaded, upsert } from '../ui.js';
import { listPage, type Row } from './catalog.js';

type Widget = Schemas['Widget'];

export function Dashboards({ id }: { id?: string }) {
  const [list] = useLoad(() => data(api.GET('/api/v1/dashboards', { params: { query: { limit: 100 } } })), []);
  return (
    <section aria-labelledby="dashboards-title">
      <h1 id="dashboards-title">Dashboards</h1>
      <Loaded load={list}>
        {(dashboards) => (
          <nav aria-label="Dashboards" class="tabs">
            {dashboards.map((d) => (
              <a key={d.id} href={href({ view: 'dashboards', id: d.id })} aria-current={d.id === id ? 'page' : undefined}>
                {d.name}
              </a>
            ))}
            {dashboards.length === 0 ? <p class="muted">No dashboards yet.</p> : null}
          </nav>
        )}
      </Loaded>
      {id ? <DashboardView key={id} id={id} /> : null}
    </section>
  );
}

function DashboardView({ id }: { id: string }) {
  const [load, update] = useLoad(() => data(api.GET('/api/v1/dashboards/{id}', { params: { path: { id } } })), [id]);
  useChanges(
    (change) => {
      if (change.entity_type === 'dashboards' && change.entity_id === id && change.data && change.action !== 'deleted') {
        update((d) => ((change.data as { row_version: number }).row_version >= d.row_version ? (change.data as unknown as Schemas['Dashboard']) : d));
      }
    },
    [id],
  );
  return (
    <Loaded load={load}>
      {(dashboard) => (
        <div>
          <h2>{dashboard.name}</h2>
          {dashboard.description ? <p>{dashboard.description}</p> : null}
          <div class="grid" aria-label={`Widgets of ${dashboard.name}`}>
            {dashboard.widgets.map((w) => (
              <div
                key={w.id}
                class={`card widget widget-${w.widget_type}`}
                data-widget-id={w.id}
                style={{ gridColumn: `${w.layout.x + 1} / span ${Math.max(1, w.layout.w)}`, gridRow: `${w.layout.y + 1} / span ${Math.max(1, w.layout.h)}` }}
              >
                <h3>{w.title}</h3>
                <WidgetBody widget={w} />
              </div>
            ))}
          </div>
        </div>
      )}
    </Loaded>
  );
}

/**
 * The kind a widget shows: its source record's, or the kind its config names (`{entity_type}`,
 * with optional list filters in `{query}`), for a widget over many records.
 */
export function widgetKind(w: Widget): string | null {
  if (w.source_entity_type) return w.source_entity_type;
  const named = (w.config as { entity_type?: unknown }).entity_type;
  return typeof named === 'string' ? named : null;
}

function widgetQuery(w: Widget): Record<string, string> {
  const query = (w.config as { query?: unknown }).query;
  if (!query || typeof query !== 'object') return {};
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** A widget's records: its one source record, or the first page of its kind. */
async function widgetRows(w: Widget): Promise<{ rows: Row[]; total: number }> {
  const type = widgetKind(w);
  if (!type) return { rows: [], total: 0 };
  if (type === 'incidents') {
    const page = await data(api.GET('/api/v1/incidents', { params: { query: { limit: 20 } } }));
    const rows = page.map((i) => ({ ...i, name: i.title }) as unknown as Row);
    return { rows: w.source_entity_id ? rows.filter((r) => r.id === w.source_entity_id) : rows, total: rows.length };
  }
  if (type === 'scorecards') {
    if (!w.source_entity_id) return { rows: [], total: 0 };
    const results = await data(api.GET('/api/v1/scorecards/{id}/results', { params: { path: { id: w.source_entity_id } } }));
    return { rows: results.map((r) => ({ ...r, id: r.entity_id, row_version: 0 }) as unknown as Row), total: results.length };
  }
  if (!isKind(type)) return { rows: [], total: 0 };
  const page = await listPage(type, { limit: 20, sort: 'name', ...widgetQuery(w) });
  return { rows: w.source_entity_id ? page.rows.filter((r) => r.id === w.source_entity_id) : page.rows, total: page.total };
}

function WidgetBody({ widget: w }: { widget: Widget }) {
  const [load, update, reload] = useLoad(() => widgetRows(w), [w.id, w.row_version]);
  const now = useNow();
  useChanges(
    (change) => {
      const kind = widgetKind(w);
      if (change.entity_type !== kind) return;
      if (kind === 'scorecards' || change.action === 'created' || change.action === 'deleted' || !change.data) reload();
      else if (change.entity_type === 'incidents' && change.action === 'timeline_entry') return;
      else {
        const next = change.entity_type === 'incidents' ? { ...(change.data as object), name: (change.data as { title: string }).title } : change.data;
        update((v) => (v.rows.some((r) => r.id === change.entity_id) ? { ...v, rows: upsert(v.rows, next as unknown as Row) } : v));
      }
    },
    [w.id],
  );
  return (
    <Loaded load={load}>
      {({ rows, total }) => {
        switch (w.widget_type) {
          case 'counter':
            return <p class="counter">{widgetKind(w) === 'incidents' ? rows.filter((r) => r.status !== 'resolved').length : total}</p>;
          case 'scorecard':
            return (
              <ul class="plain">
                {rows.map((r) => (
                  <li key={r.id}>
                    {String(r.name)}: <strong>{String(r.score)}%</strong>
                  </li>
                ))}
              </ul>
            );
          case 'timeline':
            return (
              <ul class="plain">
                {rows.slice(0, 8).map((r) => (
                  <li key={r.id}>
                    {String(r.name)} <Badge value={String(r.status)} kind="incident" /> <span class="muted">{age(String(r.created_at), now)}</span>
                  </li>
                ))}
              </ul>
            );
          default:
            return (
              <ul class="plain">
                {rows.map((r) => (
                  <li key={r.id} data-id={r.id}>
                    {isKind(widgetKind(w) ?? '') ? <a href={href({ view: 'record', kind: widgetKind(w)!, id: r.id })}>{String(r.name)}</a> : String(r.name)}{' '}
                    {typeof r.operational_status === 'string' ? (
                      <Badge value={r.operational_status} />
                    ) : typeof r.status === 'string' ? (
                      <Badge value={r.status} />
                    ) : null}
                  </li>
                ))}
              </ul>
            );
        }
      }}
    </Loaded>
  );
}
