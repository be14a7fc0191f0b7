import { z } from 'zod';
import { USER_ROLES } from '../../platform/context.js';
import { email, name255, uuid } from '../../platform/schema-kit.js';

export const password = z.string().min(10, { message: 'must be at least 10 characters' }).max(200);
export const userRole = z.enum(USER_ROLES);

export const userCreate = z.strictObject({
  email,
  display_name: name255,
  role: userRole.default('viewer'),
  /** Absent for SSO-only users, who cannot log in with a password. */
  password: password.optional(),
  auth_provider: z.enum(['local', 'okta', 'saml']).optional(),
  external_id: z.string().max(255).nullable().optional(),
  person_id: uuid.nullable().optional(),
});

export const userUpdate = z.strictObject({
  display_name: name255.optional(),
  role: userRole.optional(),
  is_active: z.boolean().optional(),
  password: password.optional(),
  person_id: uuid.nullable().optional(),
});

export type UserCreate = z.infer<typeof userCreate>;
export type UserUpdate = z.infer<typeof userUpdate>;
