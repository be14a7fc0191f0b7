// Per-record grants (VIEW < COMMENT < EDIT) managed by admins, and the one check every module
// uses to ask "is this a live record of this tenant?" for any polymorphic reference.
import type { ServiceContext } from '../../platform/context.js';
import { NotFound, UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { parseInput, present } from '../../platform/records.js';
import { uuid } from '../../platform/schema-kit.js';
import { scoped, type TenantModel } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { KINDS } from '../catalog/kinds.js';
import { Dashboard } from '../dashboards/model.js';
import { Incident } from '../incidents/model.js';
import { Scorecard } from '../scorecards/model.js';
import { User } from '../users/model.js';
import { EntityPermission, grantAuditName, type PermissionLevel } from './model.js';
import { grantInput, grantTarget, type GrantableEntityType } from './schemas.js';

export interface GrantData {
  id: string;
  entity_type: string;
  entity_id: string;
  user_id: string | null;
  level: PermissionLevel;
  created_at: string;
  created_by: string | null;
}

/** The soft-deletable records other records may point at (widget sources, comments, grants). */
const RECORD_MODELS: Record<string, typeof TenantModel> = {
  ...Object.fromEntries(Object.values(KINDS).map((k) => [k.type, k.model])),
  incidents: Incident,
  dashboards: Dashboard,
  scorecards: Scorecard,
};

/** The ids among `ids` that are live records of `entityType` in the context's tenant. */
export async function liveRecordIds(ctx: ServiceContext, entityType: string, ids: string[]): Promise<Set<string>> {
  const wanted = [...new Set(ids)].filter((id) => uuid.safeParse(id).success);
  if (wanted.length === 0) return new Set();
  const model = RECORD_MODELS[entityType];
  if (!model) return new Set();
  const rows = (await scoped(model, ctx).whereIn('id', wanted).select('id')) as unknown as { id: string }[];
  return new Set(rows.map((r) => r.id));
}

/** True when the record is live (not soft-deleted) and belongs to the context's tenant. */
export async function recordExists(ctx: ServiceContext, entityType: string, entityId: string): Promise<boolean> {
  return (await liveRecordIds(ctx, entityType, [entityId])).has(entityId);
}

async function userExists(ctx: ServiceContext, userId: string): Promise<boolean> {
  return Boolean(await scoped(User, ctx).findById(userId).select('id'));
}

const presentGrant = (row: EntityPermission) => present<GrantData>(row);

export class PermissionService {
  constructor(private readonly writes: WriteRunner) {}

  /** The grants on one record, tenant-wide grant first, then by creation. Admins only. */
  async list(ctx: ServiceContext, entityType: string, entityId: string): Promise<GrantData[]> {
    await authorize(ctx, 'read', { type: 'entity_permissions' });
    const target = parseInput(grantTarget, { entity_type: entityType, entity_id: entityId });
    if (!(await recordExists(ctx, target.entity_type, target.entity_id))) {
      throw NotFound(`No ${target.entity_type} record with id ${target.entity_id}.`);
    }
    const rows = await scoped(EntityPermission, ctx)
      .where({ entity_type: target.entity_type, entity_id: target.entity_id })
      .orderByRaw('user_id IS NOT NULL, created_at, id');
    return rows.map(presentGrant);
  }

  /** Upsert: a user (or everyone, user_id null) holds at most one grant per record. */
  async grant(ctx: ServiceContext, entityType: string, entityId: string, input: unknown): Promise<GrantData> {
    await authorize(ctx, 'write', { type: 'entity_permissions' });
    const target = parseInput(grantTarget, { entity_type: entityType, entity_id: entityId });
    const { user_id: userId, level } = parseInput(grantInput, input);
    return this.writes.run(ctx, async (w) => {
      await this.checkTarget(w, target.entity_type, target.entity_id, userId);
      const sameGrant = scoped(EntityPermission, w).where({ entity_type: target.entity_type, entity_id: target.entity_id });
      if (userId) sameGrant.where('user_id', userId);
      else sameGrant.whereNull('user_id');
      const existing = await sameGrant.forUpdate().first();
      if (existing) {
        if (existing.level === level) return presentGrant(existing); // nothing changes, nothing recorded
        await scoped(EntityPermission, w).findById(existing.id).patch({ level });
        const data = presentGrant((await scoped(EntityPermission, w).findById(existing.id)) as EntityPermission);
        this.recordChange(w, data, 'updated', { level: { old: existing.level, new: level } });
        return data;
      }
      // A concurrent grant for the same user and record loses on the unique index: a 409.
      const row = (await scoped(EntityPermission, w)
        .insert({
          entity_type: target.entity_type,
          entity_id: target.entity_id,
          user_id: userId,
          level,
          created_by: w.actor.userId,
        })
        .returning('*')) as unknown as EntityPermission;
      const data = presentGrant(row);
      this.recordChange(w, data, 'created');
      return data;
    });
  }

  /** Hard delete: a grant is configuration, not catalog data, so there is nothing to restore. */
  async revoke(ctx: ServiceContext, entityType: string, entityId: string, grantId: string): Promise<void> {
    await authorize(ctx, 'write', { type: 'entity_permissions' });
    const target = parseInput(grantTarget, { entity_type: entityType, entity_id: entityId });
    if (!uuid.safeParse(grantId).success) throw NotFound(`No grant with id ${grantId}.`);
    await this.writes.run(ctx, async (w) => {
      const row = await scoped(EntityPermission, w).findById(grantId).where({ entity_type: target.entity_type, entity_id: target.entity_id }).forUpdate();
      if (!row) throw NotFound(`No grant with id ${grantId} on this record.`);
      await scoped(EntityPermission, w).findById(grantId).delete();
      this.recordChange(w, presentGrant(row), 'deleted');
    });
  }

  /** The record (named by the path: else a 404) and the user (named in the body: else a 422 at user_id) must be live in this tenant. */
  private async checkTarget(w: WriteScope, entityType: GrantableEntityType, entityId: string, userId: string | null) {
    // The record is named by the path: unknown or another tenant's is a 404, like every other route.
    if (!(await recordExists(w, entityType, entityId))) throw NotFound(`No ${entityType} record with id ${entityId}.`);
    const issues: FieldIssue[] = [];
    if (userId && !(await userExists(w, userId))) {
      issues.push({ path: 'user_id', message: `no user with id ${userId} in this tenant` });
    }
    if (issues.length) throw UnprocessableEntity('The grant refers to records that do not exist.', issues);
  }

  private recordChange(
    w: WriteScope,
    data: GrantData,
    action: 'created' | 'updated' | 'deleted',
    changes?: Record<string, { old: unknown; new: unknown }>,
  ): void {
    w.record({
      entityType: 'entity_permissions',
      entityId: data.id,
      entityName: grantAuditName(data.entity_type, data.entity_id),
      action,
      data,
      changes,
    });
  }
}
