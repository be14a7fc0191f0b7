// Search across kinds: the header's box goes to `#/search/<q>`, which lists what
// GET /api/v1/search finds (exact names first, then prefixes, then similar names), each hit linking
// to its record's page (an incident's page for incidents) and saying how it matched.
import type { Schemas } from '../../client/index.js';
import { api, data } from '../api.js';
import { useLoad } from '../hooks.js';
import { href, type Route } from '../router.js';
import { Badge, field, Loaded } from '../ui.js';

type Hit = Schemas['SearchHit'];

export function hitRoute(hit: Hit): Route {
  return hit.type === 'incidents' ? { view: 'incident', id: hit.id } : { view: 'record', kind: hit.type, id: hit.id };
}

/** The header's search box. */
export function SearchBox({ q }: { q: string }) {
  const submit = (e: Event) => {
    e.preventDefault();
    const next = field(new FormData(e.currentTarget as HTMLFormElement), 'q').trim();
    if (next) location.hash = href({ view: 'search', q: next });
  };
  return (
    <form role="search" class="search" onSubmit={submit}>
      <input aria-label="Search every kind" name="q" type="search" maxLength={255} placeholder="Search…" defaultValue={q} key={q} />
      <button type="submit">Search</button>
    </form>
  );
}

export function SearchResults({ q }: { q: string }) {
  const [load] = useLoad(() => (q ? data(api.GET('/api/v1/search', { params: { query: { q, limit: 50 } } })) : Promise.resolve([] as Hit[])), [q]);
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search: {q}</h1>
      <Loaded load={load}>
        {(hits) =>
          hits.length === 0 ? (
            <p class="muted">Nothing matches.</p>
          ) : (
            <ul class="search-results" aria-label="Search results">
              {hits.map((h) => (
                <li key={`${h.type}/${h.id}`} data-match={h.match}>
                  <a href={href(hitRoute(h))}>{h.name}</a> <span class="muted">{h.type}</span> <Badge value={h.match} kind="match" />
                  {Object.keys(h.summary).length ? (
                    <span class="muted">
                      {' '}
                      ·{' '}
                      {Object.entries(h.summary)
                        .map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`)
                        .join(', ')}
                    </span>
                  ) : null}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
    </section>
  );
}
