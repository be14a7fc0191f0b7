// Small zod building blocks shared by every module's schemas.
import { zodToOpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
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

const names = new Map<string, z.ZodType>();

/**
 * Names a schema in the API documents (`#/components/schemas/<name>`): every use of this very
 * schema becomes a reference to the one component. The schema itself is returned unchanged. Build
 * named schemas once (module level), and describe them where they are defined: `.describe()` at a
 * use site would copy the component's metadata into a second, unnamed schema.
 */
export function named<T extends z.ZodType>(name: string, schema: T): T {
  const taken = names.get(name);
  if (taken && taken !== schema) throw new Error(`two schemas are named ${name}`);
  names.set(name, schema);
  zodToOpenAPIRegistry.add(schema, { ...zodToOpenAPIRegistry.get(schema), _internal: { ...zodToOpenAPIRegistry.get(schema)?._internal, refId: name } });
  return schema;
}

// Response shapes: how records come back (ids as PostgreSQL prints them, times as ISO 8601).
export const isoTimestamp = z.iso.datetime({ offset: true });
export const recordId = z.uuid();
/** What an update changed: each field with its old and new value (null for other actions). */
export const fieldChanges = z
  .record(z.string(), z.object({ old: z.unknown(), new: z.unknown() }))
  .nullable()
  .describe('For updates: each changed field with its old and new value');
/** The columns of every versioned, soft-deletable record. */
export const versionedColumns = {
  id: recordId,
  row_version: z.number().int().min(1).describe('Bumped by every write; the ETag'),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
  deleted_at: isoTimestamp.nullable().describe('Set while soft-deleted'),
};
/** Who created and last changed a record (null for system writes). */
export const authorColumns = { created_by: recordId.nullable(), updated_by: recordId.nullable() };
