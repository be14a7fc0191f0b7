// Hash routes (`#/board`, `#/incidents/<id>`, `#/catalog/services`, `#/catalog/services/<id>`,
// `#/search/<q>`, `#/dashboards/<id>`):
// every node serves the one page at `/`, and a reload keeps the view.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'board' }
  | { view: 'incident'; id: string }
  | { view: 'search'; q: string }
  | { view: 'catalog'; kind: string }
  | { view: 'record'; kind: string; id: string }
  | { view: 'dashboards'; id?: string }
  | { view: 'activity' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'incidents' && parts[1]) return { view: 'incident', id: parts[1] };
  if (parts[0] === 'search') return { view: 'search', q: parts[1] ?? '' };
  if (parts[0] === 'catalog' && parts[1] && parts[2]) return { view: 'record', kind: parts[1], id: parts[2] };
  if (parts[0] === 'catalog') return { view: 'catalog', kind: parts[1] ?? 'services' };
  if (parts[0] === 'dashboards') return { view: 'dashboards', id: parts[1] };
  if (parts[0] === 'activity') return { view: 'activity' };
  return { view: 'board' };
}

export function href(route: Route): string {
  switch (route.view) {
    case 'board':
      return '#/board';
    case 'incident':
      return `#/incidents/${encodeURIComponent(route.id)}`;
    case 'search':
      return `#/search/${encodeURIComponent(route.q)}`;
    case 'catalog':
      return `#/catalog/${route.kind}`;
    case 'record':
      return `#/catalog/${route.kind}/${encodeURIComponent(route.id)}`;
    case 'dashboards':
      return route.id ? `#/dashboards/${encodeURIComponent(route.id)}` : '#/dashboards';
    case 'activity':
      return '#/activity';
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}
