// Objection models of incidents and their timeline. The affected-entities link table has no
// tenant_id: it is only reached through its incidents (AFFECTED_LINK, with scopedLinks).
import { TenantModel, type LinkTable } from '../../platform/tenancy.js';

export const INCIDENT_STATUS = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export const SEVERITIES = ['critical', 'major', 'minor'] as const;
export const IMPACT_TYPES = ['outage', 'degraded'] as const;
/** Catalog kinds an incident can affect; their operational_status follows the incidents. */
export const AFFECTABLE_TYPES = ['components', 'resources', 'services'] as const;
export const INCIDENT_ROLES = ['commander', 'lead', 'responder'] as const;
/** 'update': a message (with or without a status move); the others are written by the incident's edits. */
export const TIMELINE_KINDS = ['update', 'role_changed', 'affected_changed'] as const;

export type IncidentStatus = (typeof INCIDENT_STATUS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type ImpactType = (typeof IMPACT_TYPES)[number];
export type AffectableType = (typeof AFFECTABLE_TYPES)[number];
export type IncidentRole = (typeof INCIDENT_ROLES)[number];
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export const AFFECTED_TABLE = 'incident_affected_entities';

export class Incident extends TenantModel {
  static override tableName = 'incidents';
  static override softDelete = true;
  id!: string;
  title!: string;
  description!: string | null;
  severity!: Severity;
  status!: IncidentStatus;
  impact_type!: ImpactType;
  /** Users (ids of this tenant's users, checked by the service on every write). */
  commander_id!: string | null;
  lead_id!: string | null;
  responder_ids!: string[];
  created_at!: Date;
  updated_at!: Date;
  resolved_at!: Date | null;
  created_by!: string | null;
  updated_by!: string | null;
  deleted_at!: Date | null;
  row_version!: number;
  __sort_key?: string;
}

export class IncidentTimelineEntry extends TenantModel {
  static override tableName = 'incident_timeline_entries';
  id!: string;
  incident_id!: string;
  timestamp!: Date;
  status!: IncidentStatus;
  kind!: TimelineKind;
  message!: string;
  data!: Record<string, unknown> | null;
  created_by!: string | null;
  created_at!: Date;
}

/** Which entities an incident affects: a link table owned by its incidents. */
export const AFFECTED_LINK: LinkTable = { table: AFFECTED_TABLE, ownerKey: 'incident_id', owner: Incident };
