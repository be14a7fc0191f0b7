// The catalog collections (teams, people, products, services, components, resources,
// repositories): one route factory serves all seven from their kind descriptions.
import { z } from 'zod';
import type { Domain } from '../../domain.js';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import type { DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendData } from '../../platform/http/respond.js';
import { uuid } from '../../platform/schema-kit.js';
import { grantRoutes } from '../permissions/routes.js';
import { detailView } from './detail.js';
import { serviceImpact } from './impact.js';
import { CATALOG_TYPES, KINDS, type EntityKind } from './kinds.js';

const timestamp = z.iso.datetime({ offset: true });

/** The read shape of a kind: its fields, the relation lists it owns and the bookkeeping columns. */
export function readSchema(kind: EntityKind) {
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

export function catalogRoutes(domain: Domain): DocumentedRouter[] {
  const detail = detailView(domain.entities, domain.scorecards);
  return CATALOG_TYPES.map((type) => {
    const kind = KINDS[type];
    const api = crudRoutes(domain.entities[type], {
      path: `/${type}`, label: kind.label, listing: kind, create: kind.create, update: kind.update, read: readSchema(kind),
      detail: (ctx, id) => detail(ctx, type, id),
    });
    grantRoutes(api, type, domain);
    if (type === 'services') {
      api.op('get', '/:id/impact', { summary: 'Transitive dependents and dependencies of a service, with depth' }, async (req, res) => {
        sendData(res, await serviceImpact(ctxOf(req), domain.entities.services, idParam(req)));
      });
    }
    return api;
  });
}
