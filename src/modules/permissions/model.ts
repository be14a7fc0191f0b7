// Per-record grants: VIEW < COMMENT < EDIT, to one user or, with
// user_id NULL, to everyone in the tenant.
import { TenantModel } from '../../platform/tenancy.js';

export const PERMISSION_LEVELS = ['VIEW', 'COMMENT', 'EDIT'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

export class EntityPermission extends TenantModel {
  static override tableName = 'entity_permissions';
  id!: string;
  entity_type!: string;
  entity_id!: string;
  user_id!: string | null;
  level!: PermissionLevel;
  created_at!: Date;
  created_by!: string | null;
}

/**
 * The audit entry of a grant names the record the grant is on (`services/<id>`): a record's
 * history finds the grants given and taken on it by this name.
 */
export function grantAuditName(entityType: string, entityId: string): string {
  return `${entityType}/${entityId}`;
}
