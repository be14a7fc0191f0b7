// Incidents: the standard collection routes plus the timeline (`POST /:id/updates`).
import { z } from 'zod';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { authorColumns, isoTimestamp, named, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { grantRoutes } from '../permissions/routes.js';
import { AFFECTABLE_TYPES, IMPACT_TYPES, INCIDENT_ROLES, INCIDENT_STATUS, SEVERITIES, TIMELINE_KINDS } from './model.js';
import { INCIDENT_LISTING, createIncidentSchema, timelineUpdateSchema, updateIncidentSchema } from './schemas.js';
import type { PermissionService } from '../permissions/service.js';
import type { IncidentService } from './service.js';

const AffectedEntity = named(
  'AffectedEntity',
  z.object({
    entity_type: z.enum(AFFECTABLE_TYPES),
    entity_id: recordId,
    name: z.string(),
    operational_status: z.string().describe("The entity's status now: the worst impact of its active incidents"),
    impact_type: z.enum(IMPACT_TYPES).describe("The entity's impact in this incident: its own, or the incident's (inherits_impact)"),
    inherits_impact: z.boolean().describe("True when the entity has no impact of its own and follows the incident's impact_type"),
    started_at: isoTimestamp.describe('When the entity was added to the incident (kept while it stays on the list)'),
    ended_at: isoTimestamp.nullable().describe("When its impact ended: the incident's resolved_at; null while the incident is active"),
  }),
);

const RoleChange = named(
  'IncidentRoleChange',
  z.object({
    role: z.enum(INCIDENT_ROLES),
    added: z.array(recordId).describe('Users who got the role'),
    removed: z.array(recordId).describe('Users who lost it'),
  }),
);

const AffectedRef = z.object({ entity_type: z.enum(AFFECTABLE_TYPES), entity_id: recordId, name: z.string().nullable() });
const ownImpact = z.enum(IMPACT_TYPES).nullable();
const AffectedChange = named(
  'IncidentAffectedChange',
  z.object({
    added: z.array(AffectedRef.extend({ impact_type: ownImpact.describe("Its own impact (null: the incident's)") })),
    removed: z.array(AffectedRef),
    changed: z
      .array(AffectedRef.extend({ impact_type: z.object({ old: ownImpact, new: ownImpact }) }))
      .describe('Entities that stayed with another own impact'),
  }),
);

const seconds = (what: string) => z.number().nonnegative().nullable().describe(`Seconds from the declaration until ${what}; null until then`);
const Durations = named(
  'IncidentDurations',
  z
    .object({
      time_to_identify: seconds("the incident first reached 'identified' (or a later step)"),
      time_to_mitigate: seconds("it first reached 'monitoring' (the fix is out and watched) or a later step"),
      time_to_resolve: seconds('it was last resolved; null again while a reopened incident is active'),
    })
    .describe("Computed from the timeline's status changes; steps may be skipped, so resolving sets all three"),
);

export const TimelineEntry = named(
  'TimelineEntry',
  z.object({
    id: recordId,
    incident_id: recordId,
    timestamp: isoTimestamp,
    status: z.enum(INCIDENT_STATUS).describe('The status the incident had after this entry'),
    kind: z
      .enum(TIMELINE_KINDS)
      .describe(
        "'update': a message from POST /incidents/:id/updates or the declaration; 'role_changed' and 'affected_changed': written by the incident's own create or edit",
      ),
    message: z.string().describe('For role and affected changes, a sentence naming them'),
    data: z
      .union([RoleChange, AffectedChange])
      .nullable()
      .describe('What changed: for role_changed a RoleChange, for affected_changed an AffectedChange, null for updates'),
    created_by: recordId.nullable(),
    created_at: isoTimestamp,
  }),
);

const roleHolder = (role: string) => recordId.nullable().describe(`The ${role}: a user of this tenant, or null`);

const incidentFields = {
  ...versionedColumns,
  ...authorColumns,
  title: z.string(),
  description: z.string().nullable(),
  severity: z.enum(SEVERITIES),
  status: z.enum(INCIDENT_STATUS),
  impact_type: z.enum(IMPACT_TYPES),
  resolved_at: isoTimestamp.nullable().describe('Set when the status becomes resolved'),
  commander_id: roleHolder('incident commander'),
  lead_id: roleHolder('incident lead'),
  responder_ids: z.array(recordId).describe('The responders: users of this tenant, in the order given'),
  affected: z.array(AffectedEntity),
};

const IncidentListItem = named('IncidentListItem', z.object(incidentFields).describe('An incident as lists show it (no timeline)'));
export const Incident = named(
  'Incident',
  z
    .object({
      ...incidentFields,
      timeline: z.array(TimelineEntry).describe('Oldest first'),
      durations: Durations,
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
const COMMANDER_ID = '7a2d4e6f-1b3c-4d5e-8f90-a1b2c3d4e5f6';

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
        affected: [{ entity_type: 'services', entity_id: AFFECTED_ID, impact_type: 'outage' }],
        message: 'Error rate at 5%',
      },
      update: { severity: 'critical', impact_type: 'outage', commander_id: COMMANDER_ID, responder_ids: [COMMANDER_ID] },
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
