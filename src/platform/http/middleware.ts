// Request ids and bearer authentication, ahead of every route.
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Knex } from 'knex';
import { bearerToken } from '../bearer.js';
import type { Actor } from '../context.js';

const REQUEST_ID = /^[\w.:-]{1,100}$/;

/** Every response carries X-Request-Id: the caller's, if it is sane, else a new one. */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  req.id = given && REQUEST_ID.test(given) ? given : randomUUID();
  res.set('X-Request-Id', req.id);
  next();
};

/** The longest User-Agent an audit entry keeps; the rest is cut. */
const USER_AGENT_MAX = 512;

/** What the audit log keeps of the request a write comes from: its id, the client's address and its User-Agent. */
export function requestMeta(req: Request): { requestId: string; ip: string | undefined; userAgent: string | undefined } {
  return { requestId: req.id, ip: req.ip, userAgent: req.get('user-agent')?.slice(0, USER_AGENT_MAX) };
}

export type Authenticate = (token: string | undefined) => Promise<{ tenantId: string; actor: Actor }>;

/** Resolves the bearer token into req.ctx; 401 (via the error handler) when it is missing or bad. */
export function requireAuth(authenticate: Authenticate, db: Knex): RequestHandler {
  return async (req, _res, next) => {
    const principal = await authenticate(bearerToken(req.get('authorization')));
    req.ctx = { tenantId: principal.tenantId, actor: principal.actor, db, ...requestMeta(req), origin: 'rest' };
    next();
  };
}
