// An incident's page: its roles (commander, lead, responders), the entities it affects with each
// one's impact and when it started and ended, the durations the server computes from the timeline
// (to identify, mitigate, resolve), and the timeline itself; read again when the incident changes.
import { useEffect, useRef } from 'preact/hooks';
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useChanges, useLoad } from '../hooks.js';
import { href } from '../router.js';
import { session } from '../session.js';
import { Badge, duration, Loaded } from '../ui.js';

type Incident = Schemas['Incident'];

/**
 * Display names by user id: an admin may list the tenant's users; anyone else knows only
 * themselves, and sees the other ids as they are.
 */
function useUserNames(): (id: string) => string {
  const me = session.current?.user;
  const [users] = useLoad(() => (me?.role === 'admin' ? data(api.GET('/api/v1/users')) : Promise.resolve([] as Schemas['User'][])), [me?.id]);
  const names = new Map((users.state === 'ready' ? users.value : []).map((u) => [u.id, u.display_name]));
  if (me) names.set(me.id, me.display_name);
  return (id) => names.get(id) ?? id;
}

export function IncidentPage({ id }: { id: string }) {
  const [load, , reload] = useLoad(() => data(api.GET('/api/v1/incidents/{id}', { params: { path: { id } } })), [id]);
  const nameOf = useUserNames();
  // Its own changes and timeline entries, and a status change of an entity it affects.
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(pending.current), []);
  useChanges(
    (change) => {
      const own = change.entity_id === id || (change.data as { incident_id?: unknown } | null)?.incident_id === id;
      if (!own && load.state === 'ready' && !load.value.affected.some((a) => a.entity_id === change.entity_id)) return;
      clearTimeout(pending.current);
      pending.current = setTimeout(reload, 150);
    },
    [id, load],
  );
  return <Loaded load={load}>{(incident) => <Detail incident={incident} nameOf={nameOf} />}</Loaded>;
}

function Detail({ incident: i, nameOf }: { incident: Incident; nameOf: (id: string) => string }) {
  return (
    <article aria-labelledby="incident-title" data-incident-id={i.id}>
      <p>
        <a href={href({ view: 'board' })}>Status board</a>
      </p>
      <h1 id="incident-title">
        {i.title} <Badge value={i.severity} kind="severity" /> <Badge value={i.status} kind="incident" />
      </h1>
      {i.description ? <p>{i.description}</p> : null}
      <section aria-labelledby="roles-title">
        <h2 id="roles-title">Roles</h2>
        <dl class="summary">
          <dt>commander</dt>
          <dd>{i.commander_id ? nameOf(i.commander_id) : 'none'}</dd>
          <dt>lead</dt>
          <dd>{i.lead_id ? nameOf(i.lead_id) : 'none'}</dd>
          <dt>responders</dt>
          <dd>{i.responder_ids.map(nameOf).join(', ') || 'none'}</dd>
        </dl>
      </section>
      <section aria-labelledby="durations-title">
        <h2 id="durations-title">Durations</h2>
        <dl class="summary">
          <dt>to identify</dt>
          <dd>{duration(i.durations.time_to_identify)}</dd>
          <dt>to mitigate</dt>
          <dd>{duration(i.durations.time_to_mitigate)}</dd>
          <dt>to resolve</dt>
          <dd>{duration(i.durations.time_to_resolve)}</dd>
        </dl>
      </section>
      <section aria-labelledby="affected-title">
        <h2 id="affected-title">Affected</h2>
        {i.affected.length === 0 ? <p class="muted">No entities.</p> : null}
        <ul>
          {i.affected.map((a) => (
            <li key={a.entity_id} data-entity-id={a.entity_id}>
              <a href={href({ view: 'record', kind: a.entity_type, id: a.entity_id })}>{a.name}</a> <Badge value={a.impact_type} kind="impact" />
              {a.inherits_impact ? <span class="muted"> (the incident's)</span> : null}
              <span class="muted">
                {' '}
                · from {new Date(a.started_at).toLocaleString()}
                {a.ended_at ? ` until ${new Date(a.ended_at).toLocaleString()}` : ', ongoing'}
              </span>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <ol class="history">
          {i.timeline.map((t) => (
            <li key={t.id}>
              <span class="muted">{new Date(t.timestamp).toLocaleString()}</span> <Badge value={t.status} kind="incident" /> {t.message}
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}
