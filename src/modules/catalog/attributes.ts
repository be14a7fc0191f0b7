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

/** Attribute values are scalars or lists of strings (topics); nested objects are refused. */
const attributeValue = z.union([z.string().max(2048), z.number(), z.boolean(), z.null(), z.array(z.string().max(255)).max(100)]);
export const attributesSchema = z.record(z.string().min(1).max(64), attributeValue);

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
