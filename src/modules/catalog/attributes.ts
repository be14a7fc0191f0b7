// Type-specific attribute keys per entity kind and type. Unknown keys are refused.
import { z } from 'zod';
import type { FieldIssue } from '../../platform/errors.js';

export const SERVICE_TYPES = ['api', 'web_application', 'database', 'message_queue', 'cache', 'infrastructure'] as const;
export const COMPONENT_TYPES = ['library', 'microservice', 'sdk', 'agent', 'ui_component'] as const;
export const RESOURCE_TYPES = [
  'ec2',
  'virtual_machine',
  'logic_app',
  'storage_account',
  'container_instance',
  'kubernetes',
  'function_app',
  'load_balancer',
  'api_gateway',
  'cdn',
] as const;

export const SERVICE_ATTRIBUTE_KEYS: Record<(typeof SERVICE_TYPES)[number], readonly string[]> = {
  api: ['endpoint', 'protocol', 'auth_method', 'rate_limit', 'sla', 'version'],
  web_application: ['url', 'framework', 'hosting', 'cdn', 'authentication'],
  database: ['db_type', 'version', 'hosting', 'backup_frequency', 'encryption'],
  message_queue: ['broker', 'topics', 'retention_days', 'dlq'],
  cache: ['cache_type', 'ttl', 'size'],
  infrastructure: ['provider', 'region', 'redundancy', 'iac'],
};

export const COMPONENT_ATTRIBUTE_KEYS: Record<(typeof COMPONENT_TYPES)[number], readonly string[]> = {
  library: ['language', 'version', 'repository', 'license'],
  microservice: ['runtime', 'containerized', 'repository', 'cicd'],
  sdk: ['vendor', 'version', 'language', 'documentation'],
  agent: ['runtime', 'schedule', 'containerized', 'repository'],
  ui_component: ['framework', 'repository', 'package_name'],
};

// Resource types have no per-type keys of their own; these are the common cloud facts, one set
// for all resource types (documented in docs/DECISIONS.md).
const RESOURCE_KEYS = ['provider', 'region', 'account', 'sku', 'size', 'instance_type', 'resource_id', 'url', 'cost_center'];
export const RESOURCE_ATTRIBUTE_KEYS: Record<(typeof RESOURCE_TYPES)[number], readonly string[]> = Object.fromEntries(
  RESOURCE_TYPES.map((t) => [t, RESOURCE_KEYS]),
) as unknown as Record<(typeof RESOURCE_TYPES)[number], readonly string[]>;

/** Any attribute value: a scalar or a list of strings; nested objects are refused. */
const attributeValue = z.union([z.string().max(2048), z.number(), z.boolean(), z.null(), z.array(z.string().max(255)).max(100)]);

// The value type of each key, by its meaning. Every key may also be null (no value).
const text = z.string().max(2048);
const httpUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .describe('an http(s) URL');
const count = z.number().int().min(0).max(2_147_483_647);
const flag = z.boolean();
const names = z.array(z.string().min(1).max(255)).max(100).describe('a list of names');
const textOrFlag = z.union([flag, text]).describe('true/false, or a short description');
const textOrCount = z.union([count, text]);
const VALUE_TYPES = {
  endpoint: httpUrl,
  url: httpUrl,
  documentation: httpUrl,
  rate_limit: textOrCount.describe('requests per minute, or a description such as "100/s"'),
  retention_days: count.describe('days'),
  ttl: count.describe('seconds'),
  topics: names,
  dlq: flag.describe('whether a dead-letter queue is configured'),
  containerized: flag,
  encryption: textOrFlag,
  cdn: textOrFlag,
  size: textOrCount.describe('a size such as "8GB", or a number of units'),
} satisfies Record<string, z.ZodType>;

const valueTypeOf = (key: string): z.ZodType => (VALUE_TYPES as Record<string, z.ZodType>)[key] ?? text;

/**
 * The `attributes` schema of a kind: every key its types allow, each with its value type (text
 * unless listed above), and any other key in the general value shape so that the per-type check
 * (checkAttributeKeys) names the keys the record's type allows.
 */
export function attributesSchemaFor(keysByType: Record<string, readonly string[]>) {
  const keys = [...new Set(Object.values(keysByType).flat())].sort();
  const shape = Object.fromEntries(keys.map((k) => [k, valueTypeOf(k).nullable().optional()]));
  const perType = Object.entries(keysByType)
    .map(([type, allowed]) => `${type}: ${allowed.join(', ')}`)
    .join('; ');
  return z.object(shape).catchall(attributeValue).describe(`Type-specific attributes. The keys each type allows: ${perType}.`);
}

export function checkAttributeKeys(
  keysByType: Record<string, readonly string[]>,
  type: string,
  attributes: Record<string, unknown> | null | undefined,
): FieldIssue[] {
  const allowed = keysByType[type];
  if (!allowed || !attributes) return [];
  return Object.keys(attributes)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({
      path: `attributes.${k}`,
      message: `unknown attribute for type '${type}'; allowed: ${allowed.join(', ')}`,
    }));
}
