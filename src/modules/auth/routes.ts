// Sign-up and login: the only routes that take no bearer token.
import { documentedRouter } from '../../platform/http/openapi.js';
import { loginInput, signupInput } from './schemas.js';
import type { AuthService } from './service.js';

export function authRoutes(services: { auth: AuthService }) {
  const api = documentedRouter('/auth', 'auth');
  api.op('post', '/signup', { summary: 'Create a tenant and its first admin', body: signupInput, status: 201, public: true, secret: true }, async (req, res) => {
    res.status(201).json({ data: await services.auth.signup(req.body ?? {}, { requestId: req.id, ip: req.ip }) });
  });
  api.op('post', '/login', { summary: 'Exchange tenant, email and password for an access token', body: loginInput, public: true, secret: true }, async (req, res) => {
    res.json({ data: await services.auth.login(req.body ?? {}) });
  });
  return api;
}
