import { z } from 'zod';
import { email, name255 } from '../../platform/schema-kit.js';
import { password } from '../users/schemas.js';

export const tenantSlug = z
  .string()
  .min(2)
  .max(100)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, { message: 'lowercase letters, digits and inner dashes only' });

export const signupInput = z.strictObject({
  tenant_name: name255,
  tenant_slug: tenantSlug,
  email,
  password,
  display_name: name255,
});

export const loginInput = z.strictObject({
  tenant_slug: z.string().min(1).max(100),
  email: z
    .string()
    .min(1)
    .max(320)
    .transform((s) => s.trim().toLowerCase()),
  password: z.string().min(1).max(200),
});

export type SignupInput = z.infer<typeof signupInput>;
export type LoginInput = z.infer<typeof loginInput>;

/** What login and refresh answer: a login token and how long it lives. */
export const accessToken = z.object({
  access_token: z.string().describe('HS256 JWT with sub, tid, ver (token version), iat, exp, iss, aud, jti'),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().describe('seconds until the token expires'),
});
