// The caller's own tenant: read by every member, renamed and configured by admins.
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, sendData } from '../../platform/http/respond.js';
import { named } from '../../platform/schema-kit.js';
import { Tenant, tenantUpdate } from './schemas.js';
import type { TenantService } from './service.js';

export function tenantRoutes(services: { tenants: TenantService }) {
  const api = documentedRouter('/tenant', 'tenant', "The caller's tenant: its name and settings.");
  const { tenants } = services;
  api.op(
    'get',
    '/',
    {
      operationId: 'getTenant',
      summary: "The caller's tenant",
      description: 'Every member and API key of the tenant reads it.',
      response: Tenant,
    },
    async (req, res) => sendData(res, await tenants.get(ctxOf(req))),
  );
  api.op(
    'patch',
    '/',
    {
      operationId: 'updateTenant',
      summary: 'Rename or reconfigure the tenant (admin)',
      description:
        'Sets the display name (unique among tenants: 409 when taken) and/or replaces the settings map. The slug that logins name stays as it is. ' +
        'One `tenants.updated` event and one audit entry; none when nothing changes.',
      body: named('TenantUpdate', tenantUpdate),
      example: { name: 'Acme Corporation', settings: { default_environment: 'production' } },
      response: Tenant,
    },
    async (req, res) => sendData(res, await tenants.update(ctxOf(req), req.body)),
  );
  return api;
}
