// Input shapes of comments. The commentable types mirror the comments table's CHECK constraint.
import { z } from 'zod';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { uuid } from '../../platform/schema-kit.js';

export const COMMENTABLE_ENTITY_TYPES = [...CATALOG_TYPES, 'incidents'] as const;
export type CommentableEntityType = (typeof COMMENTABLE_ENTITY_TYPES)[number];

// Not trimmed (indentation can matter in a body), but a blank body is refused.
const body = z
  .string()
  .min(1)
  .max(10_000)
  .refine((s) => s.trim().length > 0, { message: 'must not be blank' });

/** Query string as well as service calls: include_resolved may be a boolean or 'true'/'false'. */
export const commentListQuery = z.strictObject({
  entity_type: z.enum(COMMENTABLE_ENTITY_TYPES),
  entity_id: uuid,
  include_resolved: z
    .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
    .optional()
    .default(false),
});
export type CommentListQuery = z.input<typeof commentListQuery>;

export const commentCreate = z.strictObject({
  entity_type: z.enum(COMMENTABLE_ENTITY_TYPES),
  entity_id: uuid,
  body,
  parent_id: uuid.nullable().optional(),
});
export type CommentCreate = z.infer<typeof commentCreate>;

export const commentUpdate = z.strictObject({ body });
export type CommentUpdate = z.infer<typeof commentUpdate>;
