// Incidents: the standard collection routes plus the timeline (`POST /:id/updates`).
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { grantRoutes } from '../permissions/routes.js';
import { INCIDENT_LISTING, createIncidentSchema, timelineUpdateSchema, updateIncidentSchema } from './schemas.js';
import type { PermissionService } from '../permissions/service.js';
import type { IncidentService } from './service.js';

export function incidentRoutes(services: { incidents: IncidentService; permissions: PermissionService }) {
  const api = crudRoutes(services.incidents, {
    path: '/incidents', label: 'incident', listing: INCIDENT_LISTING, create: createIncidentSchema, update: updateIncidentSchema,
  });
  api.op('post', '/:id/updates', {
    summary: 'Append a timeline entry and optionally move the status (investigating → identified → monitoring → resolved)',
    body: timelineUpdateSchema, status: 201,
  }, async (req, res) => {
    const result = await services.incidents.addUpdate(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) });
    sendData(res, result, 201, result.incident.row_version);
  });
  grantRoutes(api, 'incidents', services);
  return api;
}
