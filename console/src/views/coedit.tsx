// Co-editing a record through the stock y-websocket provider: the layout's `fields` (Y.Map),
// `description` (Y.Text) and `attributes` (Y.Map) bound to form controls, presence from awareness
// (who is here and which field they are in; the server sets each state's `user`), read-only for
// those who may not write, and the projection's notices (an edit the API refuses) for the editors.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { api, data } from '../api.js';
import { useLoad } from '../hooks.js';
import { KIND_INFO, type Kind } from '../kinds.js';
import { session } from '../session.js';
import { text } from '../ui.js';

interface Peer {
  clientId: number;
  user: { id: string; name: string; role: string };
  focus?: string | null;
}
interface Notice {
  status: string;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/** Replaces `next` into a Y.Text with one delete and one insert around the common prefix and suffix. */
export function applyTextDiff(text: Y.Text, next: string): void {
  const prev = text.toString();
  if (prev === next) return;
  let start = 0;
  while (start < prev.length && start < next.length && prev[start] === next[start]) start++;
  let end = 0;
  while (end < prev.length - start && end < next.length - start && prev[prev.length - 1 - end] === next[next.length - 1 - end]) end++;
  text.doc!.transact(() => {
    if (prev.length - start - end > 0) text.delete(start, prev.length - start - end);
    if (next.length - start - end > 0) text.insert(start, next.slice(start, next.length - end));
  });
}

export function CoEdit({ kind, id, readOnly }: { kind: Kind; id: string; readOnly: boolean }) {
  const doc = useMemo(() => new Y.Doc(), [kind, id]);
  const [provider, setProvider] = useState<WebsocketProvider | null>(null);
  const [synced, setSynced] = useState(false);
  const [closed, setClosed] = useState<string | null>(null);
  const [, setTick] = useState(0);
  /** Attribute keys seen holding a number: their input stays a number (empty is null). */
  const numeric = useRef(new Set<string>());
  const [peers, setPeers] = useState<Peer[]>([]);
  const [notice, setNotice] = useState<Notice | null>(null);

  useEffect(() => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`;
    // BroadcastChannel off: another tab may be signed in as someone else (sessionStorage is per tab).
    const p = new WebsocketProvider(url, `${kind}/${id}`, doc, { params: { token: session.token() ?? '' }, disableBc: true });
    // Announce ourselves: Awareness starts every client at clock 0, which peers never apply, so a
    // state must be set once for the others to see us (the server fills in `user`).
    p.awareness.setLocalState({ focus: null });
    setProvider(p);
    p.on('sync', (s: boolean) => setSynced(s));
    p.on('connection-close', (event: CloseEvent | null) => {
      if (event && event.code >= 4400 && event.code < 4500) {
        setClosed(`${event.code} ${event.reason}`);
        p.shouldConnect = false; // final: 4401, 4403, 4404, …
        if (event.code === 4401) session.end('Your session has ended. Sign in again.');
      }
    });
    const onAwareness = () => {
      const list: Peer[] = [];
      let projection: Notice | null = null;
      for (const [clientId, state] of p.awareness.getStates()) {
        const st = state as { user?: Peer['user']; focus?: string; server?: boolean; projection?: Notice };
        if (st.server && st.projection) projection = st.projection;
        else if (st.user && clientId !== doc.clientID) list.push({ clientId, user: st.user, focus: st.focus });
      }
      setPeers(list);
      setNotice(projection);
    };
    p.awareness.on('change', onAwareness);
    const bump = () => setTick((t) => t + 1);
    doc.on('update', bump);
    return () => {
      doc.off('update', bump);
      p.awareness.off('change', onAwareness);
      p.destroy();
      doc.destroy();
    };
  }, [doc]);

  const [teamList] = useLoad(() => data(api.GET('/api/v1/teams', { params: { query: { limit: 200, sort: 'name' } } })), []);
  const teams = teamList.state === 'ready' ? teamList.value : [];
  const fields = doc.getMap<unknown>('fields');
  const attributes = doc.getMap<unknown>('attributes');
  const focus = (field: string | null) => provider?.awareness.setLocalStateField('focus', field);
  const here = (field: string) => peers.filter((p) => p.focus === field).map((p) => p.user.name);
  const enums = KIND_INFO[kind].enums;
  const editable = !readOnly && synced && !closed;

  return (
    <section aria-labelledby="coedit-title" class="coedit">
      <h2 id="coedit-title">Edit together</h2>
      <p class="muted" aria-live="polite" data-coedit-state={closed ? 'closed' : synced ? 'synced' : 'connecting'}>
        {closed
          ? `Co-editing closed (${closed}).`
          : synced
            ? readOnly
              ? 'Read-only: your role cannot edit this record.'
              : 'Changes are saved as you type.'
            : 'Connecting…'}
      </p>
      <p class="presence" aria-label="Who is here">
        {peers.length
          ? `Also here: ${peers.map((p) => `${p.user.name}${p.focus ? ` (in ${p.focus.replace(/_/g, ' ')})` : ''}`).join(', ')}`
          : 'Nobody else is here.'}
      </p>
      {notice && notice.status !== 'ok' && !readOnly ? (
        <div class="error" role="alert" data-projection={notice.status}>
          <p>
            Not saved to the record ({notice.status}): {notice.detail}
          </p>
          <ul>
            {(notice.errors ?? []).map((e) => (
              <li key={e.path}>
                {e.path}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <form class="fields" onSubmit={(e) => e.preventDefault()}>
        {[...fields.keys()].sort(fieldOrder).map((key) => {
          const value = fields.get(key);
          const inputId = `field-${key}`;
          const others = here(key);
          const set = (v: unknown) => doc.transact(() => fields.set(key, v));
          return (
            <div key={key} class="field">
              <label for={inputId}>
                {key.replace(/_/g, ' ')}
                {others.length ? <span class="peer-focus"> · {others.join(', ')}</span> : null}
              </label>
              {key === 'team_id' ? (
                <select
                  id={inputId}
                  disabled={!editable}
                  value={text(value)}
                  onChange={(e) => set(e.currentTarget.value || null)}
                  onFocus={() => focus(key)}
                  onBlur={() => focus(null)}
                >
                  <option value="">(no team)</option>
                  {teams.map((t) => (
                    <option key={t.id} value={t.id}>
                      {t.name}
                    </option>
                  ))}
                  {value && !teams.some((t) => t.id === value) ? <option value={text(value)}>{text(value)}</option> : null}
                </select>
              ) : enums[key] ? (
                <select
                  id={inputId}
                  disabled={!editable}
                  value={text(value)}
                  onChange={(e) => set(e.currentTarget.value)}
                  onFocus={() => focus(key)}
                  onBlur={() => focus(null)}
                >
                  {enums[key].map((v) => (
                    <option key={v} value={v}>
                      {v.replace(/_/g, ' ')}
                    </option>
                  ))}
                </select>
              ) : key === 'tags' ? (
                // A list replaced whole: taken when the field is left (or Enter), so a half-typed tag is not cut.
                <input
                  id={inputId}
                  key={JSON.stringify(value)}
                  readOnly={!editable}
                  defaultValue={Array.isArray(value) ? value.join(', ') : ''}
                  aria-describedby={`${inputId}-hint`}
                  onChange={(e) => set(parseField(key, e.currentTarget.value))}
                  onFocus={() => focus(key)}
                  onBlur={() => focus(null)}
                />
              ) : (
                <input
                  id={inputId}
                  readOnly={!editable}
                  value={text(value)}
                  onInput={(e) => set(parseField(key, e.currentTarget.value))}
                  onFocus={() => focus(key)}
                  onBlur={() => focus(null)}
                />
              )}
              {key === 'tags' ? (
                <small id={`${inputId}-hint`} class="muted">
                  Comma-separated
                </small>
              ) : null}
            </div>
          );
        })}
        {KIND_INFO[kind].description ? <Description doc={doc} editable={editable} onFocus={focus} others={here('description')} /> : null}
        {KIND_INFO[kind].attributes && attributes.size ? (
          <fieldset>
            <legend>Attributes</legend>
            {[...attributes.keys()].sort().map((key) => {
              const value = attributes.get(key);
              if (typeof value === 'number') numeric.current.add(key);
              const set = (next: unknown) => doc.transact(() => attributes.set(key, next));
              const shared = { id: `attr-${key}`, onFocus: () => focus(`attributes.${key}`), onBlur: () => focus(null) };
              return (
                <div key={key} class="field">
                  <label for={`attr-${key}`}>{key}</label>
                  {typeof value === 'boolean' ? (
                    <input {...shared} type="checkbox" disabled={!editable} checked={value} onChange={(e) => set(e.currentTarget.checked)} />
                  ) : Array.isArray(value) ? (
                    <ListInput {...shared} readOnly={!editable} value={value.map(text)} onList={set} />
                  ) : (
                    <input
                      {...shared}
                      readOnly={!editable}
                      value={text(value)}
                      onInput={(e) => set(numeric.current.has(key) ? asNumber(e.currentTarget.value) : e.currentTarget.value)}
                    />
                  )}
                </div>
              );
            })}
          </fieldset>
        ) : null}
      </form>
    </section>
  );
}

/** A numeric attribute's input: a number while it reads as one, null when emptied (the server checks the rest). */
function asNumber(input: string): number | string | null {
  if (input.trim() === '') return null;
  return Number.isFinite(Number(input)) ? Number(input) : input;
}

/**
 * A list of names as one comma-separated input. While it has the focus it shows what is typed (a
 * trailing comma starts the next item), so an edit arriving meanwhile does not reset it.
 */
function ListInput(props: { id: string; readOnly: boolean; value: string[]; onList: (items: string[]) => void; onFocus: () => void; onBlur: () => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  const { value, onList, onFocus, onBlur, ...rest } = props;
  return (
    <input
      {...rest}
      value={draft ?? value.join(', ')}
      onFocus={() => {
        setDraft(value.join(', '));
        onFocus();
      }}
      onInput={(e) => {
        const typed = e.currentTarget.value;
        setDraft(typed);
        onList(
          typed
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean),
        );
      }}
      onBlur={() => {
        setDraft(null);
        onBlur();
      }}
    />
  );
}

/** The description as a textarea over Y.Text: local input as a minimal diff, remote edits keep the caret. */
function Description({ doc, editable, onFocus, others }: { doc: Y.Doc; editable: boolean; onFocus: (f: string | null) => void; others: string[] }) {
  const text = doc.getText('description');
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const area = ref.current!;
    area.value = text.toString();
    const onRemote = (event: Y.YTextEvent) => {
      if (event.transaction.local) return;
      const [start, end] = [area.selectionStart, area.selectionEnd];
      // Move the caret with the text before it: count what the remote change inserted or deleted before it.
      let index = 0;
      let shiftStart = 0;
      let shiftEnd = 0;
      for (const op of event.delta) {
        if (op.retain) index += op.retain;
        else if (op.insert) {
          const n = typeof op.insert === 'string' ? op.insert.length : 1;
          if (index <= start) shiftStart += n;
          if (index <= end) shiftEnd += n;
          index += n;
        } else if (op.delete) {
          if (index < start) shiftStart -= Math.min(op.delete, start - index);
          if (index < end) shiftEnd -= Math.min(op.delete, end - index);
        }
      }
      area.value = text.toString();
      if (document.activeElement === area) area.setSelectionRange(start + shiftStart, end + shiftEnd);
    };
    text.observe(onRemote);
    return () => text.unobserve(onRemote);
  }, [text]);
  return (
    <div class="field">
      <label for="field-description">description{others.length ? <span class="peer-focus"> · {others.join(', ')}</span> : null}</label>
      <textarea
        id="field-description"
        ref={ref}
        rows={6}
        readOnly={!editable}
        onInput={(e) => applyTextDiff(text, e.currentTarget.value)}
        onFocus={() => onFocus('description')}
        onBlur={() => onFocus(null)}
      />
    </div>
  );
}

const FIRST = ['name', 'type', 'status', 'operational_status'];
function fieldOrder(a: string, b: string): number {
  const ia = FIRST.indexOf(a);
  const ib = FIRST.indexOf(b);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
}

function parseField(key: string, raw: string): unknown {
  if (key === 'tags')
    return raw
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  if (key.endsWith('_id')) return raw.trim() === '' ? null : raw.trim();
  return raw;
}
