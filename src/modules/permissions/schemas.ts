// Input shapes of per-record grants: which records take grants, and the grant itself.
import { z } from 'zod';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { uuid } from '../../platform/schema-kit.js';
import { PERMISSION_LEVELS } from './model.js';

/** Records a grant may be attached to: the catalog kinds, incidents and dashboards. */
export const GRANTABLE_ENTITY_TYPES = [...CATALOG_TYPES, 'incidents', 'dashboards'] as const;
export type GrantableEntityType = (typeof GRANTABLE_ENTITY_TYPES)[number];

export const grantableEntityType = z.enum(GRANTABLE_ENTITY_TYPES);

/** The record a grant list hangs off (path parameters). */
export const grantTarget = z.strictObject({
  entity_type: grantableEntityType,
  entity_id: uuid,
});

/** `user_id: null` grants the level to everyone in the tenant; it must be given explicitly. */
export const grantInput = z.strictObject({
  user_id: uuid.nullable(),
  level: z.enum(PERMISSION_LEVELS),
});
export type GrantInput = z.infer<typeof grantInput>;
