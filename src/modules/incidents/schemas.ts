// Request shapes of incidents (create, patch, timeline update) and how the incident list is
// queried; one zod schema per shape is the source of validation, types and the OpenAPI document.
import { z } from 'zod';
import { optionalText, uuid } from '../../platform/schema-kit.js';
import { parseListQuery, type ListQuery, type Listable } from '../../platform/listing.js';
import { AFFECTABLE_TYPES, IMPACT_TYPES, INCIDENT_STATUS, Incident, SEVERITIES } from './model.js';

export const incidentTitle = z.string().trim().min(1).max(500);
export const incidentStatus = z.enum(INCIDENT_STATUS);
export const severity = z.enum(SEVERITIES);
export const impactType = z.enum(IMPACT_TYPES);

export const affectedEntityInput = z.strictObject({
  entity_type: z.enum(AFFECTABLE_TYPES),
  entity_id: uuid,
  impact_type: impactType.optional().describe("This entity's own impact; absent: the incident's impact_type"),
});
/** Duplicates are allowed in the request and collapsed by the service (paths keep input indexes). */
export const affectedList = z.array(affectedEntityInput).max(500);

const roleHolder = uuid.nullable().describe('A user of this tenant (null: nobody)');
const responderIds = z.array(uuid).max(100).describe('Users of this tenant, in order (duplicates collapse); replaces the list');

export const createIncidentSchema = z.strictObject({
  title: incidentTitle,
  description: optionalText,
  severity,
  impact_type: impactType.default('degraded'),
  affected: affectedList.default([]),
  commander_id: roleHolder.optional(),
  lead_id: roleHolder.optional(),
  responder_ids: responderIds.optional(),
  /** The first timeline message; "Incident declared" when absent. */
  message: z.string().trim().min(1).max(10_000).optional(),
});

export const updateIncidentSchema = z.strictObject({
  title: incidentTitle.optional(),
  description: optionalText,
  severity: severity.optional(),
  impact_type: impactType.optional(),
  affected: affectedList.optional(),
  commander_id: roleHolder.optional(),
  lead_id: roleHolder.optional(),
  responder_ids: responderIds.optional(),
});

export const timelineUpdateSchema = z.strictObject({
  status: incidentStatus.optional(),
  message: z.string().trim().min(1).max(10_000),
});

export type AffectedEntityInput = z.infer<typeof affectedEntityInput>;
export type CreateIncidentInput = z.infer<typeof createIncidentSchema>;
export type UpdateIncidentInput = z.infer<typeof updateIncidentSchema>;
export type TimelineUpdateInput = z.infer<typeof timelineUpdateSchema>;

/** How `GET /incidents` lists, filters and searches (the trigram index covers searchExpr). */
export const INCIDENT_LISTING: Listable = {
  model: Incident,
  titleColumn: 'title',
  enumFilters: { status: INCIDENT_STATUS, severity: SEVERITIES, impact_type: IMPACT_TYPES },
  searchExpr: `(title || ' ' || coalesce(description, ''))`,
  hasTeam: false,
  hasTags: false,
};

/** The list query string of incidents (422 with `query.<param>` paths on bad input). */
export function parseIncidentListQuery(raw: unknown): ListQuery {
  return parseListQuery(INCIDENT_LISTING, raw);
}
