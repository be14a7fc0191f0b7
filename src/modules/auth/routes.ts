// Sign-up and login, the only routes that take no bearer token; and the session routes that act on
// the caller's own login token (renew it, end every session).
import { z } from 'zod';
import { bearerToken } from '../../platform/bearer.js';
import { documentedRouter } from '../../platform/http/openapi.js';
import { requestMeta } from '../../platform/http/middleware.js';
import { ctxOf } from '../../platform/http/respond.js';
import { named } from '../../platform/schema-kit.js';
import { Tenant } from '../tenants/schemas.js';
import { User } from '../users/schemas.js';
import type { UserService } from '../users/service.js';
import { accessToken, loginInput, signupInput } from './schemas.js';
import type { AuthService } from './service.js';

const AUTH = 'Sign-up, login and sessions.';
const AccessToken = named('AccessToken', accessToken);

const SignupResult = named(
  'SignupResult',
  z
    .object({
      tenant: Tenant,
      user: User,
      access_token: accessToken.shape.access_token,
    })
    .describe('The new tenant, its first admin and a login token for them'),
);

const LoginResult = named('LoginResult', accessToken.extend({ user: User }).describe('A login token and who it is for'));

export function authRoutes(services: { auth: AuthService }) {
  const api = documentedRouter('/auth', 'auth', AUTH);
  api.op(
    'post',
    '/signup',
    {
      operationId: 'signup',
      summary: 'Create a tenant and its first admin',
      description:
        'Creates a tenant (its name and slug unique: 409 when taken) with an admin user, and logs them in. ' +
        'Rate-limited per client address (429 with `Retry-After`).',
      body: named('SignupInput', signupInput),
      example: {
        tenant_name: 'Acme',
        tenant_slug: 'acme',
        email: 'admin@acme.example',
        password: 'a long and unusual passphrase 42',
        display_name: 'Ada Admin',
      },
      response: SignupResult,
      status: 201,
      public: true,
      secret: true,
      errors: [409, 429],
    },
    async (req, res) => {
      res.status(201).json({ data: await services.auth.signup(req.body ?? {}, requestMeta(req)) });
    },
  );
  api.op(
    'post',
    '/login',
    {
      operationId: 'login',
      summary: 'Log in',
      description:
        'Exchanges tenant slug, email and password for a login token. A wrong password, an unknown user and a ' +
        'deactivated one are the same 401. Failures are rate-limited per account and address (429 with `Retry-After`).',
      body: named('LoginInput', loginInput),
      example: { tenant_slug: 'acme', email: 'admin@acme.example', password: 'a long and unusual passphrase 42' },
      response: LoginResult,
      public: true,
      secret: true,
      errors: [401, 429],
    },
    async (req, res) => {
      res.json({ data: await services.auth.login(req.body ?? {}, requestMeta(req)) });
    },
  );
  return api;
}

/** Mounted behind authentication: the bearer is a valid login token (or a key, which they refuse). */
export function sessionRoutes(services: { auth: AuthService; users: UserService }) {
  const api = documentedRouter('/auth', 'auth', AUTH);
  api.op(
    'post',
    '/refresh',
    {
      operationId: 'refreshToken',
      summary: 'Renew a login token',
      description:
        'A new token for the same session (same token version) with a new expiry. Only a valid login token ' +
        'is renewed: an API key, an expired token or one of an ended session is a 401.',
      response: AccessToken,
      secret: true,
      loginOnly: true,
      // A token is never stored for a replay.
      idempotencyKey: false,
    },
    async (req, res) => {
      res.json({ data: await services.auth.refresh(bearerToken(req.get('authorization'))) });
    },
  );
  api.op(
    'post',
    '/logout',
    {
      operationId: 'logout',
      summary: 'Log out everywhere',
      description:
        "Ends every session of the caller's user at once: every login token issued before, on REST, " + 'live sockets and co-editing. API keys stay valid.',
      status: 204,
      loginOnly: true,
      idempotencyKey: false,
    },
    async (req, res) => {
      await services.users.endSessions(ctxOf(req));
      res.status(204).end();
    },
  );
  return api;
}
