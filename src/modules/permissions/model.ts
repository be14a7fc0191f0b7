// Per-record grants (seed 002's board permissions): VIEW < COMMENT < EDIT, to one user or, with
// user_id NULL, to everyone in the tenant.
import { TenantModel, scoped } from '../../platform/tenancy.js';
import type { ServiceContext } from '../../platform/context.js';

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

const RANK: Record<PermissionLevel, number> = { VIEW: 1, COMMENT: 2, EDIT: 3 };

/** The highest grant the actor holds on a record, personally or through an everyone-grant. */
export async function grantLevel(
  ctx: ServiceContext,
  entityType: string,
  entityId: string,
): Promise<PermissionLevel | null> {
  const userId = ctx.actor.userId;
  const rows = await scoped(EntityPermission, ctx)
    .where({ entity_type: entityType, entity_id: entityId })
    .where((q) => {
      q.whereNull('user_id');
      if (userId) q.orWhere('user_id', userId);
    })
    .select('level');
  let best: PermissionLevel | null = null;
  for (const r of rows) if (!best || RANK[r.level] > RANK[best]) best = r.level;
  return best;
}

export function levelAtLeast(level: PermissionLevel | null, needed: PermissionLevel): boolean {
  return level !== null && RANK[level] >= RANK[needed];
}
