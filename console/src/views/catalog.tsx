// A catalog list: search (q), the kind's enum filters, cursor paging (`meta.next_cursor`, the total
// counted on the first page), and operational status badges that follow the live stream.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useChanges, useLoad } from '../hooks.js';
import { isKind, KIND_INFO, KINDS, type Kind } from '../kinds.js';
import { href } from '../router.js';
import { Badge, field, Loaded, text, upsert } from '../ui.js';

export type Row = { id: string; name: string; row_version: number } & Record<string, unknown>;
interface Page {
  rows: Row[];
  total: number;
  next: string | null;
}

/** One list page of any kind (the paths differ only by the kind). */
export async function listPage(kind: Kind, query: Record<string, string | number>): Promise<Page> {
  // The kinds' list operations take the same paging and search parameters; the enum filters are the kind's own.
  const { data, error, response } = await api.GET(`/api/v1/${kind}` as '/api/v1/services', { params: { query: query as never } });
  if (!data) throw new Error((error as { detail?: string } | undefined)?.detail ?? `The server answered ${response.status}.`);
  return { rows: data.data as unknown as Row[], total: data.meta.total, next: data.meta.next_cursor };
}

export function Catalog({ kind }: { kind: string }) {
  if (!isKind(kind)) return <p role="alert">No such kind: {kind}</p>;
  return <KindList key={kind} kind={kind} />;
}

function KindList({ kind }: { kind: Kind }) {
  const info = KIND_INFO[kind];
  const [q, setQ] = useState('');
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const query: Record<string, string | number> = { limit: 25, ...(q ? { q } : {}), ...filters, ...(cursor ? { cursor } : {}) };
  const [load, update] = useLoad(() => listPage(kind, query), [kind, JSON.stringify(query)]);
  useChanges(
    (change) => {
      if (change.entity_type !== kind || !change.data || change.action === 'deleted') return;
      // Only rows already on the page move (a new record shows on the next load, in its sort position).
      update((page) => (page.rows.some((r) => r.id === change.entity_id) ? { ...page, rows: upsert(page.rows, change.data as unknown as Row) } : page));
    },
    [kind],
  );
  const first = cursors.length === 0;
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Catalog</h1>
      <nav aria-label="Kinds" class="tabs">
        {KINDS.map((k) => (
          <a key={k} href={href({ view: 'catalog', kind: k })} aria-current={k === kind ? 'page' : undefined}>
            {KIND_INFO[k].label}
          </a>
        ))}
      </nav>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          setQ(field(f, 'q').trim());
          setFilters(Object.fromEntries(Object.keys(info.enums).flatMap((name) => (field(f, name) ? [[name, field(f, name)]] : []))));
          setCursors([]);
        }}
      >
        <label for="catalog-q">Search {info.label.toLowerCase()}</label>
        <input id="catalog-q" name="q" type="search" maxLength={200} defaultValue={q} />
        {Object.entries(info.enums).map(([name, values]) => (
          <span key={name} class="filter">
            <label for={`filter-${name}`}>{name.replace(/_/g, ' ')}</label>
            <select id={`filter-${name}`} name={name} defaultValue={filters[name] ?? ''}>
              <option value="">any</option>
              {values.map((v) => (
                <option key={v} value={v}>
                  {v.replace(/_/g, ' ')}
                </option>
              ))}
            </select>
          </span>
        ))}
        <button type="submit">Apply</button>
      </form>
      <Loaded load={load}>
        {(page) => (
          <>
            <p class="muted" aria-live="polite">
              {page.total} {info.label.toLowerCase()}
              {first ? '' : ` · page ${cursors.length + 1}`}
            </p>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    {info.columns.map((c) => (
                      <th key={c} scope="col">
                        {c.replace(/_/g, ' ')}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {page.rows.map((r) => (
                    <tr key={r.id} data-id={r.id}>
                      <td>
                        <a href={href({ view: 'record', kind, id: r.id })}>{r.name}</a>
                      </td>
                      {info.columns.map((c) => (
                        <td key={c}>{c === 'operational_status' || c === 'status' ? <Badge value={text(r[c])} /> : text(r[c])}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div class="actions">
              <button type="button" disabled={first} onClick={() => setCursors(cursors.slice(0, -1))}>
                Previous page
              </button>
              <button type="button" disabled={!page.next} onClick={() => page.next && setCursors([...cursors, page.next])}>
                Next page
              </button>
            </div>
          </>
        )}
      </Loaded>
    </section>
  );
}
