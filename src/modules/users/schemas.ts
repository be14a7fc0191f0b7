import { z } from 'zod';
import { USER_ROLES } from '../../platform/context.js';
import { email, name255, uuid } from '../../platform/schema-kit.js';
import { PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS, PASSWORD_TOO_LONG, passwordProblem } from '../auth/password-policy.js';

/** A password being set (the policy in auth/password-policy.ts); min and max also document it. */
export const password = z
  .string()
  .min(PASSWORD_MIN_CHARS, { message: `must be at least ${PASSWORD_MIN_CHARS} characters` })
  .max(PASSWORD_MAX_BYTES, { message: PASSWORD_TOO_LONG })
  .superRefine((value, ctx) => {
    if (value.length < PASSWORD_MIN_CHARS || value.length > PASSWORD_MAX_BYTES) return;
    const problem = passwordProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
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
