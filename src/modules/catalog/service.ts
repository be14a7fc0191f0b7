// One service for every catalog kind (teams, people, products, services, components, resources,
// repositories) on the record engine: the access policy, validation, row + relation lists +
// assignments, and the change recorded for the audit log and the change log, in one WriteRunner
// transaction.
import type { ServiceContext } from '../../platform/context.js';
import { Conflict, UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { facetCounts, type FacetCounts, type FacetQuery } from '../../platform/facets.js';
import { listPage, type ListQuery, type Page } from '../../platform/listing.js';
import { RecordTable, diff, parseInput, plain, present, type WriteOptions as RecordWriteOptions } from '../../platform/records.js';
import { liveRowOf, replaceLinks, scoped, scopedRaw } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { KINDS, type CatalogType, type EntityData, type EntityKind, type RelationList } from './kinds.js';
import { listPageColumns, listsOf, lockWithLists, readDetail } from './detail.js';
import { EntityAssignment, type CatalogModel } from './model.js';
import { dedupeAssignments, type Assignment } from './summaries.js';

export interface WriteOptions extends RecordWriteOptions {
  /**
   * The caller already authorized a write that implies this one (an incident moving the
   * operational_status of the entities it affects). Only services pass this, never routes.
   */
  impliedBy?: string;
}

/** Work another module does inside the restore's transaction (incidents recompute status). */
export type RestoreHook = (w: WriteScope, id: string) => Promise<void>;

export class EntityService {
  private readonly restoreHooks: RestoreHook[] = [];
  private readonly table: RecordTable<CatalogModel>;

  constructor(
    readonly kind: EntityKind,
    private readonly writes: WriteRunner,
  ) {
    this.table = new RecordTable<CatalogModel>(kind.model, kind.label);
  }

  onRestore(hook: RestoreHook): void {
    this.restoreHooks.push(hook);
  }

  get type(): CatalogType {
    return this.kind.type;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<EntityData> {
    const row = await this.table.find(ctx, id, { includeDeleted: opts.includeDeleted });
    const [data] = await this.present(ctx, [row]);
    return data;
  }

  /** Live records as REST returns them, those of `ids` that exist (two statements however many). */
  async getMany(ctx: ServiceContext, ids: readonly string[]): Promise<EntityData[]> {
    if (ids.length === 0) return [];
    return this.present(ctx, await scoped(this.kind.model, ctx).whereIn('id', ids as string[]));
  }

  /** The record with its related records as summaries (without incidents and scores): one statement. */
  getDetail(ctx: ServiceContext, id: string): Promise<EntityData> {
    return readDetail(ctx, this.type, id, false);
  }

  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<EntityData>> {
    if (query.includeDeleted) await authorize(ctx, 'read_deleted', { type: this.type });
    // The page and every row's relation id lists in one statement.
    const page = await listPage<CatalogModel>(ctx, this.kind, query, { columns: listPageColumns(this.type) });
    return { data: page.rows.map((row) => present<EntityData>(row)), meta: page.meta };
  }

  /** Counts of the live records the filters select, by the values of one enum field. */
  facets(ctx: ServiceContext, query: FacetQuery): Promise<FacetCounts> {
    return facetCounts(ctx, this.kind, query);
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<EntityData> {
    await authorize(ctx, 'write', { type: this.type });
    const parsed = parseInput(this.kind.create, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...columns });
      const ordered = await this.checkReferences(w, columns, lists, assignments, null);
      const row = (await scoped(this.kind.model, w)
        .insert({ ...columns, created_by: w.actor.userId, updated_by: w.actor.userId })
        .returning('*')) as unknown as CatalogModel;
      await this.writeLists(w, row, lists, assignments);
      // The new record's lists are what was given (checked live above, in name order): nothing is read back.
      const data = await this.view(w, row, this.emptyLists(), ordered, assignments);
      w.record({ entityType: this.type, entityId: row.id, entityName: String(data.name), action: 'created', data });
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<EntityData> {
    if (!opts.impliedBy) await authorize(ctx, 'write', { type: this.type, id });
    const parsed = parseInput(this.kind.update, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const { current, before } = await this.lock(w, id, opts);
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...before, ...columns });
      const ordered = await this.checkReferences(w, columns, lists, assignments, id);
      if (this.isNoop(before, columns, lists, assignments)) return before; // no version bump, no event
      const row = await this.table.patch(w, current, columns);
      await this.writeLists(w, current, lists, assignments);
      const data = await this.view(w, row, before, ordered, assignments);
      w.record({
        entityType: this.type,
        entityId: id,
        entityName: String(data.name),
        action: 'updated',
        data,
        changes: diff(before, data),
      });
      return data;
    });
  }

  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: this.type, id });
    await this.writes.run(ctx, async (w) => {
      const { current, before } = await this.lock(w, id, opts);
      await refuseWhileReferenced(w, this.kind, id);
      const data = await this.view(w, await this.table.softDelete(w, current), before);
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'deleted', data, previous: before });
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<EntityData> {
    await authorize(ctx, 'write', { type: this.type, id });
    return this.writes.run(ctx, async (w) => {
      const { current, before } = await this.lock(w, id, { includeDeleted: true });
      const row = await this.table.restore(w, current);
      if (!row) return before;
      const data = await this.view(w, row, before);
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'restored', data, previous: before });
      for (const hook of this.restoreHooks) await hook(w, id);
      return this.restoreHooks.length ? this.get(w, id) : data;
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The row locked for this write, with its lists, as `current` (columns) and `before` (as REST shows it). */
  private async lock(w: WriteScope, id: string, opts: WriteOptions & { includeDeleted?: boolean }) {
    const current = await this.table.lock(
      w,
      id,
      opts,
      (trx, rowId, includeDeleted) => lockWithLists(trx, this.type, rowId, includeDeleted) as Promise<CatalogModel | null>,
    );
    return { current, before: present<EntityData>(current) };
  }

  private emptyLists(): Record<string, unknown> {
    const lists: Record<string, unknown> = Object.fromEntries(this.kind.relations.map((r) => [r.field, []]));
    if (this.kind.assignments) lists.assignments = [];
    return lists;
  }

  /**
   * The record after a write, from the row the write returned: the lists it wrote (`ordered`), else
   * those it had (`base`). Written assignments are read back, in the order every read gives them.
   */
  private async view(
    w: WriteScope,
    row: CatalogModel,
    base: Record<string, unknown>,
    ordered: Record<string, string[]> = {},
    assignments?: Assignment[],
  ): Promise<EntityData> {
    const lists: Record<string, unknown> = {};
    for (const rel of this.kind.relations) lists[rel.field] = ordered[rel.field] ?? base[rel.field] ?? [];
    if (this.kind.assignments) {
      lists.assignments = assignments ? ((await listsOf(w, this.type, [row.id])).get(row.id)?.assignments ?? []) : (base.assignments ?? []);
    }
    return { ...lists, ...present<Record<string, unknown>>(row) } as EntityData;
  }

  private validateRow(row: Record<string, unknown>): void {
    const issues = this.kind.validateRow?.(row) ?? [];
    if (issues.length) throw UnprocessableEntity('The request did not pass validation.', issues);
  }
  private split(parsed: Record<string, unknown>) {
    const columns: Record<string, unknown> = {};
    const lists: Record<string, string[]> = {};
    let assignments: Assignment[] | undefined;
    const listFields = new Set(this.kind.relations.map((r) => r.field));
    for (const [key, value] of Object.entries(parsed)) {
      if (value === undefined) continue;
      if (listFields.has(key)) lists[key] = [...new Set(value as string[])];
      else if (key === 'assignments') assignments = dedupeAssignments(value as Assignment[]);
      else columns[key] = value;
    }
    return { columns, lists, assignments };
  }

  /** A PATCH that sets every field to what it already is writes nothing (lists compare as sets). */
  private isNoop(before: EntityData, columns: Record<string, unknown>, lists: Record<string, string[]>, assignments: Assignment[] | undefined): boolean {
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const sameSet = (a: string[], b: string[]) => same([...a].sort(), [...b].sort());
    if (!Object.entries(plain(columns)).every(([k, v]) => same(before[k], v))) return false;
    if (!Object.entries(lists).every(([k, ids]) => sameSet((before[k] as string[]) ?? [], ids))) return false;
    if (!assignments) return true;
    const key = (a: { person_id: string; role: string }) => `${a.person_id}|${a.role}`;
    return sameSet(((before.assignments as Assignment[]) ?? []).map(key), assignments.map(key));
  }

  /**
   * Every id the write points at must be a live record of the same tenant: else 422, never a 404.
   * Returns each given relation list in the order reads give it (the targets' names).
   */
  private async checkReferences(
    w: WriteScope,
    columns: Record<string, unknown>,
    lists: Record<string, string[]>,
    assignments: { person_id: string }[] | undefined,
    selfId: string | null,
  ): Promise<Record<string, string[]>> {
    const issues: FieldIssue[] = [];
    const check = async (target: CatalogType, ids: string[], path: (i: number) => string): Promise<string[]> => {
      if (ids.length === 0) return [];
      const live = (await scoped(KINDS[target].model, w).whereIn('id', ids).orderBy(['name', 'id']).select('id')).map((r) => r.id);
      const found = new Set(live);
      ids.forEach((id, i) => {
        if (!found.has(id)) issues.push({ path: path(i), message: `no ${KINDS[target].label} with id ${id} in this tenant` });
      });
      return live;
    };
    const ordered: Record<string, string[]> = {};
    for (const ref of this.kind.references) {
      const value = columns[ref.field];
      if (typeof value === 'string') await check(ref.target, [value], () => ref.field);
    }
    for (const rel of this.kind.relations) {
      const ids = lists[rel.field];
      if (!ids) continue;
      if (selfId && rel.target === this.type && ids.includes(selfId)) {
        issues.push({ path: rel.field, message: `a ${this.kind.label} cannot depend on itself` });
      }
      ordered[rel.field] = await check(rel.target, ids, (i) => `${rel.field}.${i}`);
    }
    if (assignments)
      await check(
        'people',
        assignments.map((a) => a.person_id),
        (i) => `assignments.${i}.person_id`,
      );
    if (issues.length) throw UnprocessableEntity('The request refers to records that do not exist.', issues);
    return ordered;
  }

  private async writeLists(w: WriteScope, owner: CatalogModel, lists: Record<string, string[]>, assignments: Assignment[] | undefined): Promise<void> {
    for (const rel of this.kind.relations) {
      const ids = lists[rel.field];
      if (ids)
        await replaceLinks(
          w,
          this.link(rel),
          owner,
          ids.map((other) => ({ [rel.otherKey]: other })),
        );
    }
    if (assignments && this.kind.assignments) {
      await scoped(EntityAssignment, w).where({ entity_type: this.type, entity_id: owner.id }).delete();
      if (assignments.length) {
        await scoped(EntityAssignment, w).insert(assignments.map((a) => ({ entity_type: this.type, entity_id: owner.id, ...a })));
      }
    }
  }

  private link(rel: RelationList) {
    return { table: rel.joinTable, ownerKey: rel.ownKey, owner: this.kind.model };
  }

  /** Rows as REST returns them: columns (no tenant_id) plus the relation id lists the kind owns (one statement). */
  async present(ctx: ServiceContext, rows: CatalogModel[]): Promise<EntityData[]> {
    if (rows.length === 0) return [];
    const lists = await listsOf(
      ctx,
      this.type,
      rows.map((r) => r.id),
    );
    return rows.map((row) => ({ ...this.emptyLists(), ...lists.get(row.id), ...present<Record<string, unknown>>(row) }) as EntityData);
  }
}

export function createEntityServices(writes: WriteRunner): Record<CatalogType, EntityService> {
  return Object.fromEntries(Object.values(KINDS).map((kind) => [kind.type, new EntityService(kind, writes)])) as Record<CatalogType, EntityService>;
}

/** The live records that name a record of each kind in a reference column (team_id: teams). */
const REFERRERS = new Map<CatalogType, { kind: EntityKind; field: string }[]>();
for (const kind of Object.values(KINDS)) {
  for (const ref of kind.references) REFERRERS.set(ref.target, [...(REFERRERS.get(ref.target) ?? []), { kind, field: ref.field }]);
}
const referencesStatement = new Map<CatalogType, string>();

/**
 * A record that live records still name (a team that owns services or has members) is not
 * deleted: its references would dangle. 409 naming how many of each kind, in one statement; they
 * are reassigned or deleted first.
 */
async function refuseWhileReferenced(w: WriteScope, kind: EntityKind, id: string): Promise<void> {
  const referrers = REFERRERS.get(kind.type);
  if (!referrers?.length) return;
  let sql = referencesStatement.get(kind.type);
  if (!sql) {
    const counts = referrers.map(
      ({ kind: k, field }, i) => `(SELECT count(*) FROM ${k.model.tableName} r${i} WHERE r${i}.${field} = :id AND ${liveRowOf(`r${i}`)})::int AS "${k.type}"`,
    );
    referencesStatement.set(kind.type, (sql = `SELECT ${counts.join(',\n  ')}`));
  }
  const { rows } = (await scopedRaw(w, sql, { id })) as { rows: Record<string, number>[] };
  const named = Object.entries(rows[0] ?? {}).filter(([, n]) => n > 0);
  if (named.length === 0) return;
  const list = named.map(([type, n]) => `${n} ${n === 1 ? KINDS[type as CatalogType].label : type}`).join(', ');
  throw Conflict(`The ${kind.label} is still named by ${list}: reassign or delete them first.`);
}
