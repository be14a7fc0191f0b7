// Descriptor export: the tenant's live catalog as Backstage descriptors (the inverse of the import
// mapping, docs/DESCRIPTORS.md), so that importing the file into a fresh tenant reproduces the
// same records and relations.
import { stringify } from 'yaml';
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity } from '../../platform/errors.js';
import { scoped } from '../../platform/tenancy.js';
import { KINDS, type CatalogType, type EntityData } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { BACKSTAGE_KINDS, STATUS_LIFECYCLES } from './mapping.js';

/** The most documents one export holds (ten import files' worth). */
export const EXPORT_MAX_DOCUMENTS = 10_000;
const EXPORTED: CatalogType[] = ['teams', 'people', 'products', 'resources', 'components', 'services'];
const API_VERSION = 'backstage.io/v1alpha1';
const COMPONENT_SPEC_TYPES: Record<string, string> = { api: 'service', web_application: 'website' };

export async function exportDescriptors(ctx: ServiceContext, entities: Record<CatalogType, EntityService>): Promise<string> {
  const records = new Map<CatalogType, EntityData[]>();
  let count = 0;
  for (const type of EXPORTED) {
    const rows = await scoped(KINDS[type].model, ctx)
      .orderBy(['name', 'id'])
      .limit(EXPORT_MAX_DOCUMENTS + 1 - count)
      .select('*');
    count += rows.length;
    if (count > EXPORT_MAX_DOCUMENTS) throw UnprocessableEntity(`The catalog holds more than ${EXPORT_MAX_DOCUMENTS} records, the most one export holds.`);
    records.set(type, await entities[type].present(ctx, rows));
  }
  const names = new Map<string, string>();
  for (const list of records.values()) for (const r of list) names.set(r.id, String(r.name));
  const nameOf = (id: unknown) => names.get(String(id));
  const ref = (kind: string, id: unknown) => `${kind}:default/${nameOf(id)}`;
  // spec.system holds one System: a service's first product by name.
  const systemOf = new Map<string, string>();
  for (const p of records.get('products')!) for (const s of (p.service_ids as string[]) ?? []) if (!systemOf.has(s)) systemOf.set(s, String(p.name));

  const docs = EXPORTED.flatMap((type) =>
    records.get(type)!.map((r) => {
      const metadata = {
        name: r.name,
        ...(r.description ? { description: r.description } : {}),
        ...((r.tags as string[] | undefined)?.length ? { tags: r.tags } : {}),
      };
      const owner = r.team_id && nameOf(r.team_id) ? { owner: ref('group', r.team_id) } : {};
      const lifecycle = r.status ? { lifecycle: STATUS_LIFECYCLES[r.status as string] } : {};
      const listRefs = (kind: string, field: string) => ((r[field] as string[] | undefined) ?? []).map((id) => ref(kind, id));
      let spec: Record<string, unknown>;
      switch (type) {
        case 'teams':
          spec = { type: 'team', children: [], ...(r.contact_email ? { profile: { email: r.contact_email } } : {}) };
          break;
        case 'people':
          spec = { profile: { email: r.email }, memberOf: r.team_id ? [ref('group', r.team_id)] : [] };
          break;
        case 'products':
          spec = { ...owner, ...lifecycle };
          break;
        case 'resources':
          spec = { type: r.type, ...owner, environment: r.environment };
          break;
        default: {
          const dependsOn = [
            ...listRefs('component', 'depends_on_service_ids'),
            ...listRefs('component', 'depends_on_component_ids'),
            ...listRefs('component', 'component_ids'),
            ...listRefs('resource', 'resource_ids'),
          ];
          const system = systemOf.get(r.id);
          spec = {
            type: type === 'services' ? (COMPONENT_SPEC_TYPES[String(r.type)] ?? r.type) : r.type,
            ...lifecycle,
            ...owner,
            ...(system ? { system: `system:default/${system}` } : {}),
            ...(dependsOn.length ? { dependsOn } : {}),
          };
        }
      }
      return { apiVersion: API_VERSION, kind: BACKSTAGE_KINDS[type], metadata, spec };
    }),
  );
  return docs.map((d) => stringify(d, { aliasDuplicateObjects: false, lineWidth: 0 })).join('---\n');
}
