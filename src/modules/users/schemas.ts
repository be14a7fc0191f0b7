import { z } from 'zod';
import { USER_ROLES } from '../../platform/context.js';
import { email, isoTimestamp, name255, named, recordId, uuid, versionedColumns } from '../../platform/schema-kit.js';
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

/** A user as the API returns one: never a password hash or token version. */
export const User = named(
  'User',
  z
    .object({
      id: recordId,
      email: z.string(),
      display_name: z.string(),
      role: userRole,
      auth_provider: z.string().describe('local, okta or saml'),
      external_id: z.string().nullable(),
      is_active: z.boolean().describe('False once deactivated: no login, every session ended'),
      person_id: recordId.nullable(),
      last_login_at: isoTimestamp.nullable(),
      row_version: versionedColumns.row_version,
      created_at: isoTimestamp,
      updated_at: isoTimestamp,
      deleted_at: versionedColumns.deleted_at,
    })
    .describe('A user of the tenant'),
);
