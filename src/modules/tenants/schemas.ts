// The tenant as its members see it, and what an admin may change: its display name and settings.
import { z } from 'zod';
import { isoTimestamp, named, recordId } from '../../platform/schema-kit.js';

/** Settings are the tenant's own configuration: a small JSON map (bounded in keys and size). */
const MAX_SETTINGS_BYTES = 16 * 1024;
const tenantSettings = z
  .record(z.string().min(1).max(64), z.unknown().describe('any JSON value'))
  .refine((s) => Object.keys(s).length <= 100, { message: 'at most 100 settings' })
  .refine((s) => Buffer.byteLength(JSON.stringify(s)) <= MAX_SETTINGS_BYTES, { message: `at most ${MAX_SETTINGS_BYTES} bytes of JSON` });

export const Tenant = named(
  'Tenant',
  z
    .object({
      id: recordId,
      name: z.string(),
      slug: z.string().describe('Fixed at sign-up: logins name the tenant by it'),
      is_active: z.boolean().describe('False while an operator has turned the tenant off'),
      settings: z.record(z.string(), z.unknown()).describe("The tenant's own configuration (a JSON map)"),
      created_at: isoTimestamp,
      updated_at: isoTimestamp,
    })
    .describe('A tenant: the organisation whose records these are'),
);

export const tenantUpdate = z
  .strictObject({
    name: z.string().trim().min(1).max(255).optional().describe('Unique among tenants (409 when taken)'),
    settings: tenantSettings.optional().describe('Replaces the whole map; at most 100 keys and 16 kB of JSON'),
  })
  .refine((u) => u.name !== undefined || u.settings !== undefined, { message: 'name or settings is required' });

export type TenantUpdate = z.infer<typeof tenantUpdate>;
