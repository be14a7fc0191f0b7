// Users (admin) and the caller's own identity.
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from '../../platform/http/respond.js';
import { userCreate, userUpdate } from './schemas.js';
import type { UserService } from './service.js';

export function userRoutes(services: { users: UserService }) {
  const api = documentedRouter('/users', 'users');
  const { users } = services;
  api.op('get', '/', { summary: 'List users (admin)' }, async (req, res) => {
    res.json({ data: await users.list(ctxOf(req), { includeDeleted: req.query.include_deleted === 'true' }) });
  });
  api.op('post', '/', { summary: 'Create a user (admin); no password for SSO-only users', body: userCreate, status: 201 }, async (req, res) => {
    sendCreated(req, res, await users.create(ctxOf(req), req.body ?? {}));
  });
  api.op('get', '/:id', { summary: 'Read a user (admin, or yourself)' }, async (req, res) => {
    sendData(res, await users.get(ctxOf(req), idParam(req)));
  });
  api.op('patch', '/:id', { summary: 'Change role, name, password or deactivate (admin)', body: userUpdate }, async (req, res) => {
    sendData(res, await users.update(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) }));
  });
  api.op('delete', '/:id', { summary: 'Delete a user: they can no longer log in (admin)', status: 204 }, async (req, res) => {
    await users.remove(ctxOf(req), idParam(req));
    res.status(204).end();
  });
  return api;
}

export function meRoutes(services: { users: UserService }) {
  const api = documentedRouter('/me', 'auth');
  api.op('get', '/', { summary: 'The caller: user, tenant and how they are authenticated' }, async (req, res) => {
    const ctx = ctxOf(req);
    const user = await services.users.get(ctx, ctx.actor.userId!);
    res.json({
      data: {
        user,
        tenant_id: ctx.tenantId,
        actor: { type: ctx.actor.type, id: ctx.actor.id, role: ctx.actor.role, can_write: ctx.actor.canWrite },
      },
    });
  });
  return api;
}
