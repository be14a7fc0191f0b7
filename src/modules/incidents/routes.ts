// Incidents: the standard collection routes plus the timeline (`POST /:id/updates`).
import { z } from 'zod';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { authorColumns, isoTimestamp, named, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { grantRoutes } from '../permissions/routes.js';
import { AFFECTABLE_TYPES, IMPACT_TYPES, INCIDENT_STATUS, SEVERITIES } from './model.js';
import { INCIDENT_LISTING, createIncidentSchema, timelineUpdateSchema, updateIncidentSchema } from './schemas.js';
import type { PermissionService } from '../permissions/service.js';
import type { IncidentService } from './service.js';

const AffectedEntity = named(
  'AffectedEntity',
  z.object({
    entity_type: z.enum(AFFECTABLE_TYPES),
    entity_id: recordId,
    name: z.string(),
    operational_status: z.string().describe("The entity's status now: the worst of its active incidents"),
  }),
);

export const TimelineEntry = named(
  'TimelineEntry',
  z.object({
    id: recordId,
    incident_id: recordId,
    timestamp: isoTimestamp,
    status: z.enum(INCIDENT_STATUS).describe('The status the incident had after this entry'),
    message: z.string(),
    created_by: recordId.nullable(),
    created_at: isoTimestamp,
  }),
);

const incidentFields = {
  ...versionedColumns,
  ...authorColumns,
  title: z.string(),
  description: z.string().nullable(),
  severity: z.enum(SEVERITIES),
  status: z.enum(INCIDENT_STATUS),
  impact_type: z.enum(IMPACT_TYPES),
  resolved_at: isoTimestamp.nullable().describe('Set when the status becomes resolved'),
  affected: z.array(AffectedEntity),
};

const IncidentListItem = named('IncidentListItem', z.object(incidentFields).describe('An incident as lists show it (no timeline)'));
export const Incident = named(
  'Incident',
  z
    .object({
      ...incidentFields,
      timeline: z.array(TimelineEntry).describe('Oldest first'),
    })
    .describe('An incident with its affected entities and timeline'),
);

const TimelineResult = named(
  'TimelineUpdateResult',
  z.object({
    entry: TimelineEntry,
    incident: Incident,
  }),
);

const AFFECTED_ID = '3f6c0b1e-8a4f-4d9e-9a37-2b1d5c7e9f01';

export function incidentRoutes(services: { incidents: IncidentService; permissions: PermissionService }) {
  const api = crudRoutes(services.incidents, {
    path: '/incidents',
    label: 'incident',
    listing: INCIDENT_LISTING,
    about: "Incidents with their affected entities and live timeline; an affected entity's operational status follows its active incidents.",
    create: named('IncidentCreate', createIncidentSchema),
    update: named('IncidentUpdate', updateIncidentSchema),
    examples: {
      create: {
        title: 'Checkout errors',
        severity: 'major',
        impact_type: 'degraded',
        affected: [{ entity_type: 'services', entity_id: AFFECTED_ID }],
        message: 'Error rate at 5%',
      },
      update: { severity: 'critical', impact_type: 'outage' },
    },
    read: Incident,
    listItem: IncidentListItem,
    writers: 'editor, incident_commander or admin',
  });
  api.op(
    'post',
    '/:id/updates',
    {
      operationId: 'addIncidentUpdate',
      summary: 'Append a timeline entry, optionally moving the status',
      description:
        'Appends a message to the timeline and, with `status`, moves the incident along investigating → identified → ' +
        'monitoring → resolved (resolved sets `resolved_at` and gives the affected entities back their status when no other ' +
        "incident is active). Answers 201 with the entry and the incident; the ETag is the incident's new version.",
      body: named('TimelineUpdate', timelineUpdateSchema),
      example: { status: 'identified', message: 'A bad deploy of payments-api; rolling back' },
      response: TimelineResult,
      status: 201,
      ifMatch: true,
      etag: true,
    },
    async (req, res) => {
      const result = await services.incidents.addUpdate(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) });
      sendData(res, result, 201, result.incident.row_version);
    },
  );
  grantRoutes(api, 'incidents', 'incident', services);
  return api;
}
