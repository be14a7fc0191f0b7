// Per-record grants, mounted under each grantable collection: /<collection>/:id/permissions.
import { z } from 'zod';
import type { DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendData } from '../../platform/http/respond.js';
import { isoTimestamp, named, recordId } from '../../platform/schema-kit.js';
import { PERMISSION_LEVELS } from './model.js';
import { GRANTABLE_ENTITY_TYPES, grantInput } from './schemas.js';
import type { PermissionService } from './service.js';

const GrantInput = named('GrantInput', grantInput);

export const Grant = named(
  'Grant',
  z
    .object({
      id: recordId,
      entity_type: z.enum(GRANTABLE_ENTITY_TYPES),
      entity_id: recordId,
      user_id: recordId.nullable().describe('Null: the grant is for everyone in the tenant'),
      level: z.enum(PERMISSION_LEVELS).describe('VIEW < COMMENT < EDIT'),
      created_at: isoTimestamp,
      created_by: recordId.nullable(),
    })
    .describe('A per-record grant'),
);

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function grantRoutes(api: DocumentedRouter, entityType: string, label: string, services: { permissions: PermissionService }): void {
  const one = pascal(label);
  api.op(
    'get',
    '/:id/permissions',
    {
      operationId: `list${one}Grants`,
      summary: `List the grants on a ${label} (admin)`,
      description: `Every grant on the ${label}: per user, or for everyone in the tenant (\`user_id: null\`).`,
      response: z.array(Grant),
    },
    async (req, res) => {
      res.json({ data: await services.permissions.list(ctxOf(req), entityType, idParam(req)) });
    },
  );
  api.op(
    'post',
    '/:id/permissions',
    {
      operationId: `grant${one}Permission`,
      summary: `Grant VIEW, COMMENT or EDIT on a ${label} (admin)`,
      description:
        `Gives a user (or, with \`user_id: null\`, everyone in the tenant) a level on this ${label}; ` +
        'a second grant for the same user replaces the level of the first. Answers 201 with the grant.',
      body: GrantInput,
      example: { user_id: '6a1f0c4e-2b3d-4c5e-8f9a-0b1c2d3e4f50', level: 'EDIT' },
      response: Grant,
      status: 201,
      errors: [409],
    },
    async (req, res) => {
      sendData(res, await services.permissions.grant(ctxOf(req), entityType, idParam(req), req.body ?? {}), 201);
    },
  );
  api.op(
    'delete',
    '/:id/permissions/:grantId',
    {
      operationId: `revoke${one}Grant`,
      summary: `Revoke a grant on a ${label} (admin)`,
      description: 'Deletes the grant: a hard delete, since a grant is configuration (there is nothing to restore).',
      status: 204,
    },
    async (req, res) => {
      await services.permissions.revoke(ctxOf(req), entityType, idParam(req), idParam(req, 'grantId'));
      res.status(204).end();
    },
  );
}
