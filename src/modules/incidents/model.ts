// Objection models of incidents and their timeline. The affected-entities link table has no
// tenant_id: it is only reached through its incidents (AFFECTED_LINK, with scopedLinks).
import { TenantModel, type LinkTable } from '../../platform/tenancy.js';

export const INCIDENT_STATUS = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export const SEVERITIES = ['critical', 'major', 'minor'] as const;
export const IMPACT_TYPES = ['outage', 'degraded'] as const;
/** Catalog kinds an incident can affect; their operational_status follows the incidents. */
export const AFFECTABLE_TYPES = ['components', 'resources', 'services'] as const;

export type IncidentStatus = (typeof INCIDENT_STATUS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type ImpactType = (typeof IMPACT_TYPES)[number];
export type AffectableType = (typeof AFFECTABLE_TYPES)[number];

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
  message!: string;
  created_by!: string | null;
  created_at!: Date;
}

/** Which entities an incident affects: a link table owned by its incidents. */
export const AFFECTED_LINK: LinkTable = { table: AFFECTED_TABLE, ownerKey: 'incident_id', owner: Incident };
