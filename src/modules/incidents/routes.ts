// Incidents: the standard collection routes plus the timeline (`POST /:id/updates`).
import type { Domain } from '../../domain.js';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { grantRoutes } from '../permissions/routes.js';
import { INCIDENT_LISTING, createIncidentSchema, timelineUpdateSchema, updateIncidentSchema } from './schemas.js';

export function incidentRoutes(domain: Domain) {
  const api = crudRoutes(domain.incidents, {
    path: '/incidents', label: 'incident', listing: INCIDENT_LISTING, create: createIncidentSchema, update: updateIncidentSchema,
  });
  api.op('post', '/:id/updates', {
    summary: 'Append a timeline entry and optionally move the status (investigating → identified → monitoring → resolved)',
    body: timelineUpdateSchema, status: 201,
  }, async (req, res) => {
    const result = await domain.incidents.addUpdate(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) });
    res.set('ETag', `"${result.incident.row_version}"`);
    sendData(res, result, 201);
  });
  grantRoutes(api, 'incidents', domain);
  return api;
}
