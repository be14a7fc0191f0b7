// Dashboards: the list, and one dashboard's widgets laid out on its grid (x, y, w, h), each showing
// the data the server computes for it (GET /dashboards/:id/data); a `dashboards.data_changed`
// event carries the widgets whose data moved, and they are replaced where they are.
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useChanges, useLoad, useNow } from '../hooks.js';
import { isKind } from '../kinds.js';
import { href } from '../router.js';
import { age, Badge, Loaded, text } from '../ui.js';

type Widget = Schemas['Widget'];
type Result = Schemas['WidgetResult'];
type DataChanged = { dashboard_id: string; row_version: number; widgets: Result[] };
interface Shown {
  dashboard: Schemas['Dashboard'];
  /** Each widget's data by widget id, and the dashboard version it was computed for. */
  results: Record<string, Result>;
  version: number;
}

async function loadDashboard(id: string): Promise<Shown> {
  const [dashboard, computed] = await Promise.all([
    data(api.GET('/api/v1/dashboards/{id}', { params: { path: { id } } })),
    data(api.GET('/api/v1/dashboards/{id}/data', { params: { path: { id } } })),
  ]);
  return { dashboard, results: Object.fromEntries(computed.widgets.map((w) => [w.widget_id, w])), version: computed.row_version };
}

/** Replaces the widgets a data_changed event carries; one computed for an older version of the dashboard is stale. */
export function applyDataChanged(shown: Shown, e: DataChanged): Shown {
  if (e.row_version < shown.version) return shown;
  return { ...shown, results: { ...shown.results, ...Object.fromEntries(e.widgets.map((w) => [w.widget_id, w])) } };
}

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
  const [load, update, reload] = useLoad(() => loadDashboard(id), [id]);
  useChanges(
    (change) => {
      if (change.entity_type !== 'dashboards' || change.entity_id !== id) return;
      if (change.action === 'data_changed') update((shown) => applyDataChanged(shown, change.data as unknown as DataChanged));
      else reload(); // its widgets or layout changed: their data with them
    },
    [id],
  );
  return (
    <Loaded load={load}>
      {({ dashboard, results }) => (
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
                <WidgetBody widget={w} result={results[w.id]} />
              </div>
            ))}
          </div>
        </div>
      )}
    </Loaded>
  );
}

function WidgetBody({ widget, result }: { widget: Widget; result: Result | undefined }) {
  const now = useNow();
  if (!result) return <p class="muted">No data yet.</p>;
  if (!result.data) return <p class="muted">{result.error?.message ?? 'No data.'}</p>;
  switch (result.widget_type) {
    case 'counter':
      return <p class="counter">{result.data.count}</p>;
    case 'list': {
      const { entity_type: kind, records, total } = result.data;
      return (
        <>
          <ul class="plain">
            {records.map((r) => {
              const id = text(r.id);
              const name = text(r.name ?? r.title);
              const status = r.operational_status ?? r.status;
              return (
                <li key={id} data-id={id}>
                  {isKind(kind) ? (
                    <a href={href({ view: 'record', kind, id })}>{name}</a>
                  ) : kind === 'incidents' ? (
                    <a href={href({ view: 'incident', id })}>{name}</a>
                  ) : (
                    name
                  )}{' '}
                  {typeof status === 'string' ? <Badge value={status} /> : null}
                </li>
              );
            })}
          </ul>
          {total > records.length ? <p class="muted">{`${records.length} of ${total}`}</p> : null}
        </>
      );
    }
    case 'status_board':
    case 'chart': {
      const { field, counts, total } = result.data;
      return (
        <ul class="plain" aria-label={`${widget.title} by ${field.replace(/_/g, ' ')}`}>
          {counts.map((c) => (
            <li key={c.value} data-value={c.value}>
              <Badge value={c.value} /> <strong class="count">{c.count}</strong>
              {result.widget_type === 'chart' ? <meter min={0} max={Math.max(1, total)} value={c.count} aria-label={c.value} /> : null}
            </li>
          ))}
        </ul>
      );
    }
    case 'scorecard': {
      const d = result.data;
      return (
        <>
          <p>
            <strong>{d.average_score === null ? '–' : `${d.average_score}%`}</strong> <span class="muted">average over {d.entities_scored}</span>
          </p>
          <ul class="plain">
            {d.levels.map((l) => (
              <li key={l.level} data-level={l.level}>
                <Badge value={l.level} kind="level" /> {l.count}
              </li>
            ))}
            <li data-level="">below the levels: {d.below_levels}</li>
          </ul>
          {d.truncated ? <p class="muted">Over the first 1000 entities.</p> : null}
        </>
      );
    }
    case 'timeline':
      return (
        <ul class="plain">
          {result.data.entries.map((t) => (
            <li key={t.id}>
              <a href={href({ view: 'incident', id: t.incident_id })}>{t.incident_title}</a> <Badge value={t.status} kind="incident" /> {t.message}{' '}
              <span class="muted">{age(t.timestamp, now)}</span>
            </li>
          ))}
        </ul>
      );
  }
}
