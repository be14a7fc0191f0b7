// The status board: active incidents with severity, status, age and latest timeline entry, the
// entities they affect with their live operational status, and (when the role allows) creating an
// incident and posting an update. Everything follows the live `change` stream in seq order.
import { useState } from 'preact/hooks';
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useChanges, useLoad, useNow } from '../hooks.js';
import { href } from '../router.js';
import { session } from '../session.js';
import { age, Badge, ErrorLine, field, Loaded } from '../ui.js';

type Incident = Schemas['Incident'];
type Status = Incident['status'];
const STATUSES: Status[] = ['investigating', 'identified', 'monitoring', 'resolved'];
const SEVERITY_RANK = { critical: 0, major: 1, minor: 2 } as const;

async function loadIncidents(): Promise<Incident[]> {
  const page = await data(api.GET('/api/v1/incidents', { params: { query: { limit: 100 } } }));
  // The list leaves the timeline out: read it for the active ones and the last few resolved.
  const active = page.filter((i) => i.status !== 'resolved');
  const resolved = page.filter((i) => i.status === 'resolved').slice(0, 5);
  return Promise.all([...active, ...resolved].map((i) => data(api.GET('/api/v1/incidents/{id}', { params: { path: { id: i.id } } }))));
}

/** Applies one change to the board's incidents; other kinds move the affected entities' badges. */
export function applyChange(list: Incident[], change: { entity_type: string; entity_id: string | null; action: string; data: unknown }): Incident[] {
  const d = change.data as Record<string, unknown> | null;
  if (change.entity_type === 'incidents') {
    if (change.action === 'timeline_entry' && d) {
      const entry = d as unknown as Schemas['TimelineEntry'];
      return list.map((i) => (i.id === entry.incident_id && !i.timeline.some((t) => t.id === entry.id) ? { ...i, timeline: [...i.timeline, entry] } : i));
    }
    if (change.action === 'deleted') return list.filter((i) => i.id !== change.entity_id);
    if (d && Array.isArray(d.timeline)) {
      const next = d as unknown as Incident;
      const prev = list.find((i) => i.id === next.id);
      if (prev && prev.row_version > next.row_version) return list;
      return prev ? list.map((i) => (i.id === next.id ? next : i)) : [next, ...list];
    }
    return list;
  }
  const status = d && typeof d.operational_status === 'string' ? d.operational_status : undefined;
  if (!status) return list;
  return list.map((i) =>
    i.affected.some((a) => a.entity_id === change.entity_id)
      ? { ...i, affected: i.affected.map((a) => (a.entity_id === change.entity_id ? { ...a, operational_status: status } : a)) }
      : i,
  );
}

export function Board() {
  const [load, update] = useLoad(loadIncidents, []);
  useChanges((change) => update((list) => applyChange(list, change)));
  const now = useNow(15_000);
  const canWrite = session.can('incidents');
  return (
    <section aria-labelledby="board-title">
      <h1 id="board-title">Status board</h1>
      <Loaded load={load}>
        {(list) => {
          const active = list
            .filter((i) => i.status !== 'resolved')
            .sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.created_at.localeCompare(a.created_at));
          const resolved = list.filter((i) => i.status === 'resolved').sort((a, b) => (b.resolved_at ?? '').localeCompare(a.resolved_at ?? ''));
          return (
            <>
              <h2>Active incidents ({active.length})</h2>
              {active.length === 0 ? <p class="muted">No active incidents: everything is operational.</p> : null}
              <ul class="incidents" aria-label="Active incidents">
                {active.map((i) => (
                  <IncidentCard key={i.id} incident={i} now={now} canWrite={canWrite} />
                ))}
              </ul>
              {canWrite ? <CreateIncident /> : null}
              <h2>Recently resolved</h2>
              <ul class="incidents" aria-label="Recently resolved incidents">
                {resolved.slice(0, 5).map((i) => (
                  <IncidentCard key={i.id} incident={i} now={now} canWrite={false} />
                ))}
              </ul>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}

function IncidentCard({ incident: i, now, canWrite }: { incident: Incident; now: number; canWrite: boolean }) {
  const latest = i.timeline[i.timeline.length - 1];
  return (
    <li class={`card incident severity-${i.severity}`} data-incident-id={i.id} data-status={i.status}>
      <h3>
        <a href={href({ view: 'incident', id: i.id })}>{i.title}</a>
      </h3>
      <p class="meta">
        <Badge value={i.severity} kind="severity" /> <Badge value={i.status} kind="incident" /> <Badge value={i.impact_type} kind="impact" />{' '}
        <span title={i.created_at}>
          {i.status === 'resolved' && i.resolved_at ? `resolved after ${age(i.created_at, Date.parse(i.resolved_at))}` : `open for ${age(i.created_at, now)}`}
        </span>
      </p>
      {latest ? (
        <p class="latest">
          <span class="muted">{new Date(latest.timestamp).toLocaleTimeString()}</span> {latest.message}
        </p>
      ) : null}
      <ul class="affected" aria-label={`Affected by ${i.title}`}>
        {i.affected.map((a) => (
          <li key={a.entity_id} data-entity-id={a.entity_id}>
            <a href={href({ view: 'record', kind: a.entity_type, id: a.entity_id })}>{a.name}</a> <Badge value={a.operational_status} />
          </li>
        ))}
      </ul>
      {canWrite && i.status !== 'resolved' ? <PostUpdate incident={i} /> : null}
    </li>
  );
}

function PostUpdate({ incident }: { incident: Incident }) {
  const [message, setMessage] = useState('');
  const [status, setStatus] = useState<Status | ''>('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = STATUSES.slice(STATUSES.indexOf(incident.status) + 1);
  const id = `update-${incident.id}`;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await data(api.POST('/api/v1/incidents/{id}/updates', { params: { path: { id: incident.id } }, body: { message, ...(status ? { status } : {}) } }));
      setMessage('');
      setStatus('');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="post-update" onSubmit={(e) => void submit(e)} aria-label={`Post an update to ${incident.title}`}>
      <label for={`${id}-message`}>Update</label>
      <textarea id={`${id}-message`} required maxLength={10_000} value={message} onInput={(e) => setMessage(e.currentTarget.value)} rows={2} />
      <label for={`${id}-status`}>Move to</label>
      <select id={`${id}-status`} value={status} onChange={(e) => setStatus(e.currentTarget.value as Status | '')}>
        <option value="">(keep {incident.status})</option>
        {next.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <button type="submit" disabled={busy}>
        Post update
      </button>
      <ErrorLine message={error} />
    </form>
  );
}

function CreateIncident() {
  const [services] = useLoad(() => data(api.GET('/api/v1/services', { params: { query: { limit: 100, sort: 'name' } } })), []);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const affected = f.getAll('affected').flatMap((id) => (typeof id === 'string' ? [{ entity_type: 'services' as const, entity_id: id }] : []));
    setError(null);
    try {
      await data(
        api.POST('/api/v1/incidents', {
          body: {
            title: field(f, 'title'),
            severity: f.get('severity') as Incident['severity'],
            impact_type: f.get('impact_type') as Incident['impact_type'],
            affected,
            message: field(f, 'message') || undefined,
          },
        }),
      );
      form.reset();
      setOpen(false);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Declare an incident
      </button>
    );
  return (
    <form class="card create-incident" onSubmit={(e) => void submit(e)} aria-label="Declare an incident">
      <label for="ci-title">Title</label>
      <input id="ci-title" name="title" required maxLength={255} />
      <label for="ci-severity">Severity</label>
      <select id="ci-severity" name="severity">
        <option>critical</option>
        <option selected>major</option>
        <option>minor</option>
      </select>
      <label for="ci-impact">Impact</label>
      <select id="ci-impact" name="impact_type">
        <option>outage</option>
        <option selected>degraded</option>
      </select>
      <label for="ci-affected">Affected services</label>
      <select id="ci-affected" name="affected" multiple size={5}>
        {services.state === 'ready' ? services.value.map((s) => <option value={s.id}>{s.name}</option>) : null}
      </select>
      <label for="ci-message">First update</label>
      <textarea id="ci-message" name="message" rows={2} maxLength={10_000} />
      <div class="actions">
        <button type="submit">Declare</button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      <ErrorLine message={error} />
    </form>
  );
}
