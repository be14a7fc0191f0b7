// Descriptor import: the planned records of a catalog-info.yaml resolved by name (in the file,
// else the tenant's live records), validated with the kinds' create schemas, compared with what
// is stored, and (unless a dry run) written through the catalog's EntityServices in one
// WriteRunner transaction: every record with its audit entry and change event, all or nothing.
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { KINDS, type CatalogType, type EntityData } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { BACKSTAGE_KINDS, mapDocument, readDocuments, type Planned, type Reference, type Unmapped } from './mapping.js';

export const IMPORT_ACTIONS = ['created', 'updated', 'unchanged', 'invalid', 'skipped'] as const;
export type ImportAction = (typeof IMPORT_ACTIONS)[number];

export interface ReportEntry {
  document: number | null;
  kind: string;
  name: string;
  type: CatalogType | null;
  action: ImportAction;
  id: string | null;
  errors?: string[];
  warnings?: string[];
}

export interface ImportReport {
  dry_run: boolean;
  entities: ReportEntry[];
  totals: Record<ImportAction, number>;
}

/** The Backstage kinds a reference may name, as the collections that hold them. */
const REF_COLLECTIONS: Record<string, CatalogType[]> = {
  group: ['teams'],
  user: ['people'],
  system: ['products'],
  resource: ['resources'],
  api: ['services'],
  component: ['services', 'components'],
};

/** The relation list a `from` record holds for a `to` record (dependsOn and its kin). */
const RELATION_FIELDS: Partial<Record<CatalogType, Partial<Record<CatalogType, string>>>> = {
  services: { services: 'depends_on_service_ids', components: 'component_ids', resources: 'resource_ids' },
  components: { components: 'depends_on_component_ids', services: 'depends_on_service_ids' },
  products: { services: 'service_ids' },
};
/** The lists an import manages (the file is the truth for them); repositories and assignments are left alone. */
const MANAGED_LISTS: Partial<Record<CatalogType, string[]>> = {
  services: ['component_ids', 'resource_ids', 'depends_on_service_ids'],
  components: ['depends_on_component_ids', 'depends_on_service_ids'],
  products: ['service_ids'],
};
const TEAM_VIAS = new Set(['owner', 'memberOf', 'members']);
const HAS_TEAM: ReadonlySet<CatalogType> = new Set(['people', 'products', 'services', 'components', 'resources']);

interface Node {
  key: string;
  type: CatalogType;
  name: string;
  plan: Planned | null;
  existing: EntityData | null;
  fields: Record<string, unknown>;
  team: { key: string; via: string } | null;
  lists: Map<string, Set<string>>;
  errors: string[];
  warnings: string[];
  action?: ImportAction;
  id: string | null;
}

const keyOf = (type: CatalogType, name: string) => `${type}:${name}`;

export class DescriptorService {
  constructor(
    private readonly entities: Record<CatalogType, EntityService>,
    private readonly writes: WriteRunner,
  ) {}

  async import(ctx: ServiceContext, text: string, dryRun: boolean): Promise<ImportReport> {
    const mapped = readDocuments(text).map((doc, i) => mapDocument(doc, i));
    const unmapped: Unmapped[] = [];
    const nodes = new Map<string, Node>();
    for (const m of mapped) {
      if ('action' in m) unmapped.push(m);
      else if (nodes.has(keyOf(m.type, m.name))) {
        unmapped.push({
          index: m.index,
          kind: m.kind,
          name: m.name,
          action: 'invalid',
          errors: [`another document of the file is the ${KINDS[m.type].label} '${m.name}'`],
        });
      } else nodes.set(keyOf(m.type, m.name), newNode(m));
    }
    for (const type of new Set([...nodes.values()].map((n) => n.type))) await authorize(ctx, 'write', { type });
    let existing = new Map<string, EntityData>();
    const plan = async (scope: ServiceContext) => {
      existing = await this.loadExisting(scope, nodes);
      this.resolve(nodes, existing);
      // Records the file does not name but its references add to are written too.
      for (const node of nodes.values()) if (!node.plan) await authorize(scope, 'write', { type: node.type });
      validate(nodes);
      const issues: FieldIssue[] = [
        ...[...nodes.values()].flatMap((n) => n.errors.map((message) => ({ path: `documents.${n.plan?.index}`, message: `${n.name}: ${message}` }))),
        ...unmapped.filter((u) => u.action === 'invalid').flatMap((u) => u.errors.map((message) => ({ path: `documents.${u.index}`, message }))),
      ];
      if (issues.length && !dryRun) throw UnprocessableEntity('Some documents did not pass validation: nothing was imported.', issues);
      for (const node of nodes.values()) node.action = node.errors.length ? 'invalid' : actionOf(node, existing);
    };
    if (dryRun) await plan(ctx);
    else
      await this.writes.run(ctx, async (w) => {
        await plan(w);
        await this.apply(w, nodes, existing);
      });
    return report(dryRun, nodes, unmapped);
  }

  /** The tenant's live records of every kind a reference or a document names, by name. */
  private async loadExisting(ctx: ServiceContext, nodes: Map<string, Node>): Promise<Map<string, EntityData>> {
    const names = new Map<CatalogType, Set<string>>();
    const want = (type: CatalogType, name: string) => (names.get(type) ?? names.set(type, new Set()).get(type)!).add(name);
    for (const node of nodes.values()) {
      want(node.type, node.name);
      for (const ref of node.plan?.refs ?? []) for (const type of REF_COLLECTIONS[ref.kind] ?? []) want(type, ref.name);
    }
    const found = new Map<string, EntityData>();
    for (const [type, set] of names) {
      const rows = await scoped(KINDS[type].model, ctx)
        .whereIn('name', [...set])
        .select('*');
      for (const data of await this.entities[type].present(ctx, rows)) found.set(keyOf(type, String(data.name)), data);
    }
    for (const node of nodes.values()) node.existing = found.get(node.key) ?? null;
    return found;
  }

  /** Each reference as a team or a relation-list entry on the record that holds it. */
  private resolve(nodes: Map<string, Node>, existing: Map<string, EntityData>): void {
    for (const node of [...nodes.values()]) {
      for (const ref of node.plan?.refs ?? []) {
        if (TEAM_VIAS.has(ref.via) && ref.kind !== 'group' && ref.kind !== 'user') continue;
        if (ref.via === 'owner' && ref.kind !== 'group') {
          node.warnings.push(`owner ${ref.kind}:${ref.name}: only a Group owns records here; not kept`);
          continue;
        }
        const target = this.target(ref, nodes, existing, node);
        if (!target) continue;
        const [from, to] = ref.inverse ? [target, node] : [node, target];
        if (from.key === to.key) {
          node.errors.push(`${ref.via} ${ref.kind}:${ref.name}: a record cannot refer to itself`);
          continue;
        }
        const holder = nodes.get(from.key) ?? implicitNode(from, existing.get(from.key)!, nodes);
        if (to.type === 'teams') {
          if (!TEAM_VIAS.has(ref.via) || !HAS_TEAM.has(holder.type)) node.warnings.push(`${ref.via} ${ref.kind}:${ref.name}: not a relation we keep`);
          else if (!(ref.via === 'members' && holder.team?.via === 'memberOf')) holder.team = { key: to.key, via: ref.via };
          continue;
        }
        const field = RELATION_FIELDS[holder.type]?.[to.type];
        if (!field || TEAM_VIAS.has(ref.via)) {
          node.warnings.push(`${ref.via} ${ref.kind}:${ref.name}: a ${KINDS[holder.type].label} holds no relation to a ${KINDS[to.type].label}; not kept`);
          continue;
        }
        holder.lists.get(field)!.add(to.key);
      }
    }
  }

  private target(ref: Reference, nodes: Map<string, Node>, existing: Map<string, EntityData>, node: Node): { key: string; type: CatalogType } | null {
    const types = REF_COLLECTIONS[ref.kind];
    if (!types) {
      node.warnings.push(`${ref.via} ${ref.kind}:${ref.name}: references to ${ref.kind} are not imported`);
      return null;
    }
    const hits = types.map((type) => keyOf(type, ref.name)).filter((key) => nodes.has(key) || existing.has(key));
    if (hits.length !== 1) {
      node.errors.push(
        hits.length
          ? `${ref.via} ${ref.kind}:${ref.name}: both a service and a component have this name`
          : `${ref.via} ${ref.kind}:${ref.name}: no such record in the file or the tenant`,
      );
      return null;
    }
    return { key: hits[0], type: hits[0].slice(0, hits[0].indexOf(':')) as CatalogType };
  }

  /**
   * Writes every changed record, targets before the records that point at them, so each is written
   * once; a relation that closes a cycle among new records is added by a second update at the end.
   */
  private async apply(w: ServiceContext, nodes: Map<string, Node>, existing: Map<string, EntityData>): Promise<void> {
    const ids = new Map([...existing].map(([key, data]) => [key, data.id]));
    const deferred: Node[] = [];
    for (const node of writeOrder(nodes)) {
      if (node.action === 'unchanged') continue;
      const { input, complete } = inputOf(node, ids);
      const service = this.entities[node.type];
      const data = node.existing ? await service.update(w, node.existing.id, input) : await service.create(w, input);
      ids.set(node.key, data.id);
      node.id = data.id;
      if (!complete) deferred.push(node);
    }
    for (const node of deferred) await this.entities[node.type].update(w, node.id!, inputOf(node, ids).input);
  }
}

function newNode(plan: Planned): Node {
  const lists = new Map((MANAGED_LISTS[plan.type] ?? []).map((f) => [f, new Set<string>()]));
  return {
    key: keyOf(plan.type, plan.name),
    type: plan.type,
    name: plan.name,
    plan,
    existing: null,
    fields: plan.fields,
    team: null,
    lists,
    errors: [],
    warnings: [...plan.warnings],
    id: null,
  };
}

/** A live record the file does not name but a reference adds to (a System in another file): its lists kept, the new entries added. */
function implicitNode(target: { key: string; type: CatalogType }, existing: EntityData, nodes: Map<string, Node>): Node {
  const lists = new Map((MANAGED_LISTS[target.type] ?? []).map((f) => [f, new Set<string>()]));
  const node: Node = {
    key: target.key,
    type: target.type,
    name: String(existing.name),
    plan: null,
    existing,
    fields: {},
    team: null,
    lists,
    errors: [],
    warnings: [],
    id: existing.id,
  };
  nodes.set(node.key, node);
  return node;
}

/** The fields through the kind's create schema (the REST writes' own), their errors on the node. */
function validate(nodes: Map<string, Node>): void {
  for (const node of nodes.values()) {
    if (!node.plan) continue;
    const parsed = KINDS[node.type].create.safeParse(node.fields);
    if (parsed.success) node.fields = parsed.data as Record<string, unknown>;
    else node.errors.push(...parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const sameSet = (a: unknown, b: string[]) => same([...((a as string[] | undefined) ?? [])].sort(), [...b].sort());

function actionOf(node: Node, existing: Map<string, EntityData>): ImportAction {
  const current = node.existing;
  if (!current) return 'created';
  const idOf = (key: string) => existing.get(key)?.id;
  if (!Object.entries(node.fields).every(([k, v]) => same(current[k], v))) return 'updated';
  if (node.plan && HAS_TEAM.has(node.type) && !same(current.team_id, node.team ? (idOf(node.team.key) ?? 'new') : null)) return 'updated';
  if (!node.plan && node.team && !same(current.team_id, idOf(node.team.key) ?? 'new')) return 'updated';
  for (const [field, keys] of node.lists) {
    const wanted = [...keys].map((k) => idOf(k) ?? `new:${k}`);
    const base = node.plan ? wanted : [...new Set([...((current[field] as string[]) ?? []), ...wanted])];
    if (!sameSet(current[field], base)) return 'updated';
  }
  return 'unchanged';
}

/** The create or update body of a node, with the ids known so far; `complete` when none was missing. */
function inputOf(node: Node, ids: Map<string, string>): { input: Record<string, unknown>; complete: boolean } {
  let complete = true;
  const input: Record<string, unknown> = { ...node.fields };
  if (node.team || (node.plan && HAS_TEAM.has(node.type))) {
    const teamId = node.team ? ids.get(node.team.key) : null;
    if (teamId === undefined) complete = false;
    input.team_id = teamId ?? null;
  }
  for (const [field, keys] of node.lists) {
    const known = [...keys].map((k) => ids.get(k)).filter((id): id is string => id !== undefined);
    if (known.length < keys.size) complete = false;
    input[field] = node.plan ? known : [...new Set([...((node.existing?.[field] as string[]) ?? []), ...known])];
  }
  return { input, complete };
}

/** Depth-first, targets first (teams before their members, a dependency before what depends on it). */
function writeOrder(nodes: Map<string, Node>): Node[] {
  const order: Node[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visitNode = (node: Node) => {
    if (state.has(node.key)) return;
    state.set(node.key, 'open');
    const targets = [...(node.team ? [node.team.key] : []), ...[...node.lists.values()].flatMap((s) => [...s])];
    for (const key of targets) {
      const target = nodes.get(key);
      if (target) visitNode(target);
    }
    state.set(node.key, 'done');
    order.push(node);
  };
  for (const node of nodes.values()) visitNode(node);
  return order;
}

function report(dryRun: boolean, nodes: Map<string, Node>, unmapped: Unmapped[]): ImportReport {
  const entities: ReportEntry[] = [
    ...[...nodes.values()].map((n) => ({
      document: n.plan?.index ?? null,
      kind: n.plan?.kind ?? BACKSTAGE_KINDS[n.type],
      name: n.name,
      type: n.type,
      action: n.action ?? 'invalid',
      id: n.id ?? n.existing?.id ?? null,
      ...(n.errors.length ? { errors: n.errors } : {}),
      ...(n.warnings.length ? { warnings: n.warnings } : {}),
    })),
    ...unmapped.map((u) => ({ document: u.index, kind: u.kind, name: u.name, type: null, action: u.action, id: null, errors: u.errors })),
  ].sort((a, b) => (a.document ?? Infinity) - (b.document ?? Infinity));
  const totals = Object.fromEntries(IMPORT_ACTIONS.map((a) => [a, entities.filter((e) => e.action === a).length])) as Record<ImportAction, number>;
  return { dry_run: dryRun, entities, totals };
}
