// A record page: its fields, relations, incidents, scorecard results and audit history, the
// operational status badge live, and the co-editing panel (coedit.tsx) for the editable fields.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useChanges, useLoad, useNow } from '../hooks.js';
import { isKind, KIND_INFO, type Kind } from '../kinds.js';
import { href } from '../router.js';
import { session } from '../session.js';
import { age, Badge, Loaded } from '../ui.js';
import { CoEdit } from './coedit.js';

type Detail = Record<string, unknown> & { id: string; name: string; row_version: number; updated_at: string };
type Graph = Schemas['RecordGraph'];

/** How an edge reads from the record's side: `from <relation> to` seen from either end. */
const RELATION_LABEL: Record<string, [outgoing: string, incoming: string]> = {
  depends_on: ['Depends on', 'Depended on by'],
  contains: ['Contains', 'Contained in'],
  uses: ['Uses', 'Used by'],
  runs_on: ['Runs on', 'Runs'],
  built_from: ['Built from', 'Builds'],
  owned_by: ['Owned by', 'Owns'],
  member_of: ['Member of', 'Members'],
  assigned_to: ['Assigned to', 'Assigned'],
};

async function loadDetail(kind: Kind, id: string): Promise<Detail> {
  const { data: body, error, response } = await api.GET(`/api/v1/${kind}/{id}` as '/api/v1/services/{id}', { params: { path: { id } } });
  if (!body) throw new Error((error as { detail?: string } | undefined)?.detail ?? `The server answered ${response.status}.`);
  return body.data as unknown as Detail;
}

export function RecordPage({ kind, id }: { kind: string; id: string }) {
  if (!isKind(kind)) return <p role="alert">No such kind: {kind}</p>;
  return <Record key={`${kind}/${id}`} kind={kind} id={id} />;
}

function Record({ kind, id }: { kind: Kind; id: string }) {
  const [load, , reload] = useLoad(() => loadDetail(kind, id), [kind, id]);
  // Any change of this record, or of an incident, may change what the page shows: read it again
  // (one statement on the server), at most once per burst of changes.
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(pending.current), []);
  useChanges(
    (change) => {
      if (change.entity_id !== id && change.entity_type !== 'incidents') return;
      clearTimeout(pending.current);
      pending.current = setTimeout(reload, 150);
    },
    [id],
  );
  return (
    <Loaded load={load}>
      {(record) => (
        <article aria-labelledby="record-title">
          <p>
            <a href={href({ view: 'catalog', kind })}>{KIND_INFO[kind].label}</a>
          </p>
          <h1 id="record-title">
            {record.name} {typeof record.operational_status === 'string' ? <Badge value={record.operational_status} /> : null}
          </h1>
          <Summary record={record} kind={kind} />
          <div class="record-layout">
            <CoEdit kind={kind} id={id} readOnly={!session.can(kind)} />
            <div>
              <Relations kind={kind} record={record} />
              <Incidents list={(record.incidents as Schemas['IncidentSummary'][] | undefined) ?? []} />
              <Scores list={(record.scorecards as Schemas['RecordScore'][] | undefined) ?? []} />
              <History kind={kind} id={id} version={record.row_version} />
            </div>
          </div>
        </article>
      )}
    </Loaded>
  );
}

function Summary({ record, kind }: { record: Detail; kind: Kind }) {
  const shown = ['type', 'status', 'environment', 'provider', 'version', 'email', 'role_title', 'url', 'language'].filter(
    (k) => record[k] !== undefined && record[k] !== null,
  );
  return (
    <dl class="summary">
      {shown.map((k) => (
        <Pair key={k} term={k.replace(/_/g, ' ')}>
          {String(record[k])}
        </Pair>
      ))}
      <Pair term="version">
        {record.row_version} (updated {new Date(record.updated_at).toLocaleString()})
      </Pair>
      <Pair term="kind">{kind}</Pair>
    </dl>
  );
}

function Pair({ term, children }: { term: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}

/**
 * The record's neighbours in its relation graph (one hop, GET /<kind>/:id/graph), grouped by how
 * the edge reads from this record; an assignment's role comes from the record's own list.
 */
function Relations({ kind, record }: { kind: Kind; record: Detail }) {
  const [load] = useLoad(
    () =>
      data(
        api.GET(`/api/v1/${kind}/{id}/graph` as '/api/v1/services/{id}/graph', { params: { path: { id: record.id }, query: { depth: 1, direction: 'both' } } }),
      ),
    [kind, record.id, record.row_version],
  );
  return (
    <section aria-labelledby="relations-title">
      <h2 id="relations-title">Relations</h2>
      <Loaded load={load}>{(graph) => <Neighbours graph={graph} record={record} />}</Loaded>
    </section>
  );
}

function Neighbours({ graph, record }: { graph: Graph; record: Detail }) {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const roles = new Map(((record.assignments as Schemas['Assignment'][] | undefined) ?? []).map((a) => [a.person_id, a.role]));
  const groups = new Map<string, Graph['nodes']>();
  for (const e of graph.edges) {
    const out = e.from === record.id;
    if (!out && e.to !== record.id) continue; // an edge between two neighbours
    const other = nodes.get(out ? e.to : e.from);
    if (!other) continue;
    const label = RELATION_LABEL[e.relation]?.[out ? 0 : 1] ?? `${out ? '' : '← '}${e.relation.replace(/_/g, ' ')}`;
    groups.set(label, [...(groups.get(label) ?? []), other]);
  }
  return (
    <>
      {groups.size === 0 ? <p class="muted">No relations.</p> : null}
      {[...groups].map(([label, list]) => (
        <div key={label} class="relation">
          <h3>{label}</h3>
          <ul>
            {list.map((n) => (
              <li key={n.id}>
                <a href={href({ view: 'record', kind: n.type, id: n.id })}>{n.name}</a> <span class="muted">{n.type}</span>
                {roles.get(n.id) ? <span class="muted"> · {roles.get(n.id)}</span> : null}
              </li>
            ))}
          </ul>
        </div>
      ))}
      {graph.truncated ? <p class="notice">More records are related than the server lists: these are the nearest.</p> : null}
    </>
  );
}

function Incidents({ list }: { list: Schemas['IncidentSummary'][] }) {
  const now = useNow();
  if (!list.length) return null;
  return (
    <section aria-labelledby="incidents-title">
      <h2 id="incidents-title">Incidents</h2>
      <ul>
        {list.map((i) => (
          <li key={i.id}>
            <a href={href({ view: 'incident', id: i.id })}>{i.title}</a> <Badge value={i.severity} kind="severity" /> <Badge value={i.status} kind="incident" />{' '}
            <span class="muted">{age(i.created_at, now)} ago</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Scores({ list }: { list: Schemas['RecordScore'][] }) {
  if (!list.length) return null;
  return (
    <section aria-labelledby="scores-title">
      <h2 id="scores-title">Scorecards</h2>
      <ul>
        {list.map((s) => (
          <li key={s.scorecard_id} data-scorecard-id={s.scorecard_id}>
            <strong>{s.scorecard_name}</strong>: {s.score}%{s.level ? <Badge value={s.level} kind="level" /> : null}
            <span class="muted">
              {' '}
              · passed {s.passed.map((c) => c.name).join(', ') || 'none'} · failed {s.failed.map((c) => c.name).join(', ') || 'none'}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * The record's history for anyone who may read it (its audit entries, with who made each change
 * and every co-editor a write-back wrote for), newest first; read again on every new version.
 */
function History({ kind, id, version }: { kind: Kind; id: string; version: number }) {
  const [load] = useLoad(
    () => data(api.GET(`/api/v1/${kind}/{id}/history` as '/api/v1/services/{id}/history', { params: { path: { id }, query: { limit: 20 } } })),
    [kind, id, version],
  );
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <Loaded load={load}>
        {(entries) => (
          <ol class="history">
            {entries.map((e) => (
              <li key={e.id}>
                <span class="muted">{new Date(e.at).toLocaleString()}</span> {e.action} by {actorName(e)}
                {e.changes ? <span class="muted"> · {Object.keys(e.changes).join(', ')}</span> : null}
              </li>
            ))}
          </ol>
        )}
      </Loaded>
    </section>
  );
}

/** Who made the change: "you", a name, or the co-editors a write-back wrote for. */
function actorName(entry: Schemas['HistoryEntry']): string {
  const { actor, contributors } = entry;
  const me = session.current?.user.id;
  const nameOf = (userId: string | null, name: string | null) => (userId && userId === me ? 'you' : (name ?? 'a former user'));
  if (contributors.length > 1) return contributors.map((c) => nameOf(c.id, c.display_name)).join(', ');
  if (actor.type === 'system') return 'the system';
  const who = nameOf(actor.user_id, actor.display_name);
  return actor.type === 'api_key' ? `${who === 'you' ? 'your' : `${who}'s`} API key` : who;
}
