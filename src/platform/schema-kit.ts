// Small zod building blocks shared by every module's schemas.
import { z } from 'zod';

/** UUIDs compare as PostgreSQL prints them: lower-case. */
export const uuid = z.uuid({ message: 'must be a UUID' }).transform((s) => s.toLowerCase());
export const name255 = z.string().trim().min(1).max(255);
export const email = z
  .email({ message: 'must be an email address' })
  .max(320)
  .transform((s) => s.toLowerCase());
/** A link a client may render: http(s) only, so never `javascript:`, `data:` or `file:`. */
export const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).max(2048);
export const optionalText = z.string().max(100_000).nullable().optional();
export const uuidList = z.array(uuid).max(1000);
export const tagList = z.array(z.string().trim().min(1).max(100)).max(100);

/** A timestamp as PostgreSQL prints it (`2026-11-23 07:47:01.432+00`) or as ISO 8601. */
export const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?$/;

export const ENTITY_STATUS = ['active', 'planned', 'maintenance', 'deprecated'] as const;
export const OPERATIONAL_STATUS = ['operational', 'degraded', 'outage'] as const;
export const entityStatus = z.enum(ENTITY_STATUS);
export const operationalStatus = z.enum(OPERATIONAL_STATUS);

/** Update schemas: every create field optional, nothing else allowed. */
export function partialStrict<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape).partial();
}
