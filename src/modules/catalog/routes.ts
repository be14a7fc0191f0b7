// The catalog collections (teams, people, products, services, components, resources,
// repositories): one route factory serves all seven from their kind descriptions.
import { z } from 'zod';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import type { DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendData } from '../../platform/http/respond.js';
import { uuid } from '../../platform/schema-kit.js';
import { grantRoutes } from '../permissions/routes.js';
import { readDetail } from './detail.js';
import { serviceImpact } from './impact.js';
import { CATALOG_TYPES, KINDS, type EntityKind } from './kinds.js';
import type { PermissionService } from '../permissions/service.js';
import type { CatalogType } from './kinds.js';
import type { EntityService } from './service.js';

const timestamp = z.iso.datetime({ offset: true });

/** The read shape of a kind: its fields, the relation lists it owns and the bookkeeping columns. */
function readSchema(kind: EntityKind) {
  return (kind.create as z.ZodObject).extend({
    id: uuid,
    row_version: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
    created_by: uuid.nullable(),
    updated_by: uuid.nullable(),
    deleted_at: timestamp.nullable(),
  });
}

export function catalogRoutes(services: { entities: Record<CatalogType, EntityService>; permissions: PermissionService }): DocumentedRouter[] {
  return CATALOG_TYPES.map((type) => {
    const kind = KINDS[type];
    const api = crudRoutes(services.entities[type], {
      path: `/${type}`, label: kind.label, listing: kind, create: kind.create, update: kind.update, read: readSchema(kind),
      detail: (ctx, id) => readDetail(ctx, type, id),
    });
    grantRoutes(api, type, services);
    if (type === 'services') {
      api.op('get', '/:id/impact', { summary: 'Transitive dependents and dependencies of a service, with depth' }, async (req, res) => {
        sendData(res, await serviceImpact(ctxOf(req), services.entities.services, idParam(req)));
      });
    }
    return api;
  });
}
