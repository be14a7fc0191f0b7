// CORS for the HTTP API (the `cors` package): an allowed origin gets the allowance, with the
// request headers the API reads and the response headers a client needs; every other origin gets
// none, so its browser withholds the response. Preflights are answered here, before authentication.
import cors, { type CorsOptions, type CorsOptionsDelegate } from 'cors';
import type { RequestHandler } from 'express';
import type { OriginPolicy } from '../origins.js';

/** Request headers a browser client may send (beyond the CORS-safelisted ones). */
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'Idempotency-Key', 'X-Request-Id'] as const;
/** Response headers a browser client may read (beyond the CORS-safelisted ones). */
export const CORS_EXPOSED_HEADERS = ['ETag', 'Location', 'X-Request-Id', 'Retry-After'] as const;
/** How long a browser may reuse a preflight's answer (seconds). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * The options for one request: the allowance for an allowed origin, none otherwise. Tokens travel
 * in the Authorization header, never in cookies, so no credentials are allowed. Socket.IO takes
 * this delegate for its polling transport. Both answers are built once: the cors package copies
 * the options it is handed before it touches them.
 */
export function corsOptions(policy: OriginPolicy, methods: readonly string[], allowedHeaders: readonly string[] = CORS_ALLOWED_HEADERS): CorsOptionsDelegate {
  const common = {
    methods: [...methods],
    allowedHeaders: [...allowedHeaders],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  };
  const allowance: CorsOptions = { ...common, origin: true };
  const none: CorsOptions = { ...common, origin: false };
  return (req, callback) => {
    callback(null, req.headers.origin !== undefined && policy.allows({ headers: req.headers }) ? allowance : none);
  };
}

/**
 * Express: the allowance for allowed origins; a preflight from any other origin is answered too
 * (204 without an allowance, so its browser stops there) rather than reaching authentication.
 * Every answer varies by Origin, so no cache hands one origin's answer to another. A request
 * without an Origin is no browser's cross-origin request and gets nothing else (the cors package
 * would add nothing to it either), so it skips the package.
 */
export function corsMiddleware(policy: OriginPolicy): RequestHandler {
  const allowance = cors(corsOptions(policy, ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'])) as RequestHandler;
  return (req, res, next) => {
    res.vary('Origin');
    if (req.headers.origin === undefined) {
      next();
      return;
    }
    if (req.method === 'OPTIONS' && !policy.allows(req)) {
      res.status(204).set('Content-Length', '0').end();
      return;
    }
    allowance(req, res, next);
  };
}
