// Users (admin) and the caller's own identity.
import { z } from 'zod';
import { USER_ROLES } from '../../platform/context.js';
import { validationError } from '../../platform/errors.js';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from '../../platform/http/respond.js';
import { named, recordId } from '../../platform/schema-kit.js';
import { writableTypes } from '../access/policy.js';
import { User, userCreate, userUpdate } from './schemas.js';
import type { UserService } from './service.js';

const usersQuery = z.object({
  include_deleted: z.enum(['true', 'false']).optional().describe('List deleted users too'),
});

const Me = named(
  'Me',
  z
    .object({
      user: User,
      tenant_id: recordId,
      actor: z.object({
        type: z.enum(['user', 'api_key']),
        id: recordId,
        role: z.enum(USER_ROLES),
        can_write: z.boolean().describe('False for a read-scoped API key'),
        writes: z
          .array(z.string())
          .describe(
            'The record types the caller may create and edit by role and key scope (empty for a read-scoped key); a per-record EDIT grant widens it for that record',
          ),
      }),
    })
    .describe('Who the caller is'),
);

export function userRoutes(services: { users: UserService }) {
  const api = documentedRouter('/users', 'users', 'Users of the tenant and their roles (admin).');
  const { users } = services;
  api.op(
    'get',
    '/',
    {
      operationId: 'listUsers',
      summary: 'List users (admin)',
      description: "The tenant's users, deleted ones only with `include_deleted=true` (another value is a 422).",
      query: usersQuery,
      response: z.array(User),
    },
    async (req, res) => {
      const query = usersQuery.safeParse(req.query);
      if (!query.success) throw validationError(query.error, ['query']);
      res.json({ data: await users.list(ctxOf(req), { includeDeleted: query.data.include_deleted === 'true' }) });
    },
  );
  api.op(
    'post',
    '/',
    {
      operationId: 'createUser',
      summary: 'Create a user (admin)',
      description:
        'Adds a user with a role; without `password` the user is SSO-only and cannot log in with one. ' +
        'Passwords are checked against the password policy (length and strength) and stored as bcrypt hashes.',
      body: named('UserCreate', userCreate),
      example: { email: 'grace@example.com', display_name: 'Grace Hopper', role: 'editor', password: 'a long and unusual passphrase 42' },
      response: User,
      status: 201,
      location: true,
      errors: [409],
    },
    async (req, res) => {
      sendCreated(req, res, await users.create(ctxOf(req), req.body ?? {}));
    },
  );
  api.op(
    'get',
    '/:id',
    {
      operationId: 'getUser',
      summary: 'Read a user (admin, or yourself)',
      description: 'One user of the tenant.',
      response: User,
    },
    async (req, res) => {
      sendData(res, await users.get(ctxOf(req), idParam(req)));
    },
  );
  api.op(
    'patch',
    '/:id',
    {
      operationId: 'updateUser',
      summary: 'Change role, name, password or deactivate (admin)',
      description: 'A new password, a role change or `is_active: false` ends every session of the user at once (REST, sockets, co-editing).',
      body: named('UserUpdate', userUpdate),
      example: { role: 'incident_commander' },
      ifMatch: true,
      response: User,
    },
    async (req, res) => {
      const id = idParam(req);
      sendData(res, await users.update(ctxOf(req), id, req.body ?? {}, { expectedVersion: expectedVersion(req) }));
    },
  );
  api.op(
    'delete',
    '/:id',
    {
      operationId: 'deleteUser',
      summary: 'Delete a user (admin)',
      description: 'Soft-deletes the user: they can no longer log in, and their sessions end. With `If-Match` only at that version (412 otherwise).',
      status: 204,
      ifMatch: true,
    },
    async (req, res) => {
      await users.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
      res.status(204).end();
    },
  );
  return api;
}

export function meRoutes(services: { users: UserService }) {
  const api = documentedRouter('/me', 'auth', 'Sign-up, login and sessions.');
  api.op(
    'get',
    '/',
    {
      operationId: 'getMe',
      summary: 'The caller',
      description: "The caller's user, tenant and how they are authenticated (login token or API key, role, whether they may write).",
      response: Me,
    },
    async (req, res) => {
      const ctx = ctxOf(req);
      const user = await services.users.get(ctx, ctx.actor.userId!);
      res.json({
        data: {
          user,
          tenant_id: ctx.tenantId,
          actor: { type: ctx.actor.type, id: ctx.actor.id, role: ctx.actor.role, can_write: ctx.actor.canWrite, writes: writableTypes(ctx.actor) },
        },
      });
    },
  );
  return api;
}
