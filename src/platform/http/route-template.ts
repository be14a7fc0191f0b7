// The route template a request is for (`/api/v1/services/:id`), for log lines and metric labels.
// It is read from the app's router, not from req.route: Express keeps the matched route's mount
// path only while its router runs, and a request refused before its route (a 401 from the auth
// middleware) has none; this way a 401, a 412 or a 404 from a route gets that route's template.
import type { Request } from 'express';

/** The parts of Express 5's router (router 2.3) this reads: the stack of layers and their matchers. */
interface Layer {
  route?: { _handlesMethod(method: string): boolean };
  handle?: { stack?: Layer[] };
  match(path: string): false | { path: string; pattern: unknown };
}

const cache = new WeakMap<Request, string | null>();

function joinPath(base: string, pattern: unknown): string {
  const part = typeof pattern === 'string' ? pattern : String(pattern);
  return base + (part === '/' ? '' : part.replace(/\/+$/, ''));
}

function find(stack: readonly Layer[], path: string, method: string, base: string): string | null {
  for (const layer of stack) {
    let match: ReturnType<Layer['match']>;
    try {
      match = layer.match(path);
    } catch {
      continue; // an undecodable path segment matches nothing here, as in the router
    }
    if (!match) continue;
    if (layer.route) {
      if (layer.route._handlesMethod(method)) return joinPath(base, match.pattern) || '/';
      continue;
    }
    const inner = layer.handle?.stack;
    if (!inner) continue;
    const rest = path.slice(match.path.length);
    if (rest !== '' && !rest.startsWith('/') && match.path !== '') continue; // a mount path matches whole segments
    const found = find(inner, rest.startsWith('/') ? rest : `/${rest}`, method, joinPath(base, match.pattern));
    if (found) return found;
  }
  return null;
}

/** The matched route's template, or null when no route serves this method and path (an unknown URL). */
export function routeTemplate(req: Request): string | null {
  const known = cache.get(req);
  if (known !== undefined) return known;
  const stack = (req.app as unknown as { router?: { stack?: Layer[] } }).router?.stack ?? [];
  const path = req.originalUrl.split('?')[0] || '/';
  const template = find(stack, path, req.method, '');
  cache.set(req, template);
  return template;
}
