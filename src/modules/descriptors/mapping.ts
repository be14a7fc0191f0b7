// Backstage catalog descriptors (catalog-info.yaml) read into the catalog's kinds: each document
// becomes one planned record (its collection, name, fields) and the references it makes (owner,
// dependsOn, providesApis, …), resolved by name later. Pure: no database. docs/DESCRIPTORS.md.
import { parseAllDocuments, isAlias, visit } from 'yaml';
import { z } from 'zod';
import { BadRequest, UnprocessableEntity } from '../../platform/errors.js';
import { ENTITY_STATUS } from '../../platform/schema-kit.js';
import { COMPONENT_TYPES, RESOURCE_TYPES, SERVICE_TYPES } from '../catalog/attributes.js';
import { ENVIRONMENTS, type CatalogType } from '../catalog/kinds.js';

export const MAX_DOCUMENTS = 1000;

/** The Backstage kind each collection is exported as (services and components are both Components). */
export const BACKSTAGE_KINDS: Record<CatalogType, string> = {
  teams: 'Group',
  people: 'User',
  products: 'System',
  services: 'Component',
  components: 'Component',
  resources: 'Resource',
  repositories: 'Location',
};

/** A reference to another record by Backstage kind and name, to become one of our relation lists. */
export interface Reference {
  /** `owner`, `dependsOn`, `providesApis`, … as the document said it. */
  via: string;
  /** The Backstage kind the reference names (lower case): group, component, api, resource, system, user. */
  kind: string;
  name: string;
  /** `provides`: the target depends on this record (an API depends on the service providing it). */
  inverse?: boolean;
}

export interface Planned {
  index: number;
  kind: string;
  name: string;
  type: CatalogType;
  /** The record's fields as the REST create takes them, without team_id and relation lists. */
  fields: Record<string, unknown>;
  refs: Reference[];
  warnings: string[];
}

export interface Unmapped {
  index: number;
  kind: string;
  name: string;
  action: 'invalid' | 'skipped';
  errors: string[];
}

const stringList = z.array(z.string()).optional();
const metadata = z.object({
  name: z.string().trim().min(1).max(255),
  description: z.string().max(100_000).optional(),
  tags: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
});
/** The envelope every descriptor has; spec fields we do not map are ignored (Backstage has many). */
const envelope = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  metadata,
  spec: z.record(z.string(), z.unknown()).optional(),
});
const spec = z.object({
  type: z.string().optional(),
  lifecycle: z.string().optional(),
  owner: z.string().optional(),
  system: z.string().optional(),
  environment: z.string().optional(),
  dependsOn: stringList,
  providesApis: stringList,
  consumesApis: stringList,
  memberOf: stringList,
  members: stringList,
  profile: z.object({ email: z.string().optional(), displayName: z.string().optional() }).optional(),
});
type Spec = z.infer<typeof spec>;

/** Backstage lifecycles as our statuses (our own status names are taken as they are). */
const LIFECYCLES: Record<string, (typeof ENTITY_STATUS)[number]> = { production: 'active', experimental: 'planned', deprecated: 'deprecated' };
export const STATUS_LIFECYCLES: Record<string, string> = {
  active: 'production',
  planned: 'experimental',
  deprecated: 'deprecated',
  maintenance: 'maintenance',
};

/** Component spec.type → our collection and type. */
function componentTarget(type: string): { type: CatalogType; kindType: string } | null {
  if (type === 'service') return { type: 'services', kindType: 'api' };
  if (type === 'website') return { type: 'services', kindType: 'web_application' };
  const t = type.replace(/-/g, '_');
  if ((SERVICE_TYPES as readonly string[]).includes(t)) return { type: 'services', kindType: t };
  if ((COMPONENT_TYPES as readonly string[]).includes(t)) return { type: 'components', kindType: t };
  return null;
}

const RESOURCE_ALIASES: Record<string, string> = {
  vm: 'virtual_machine',
  cluster: 'kubernetes',
  kubernetes_cluster: 'kubernetes',
  s3_bucket: 'storage_account',
  storage: 'storage_account',
  function: 'function_app',
  lambda: 'function_app',
  container: 'container_instance',
};

/** `group:default/payments`, `group:payments`, `payments` → {kind, name} (the namespace is dropped). */
export function parseRef(ref: string, defaultKind: string): { kind: string; name: string } {
  const colon = ref.indexOf(':');
  const kind = colon > 0 ? ref.slice(0, colon).toLowerCase() : defaultKind;
  const rest = colon > 0 ? ref.slice(colon + 1) : ref;
  const slash = rest.indexOf('/');
  return { kind, name: (slash >= 0 ? rest.slice(slash + 1) : rest).trim() };
}

/** The YAML text as plain documents: bounded in count, aliases refused, syntax errors a 400. */
export function readDocuments(text: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const nonEmpty = list.filter((d) => d.contents !== null);
  if (nonEmpty.length > MAX_DOCUMENTS) {
    throw UnprocessableEntity(`The file holds ${nonEmpty.length} documents; at most ${MAX_DOCUMENTS} are imported at once.`);
  }
  nonEmpty.forEach((doc, i) => {
    const error = doc.errors[0];
    if (error) throw BadRequest(`Document ${i} is not valid YAML: ${error.message.split('\n')[0]}`, [{ path: `documents.${i}`, message: error.code }]);
    let alias = false;
    visit(doc, (_key, node) => {
      if (isAlias(node)) {
        alias = true;
        return visit.BREAK;
      }
      return undefined;
    });
    if (alias) {
      throw UnprocessableEntity('YAML aliases (*name) are not accepted: write each value out.', [{ path: `documents.${i}`, message: 'holds an alias' }]);
    }
  });
  return nonEmpty.map((doc) => doc.toJS({ maxAliasCount: 0 }) as unknown);
}

const issuesOf = (err: z.ZodError, prefix: string) => err.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`);

/** One document as a planned record, or why it is not one. */
export function mapDocument(raw: unknown, index: number): Planned | Unmapped {
  const env = envelope.safeParse(raw);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const nameOf = (v: unknown) => text((v as { metadata?: { name?: unknown } } | null)?.metadata?.name);
  if (!env.success) {
    const kind = text((raw as { kind?: unknown } | null)?.kind);
    return { index, kind, name: nameOf(raw), action: 'invalid', errors: issuesOf(env.error, '') };
  }
  const { kind, metadata: meta } = env.data;
  const parsedSpec = spec.safeParse(env.data.spec ?? {});
  if (!parsedSpec.success) return { index, kind, name: meta.name, action: 'invalid', errors: issuesOf(parsedSpec.error, 'spec') };
  const s = parsedSpec.data;
  const errors: string[] = [];
  const plan = (type: CatalogType, fields: Record<string, unknown>, refs: Reference[]): Planned | Unmapped =>
    errors.length
      ? { index, kind, name: meta.name, action: 'invalid', errors }
      : { index, kind, name: meta.name, type, fields: { name: meta.name, ...fields }, refs, warnings: [] };
  const described = { description: meta.description ?? null };
  const tagged = { ...described, tags: meta.tags ?? [] };
  const owner: Reference[] = s.owner ? [{ via: 'owner', ...parseRef(s.owner, 'group') }] : [];
  const deps = (defaultKind = 'component'): Reference[] => [
    ...(s.dependsOn ?? []).map((r) => ({ via: 'dependsOn', ...parseRef(r, defaultKind) })),
    ...(s.consumesApis ?? []).map((r) => ({ via: 'consumesApis', ...parseRef(r, 'api') })),
    ...(s.providesApis ?? []).map((r) => ({ via: 'providesApis', ...parseRef(r, 'api'), inverse: true })),
  ];
  const system: Reference[] = s.system ? [{ via: 'system', ...parseRef(s.system, 'system'), inverse: true }] : [];
  const status = lifecycleStatus(s, errors);

  switch (kind) {
    case 'Component': {
      const target = componentTarget(s.type ?? '');
      if (!target) {
        errors.push(`spec.type: '${s.type ?? ''}' is not mapped; use service, website, ${[...SERVICE_TYPES, ...COMPONENT_TYPES].join(', ')}`);
        return plan('services', {}, []);
      }
      return plan(target.type, { type: target.kindType, ...tagged, ...status }, [...owner, ...deps(), ...system]);
    }
    case 'API':
      return plan('services', { type: 'api', ...tagged, ...status }, [...owner, ...deps(), ...system]);
    case 'Resource': {
      const t = (s.type ?? '').toLowerCase().replace(/-/g, '_');
      const type = RESOURCE_ALIASES[t] ?? t;
      if (!(RESOURCE_TYPES as readonly string[]).includes(type))
        errors.push(`spec.type: '${s.type ?? ''}' is not a resource type (${RESOURCE_TYPES.join(', ')})`);
      const environment = s.environment ? { environment: s.environment } : {};
      if (s.environment && !(ENVIRONMENTS as readonly string[]).includes(s.environment)) {
        errors.push(`spec.environment: one of ${ENVIRONMENTS.join(', ')}`);
      }
      return plan('resources', { type, ...tagged, ...environment }, [...owner, ...deps('resource')]);
    }
    case 'System':
      return plan('products', { ...tagged, ...status }, owner);
    case 'Group':
      return plan(
        'teams',
        { ...described, contact_email: s.profile?.email ?? null },
        (s.members ?? []).map((r) => ({ via: 'members', ...parseRef(r, 'user'), inverse: true })),
      );
    case 'User': {
      if (!s.profile?.email) errors.push('spec.profile.email: required (a person has an email)');
      const team: Reference[] = s.memberOf?.length ? [{ via: 'memberOf', ...parseRef(s.memberOf[0], 'group') }] : [];
      return plan('people', { email: s.profile?.email }, team);
    }
    default:
      return {
        index,
        kind,
        name: meta.name,
        action: 'skipped',
        errors: [`kind '${kind}' is not imported (Component, API, Resource, System, Group, User are)`],
      };
  }
}

function lifecycleStatus(s: Spec, errors: string[]): { status?: string } {
  if (!s.lifecycle) return {};
  const status = LIFECYCLES[s.lifecycle] ?? ((ENTITY_STATUS as readonly string[]).includes(s.lifecycle) ? s.lifecycle : undefined);
  if (!status) errors.push(`spec.lifecycle: '${s.lifecycle}' is not mapped; use production, experimental, deprecated or ${ENTITY_STATUS.join(', ')}`);
  return status ? { status } : {};
}
