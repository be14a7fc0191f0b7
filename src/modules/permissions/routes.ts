// Per-record grants, mounted under each grantable collection: /<collection>/:id/permissions.
import type { DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendData } from '../../platform/http/respond.js';
import { grantInput } from './schemas.js';
import type { PermissionService } from './service.js';

export function grantRoutes(api: DocumentedRouter, entityType: string, services: { permissions: PermissionService }): void {
  api.op('get', '/:id/permissions', { summary: `List the grants on a record (admin)` }, async (req, res) => {
    res.json({ data: await services.permissions.list(ctxOf(req), entityType, idParam(req)) });
  });
  api.op('post', '/:id/permissions', { summary: 'Grant VIEW, COMMENT or EDIT on a record to a user or everyone (admin)', body: grantInput }, async (req, res) => {
    sendData(res, await services.permissions.grant(ctxOf(req), entityType, idParam(req), req.body ?? {}), 201);
  });
  api.op('delete', '/:id/permissions/:grantId', { summary: 'Revoke a grant (admin)', status: 204 }, async (req, res) => {
    await services.permissions.revoke(ctxOf(req), entityType, idParam(req), idParam(req, 'grantId'));
    res.status(204).end();
  });
}
