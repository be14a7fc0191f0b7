// Response headers for a JSON API that no browser should render, frame or cache when it holds a
// secret (helmet), and the guard in front of /metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { bearerToken } from '../bearer.js';
import { NotFound, Unauthorized } from '../errors.js';

/**
 * Nothing here is a page: no source may load from a response, none may be framed (CSP
 * frame-ancestors and X-Frame-Options DENY), types are never sniffed. HSTS only when the operator
 * says the node is reached over TLS (HSTS_MAX_AGE > 0), since a plain-HTTP node would otherwise
 * tell browsers to insist on an HTTPS that is not there.
 */
export function securityHeaders(opts: { hstsMaxAge: number }): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: opts.hstsMaxAge > 0 ? { maxAge: opts.hstsMaxAge, includeSubDomains: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
  }) as RequestHandler;
}

/** For responses that carry a token or a secret: no cache, shared or private, may keep them. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * /metrics: with a token, only `Authorization: Bearer <token>` (401 otherwise, compared in
 * constant time); without one, open in embedded mode (one developer's node) and not served at
 * all in cluster mode, where the port is public.
 */
export function metricsGuard(opts: { token?: string; mode: 'embedded' | 'cluster' }): RequestHandler {
  const expected = opts.token === undefined ? undefined : digest(opts.token);
  return (req, res, next) => {
    if (!expected) {
      next(opts.mode === 'cluster' ? NotFound('No route for GET /metrics.') : undefined);
      return;
    }
    const given = bearerToken(req.get('authorization'));
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="metrics"');
    next(Unauthorized('GET /metrics needs the metrics token as a bearer token.'));
  };
}
