// The route template of a request (`/api/v1/services/:id`): what metrics and log lines label a
// request with, never its raw URL, so their series stay bounded. A request that reached a
// documented route carries that route's template; one answered before routing (a 401 from the
// auth gate, a 400 from the body gate) is matched against the documented templates; anything
// else is `unmatched`.
import type { Request, RequestHandler } from 'express';

export const UNMATCHED_ROUTE = 'unmatched';

/** Where the documented routers are mounted (see http.ts). */
const API_BASE = '/api/v1';

const stamped = new WeakMap<Request, string>();

/**
 * Route middleware: records the template of the route handling the request while Express still
 * knows it (an error passed on leaves the routers, and their base paths go with them).
 */
export const stampRouteTemplate: RequestHandler = (req, _res, next) => {
  if (req.route) stamped.set(req, joinTemplate(req.baseUrl, String((req.route as { path: unknown }).path)));
  next();
};

interface CompiledTemplate {
  method: string;
  template: string;
  segments: string[];
}

const documented: CompiledTemplate[] = [];

/** Declares a documented route by its full template, so a request stopped before routing still finds it. */
export function registerDocumentedRoute(method: string, template: string): void {
  const upper = method.toUpperCase();
  if (documented.some((t) => t.method === upper && t.template === template)) return;
  documented.push({
    method: upper,
    template,
    segments: template
      .split('/')
      .slice(1)
      .map((s) => s.toLowerCase()),
  });
}

/** The template to label this request with; call when its response is finished. */
export function routeTemplate(req: Request): string {
  const known = stamped.get(req);
  if (known) return known;
  const matched = matchDocumented(req.method, req.originalUrl);
  if (matched) return matched;
  // Routes outside the documented routers (/healthz, /metrics, /api/v1/openapi.json) answer
  // themselves, so Express's own record of the route and its base path is still whole.
  if (req.route) return joinTemplate(req.baseUrl, String((req.route as { path: unknown }).path));
  return UNMATCHED_ROUTE;
}

function joinTemplate(base: string, path: string): string {
  return `${base}${path === '/' ? '' : path}` || '/';
}

/**
 * The documented template a request would have reached, matched as Express does (static
 * segments case-insensitively, a trailing slash ignored, HEAD as GET, OPTIONS on any method's
 * path); where two templates match, the one with a static segment where the other has a
 * parameter wins, at the first segment in which they differ.
 */
function matchDocumented(method: string, url: string): string | null {
  const pathname = url.split('?', 1)[0];
  if (!pathname.toLowerCase().startsWith(API_BASE)) return null;
  const segments = pathname
    .replace(/\/$/, '')
    .split('/')
    .slice(1)
    .map((s) => s.toLowerCase());
  const wanted = method === 'HEAD' ? 'GET' : method;
  let best: CompiledTemplate | null = null;
  for (const candidate of documented) {
    if (wanted !== 'OPTIONS' && candidate.method !== wanted) continue;
    if (!matches(candidate.segments, segments)) continue;
    if (!best || moreSpecific(candidate.segments, best.segments)) best = candidate;
  }
  return best?.template ?? null;
}

function matches(template: string[], path: string[]): boolean {
  if (template.length !== path.length) return false;
  for (let i = 0; i < template.length; i++) {
    if (template[i].startsWith(':') ? path[i] === '' : template[i] !== path[i]) return false;
  }
  return true;
}

function moreSpecific(a: string[], b: string[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const aParam = a[i].startsWith(':');
    const bParam = b[i].startsWith(':');
    if (aParam !== bParam) return bParam;
  }
  return false;
}
