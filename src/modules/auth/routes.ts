// Sign-up and login, the only routes that take no bearer token; and the session routes that act on
// the caller's own login token (renew it, end every session).
import { bearerToken } from '../../platform/bearer.js';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf } from '../../platform/http/respond.js';
import type { UserService } from '../users/service.js';
import { accessToken, loginInput, signupInput } from './schemas.js';
import type { AuthService } from './service.js';

export function authRoutes(services: { auth: AuthService }) {
  const api = documentedRouter('/auth', 'auth');
  api.op('post', '/signup', { summary: 'Create a tenant and its first admin', body: signupInput, status: 201, public: true, secret: true }, async (req, res) => {
    res.status(201).json({ data: await services.auth.signup(req.body ?? {}, { requestId: req.id, ip: req.ip }) });
  });
  api.op('post', '/login', { summary: 'Exchange tenant, email and password for an access token', body: loginInput, public: true, secret: true }, async (req, res) => {
    res.json({ data: await services.auth.login(req.body ?? {}, { ip: req.ip }) });
  });
  return api;
}

/** Mounted behind authentication: the bearer is a valid login token (or a key, which they refuse). */
export function sessionRoutes(services: { auth: AuthService; users: UserService }) {
  const api = documentedRouter('/auth', 'auth');
  api.op('post', '/refresh', {
    summary: 'Renew a valid login token: a new token for the same session (same token version) with a new expiry',
    response: accessToken,
    secret: true,
    // A token is never stored for a replay.
    idempotencyKey: false,
  }, async (req, res) => {
    res.json({ data: await services.auth.refresh(bearerToken(req.get('authorization'))) });
  });
  api.op('post', '/logout', {
    summary: "Log out: ends every session of the caller's user at once (every login token issued before, on REST, "
      + 'live sockets and co-editing); API keys stay valid',
    status: 204,
    idempotencyKey: false,
  }, async (req, res) => {
    await services.users.endSessions(ctxOf(req));
    res.status(204).end();
  });
  return api;
}
