// One service for every catalog kind (teams, people, products, services, components, resources,
// repositories) on the record engine: the access policy, validation, row + relation lists +
// assignments, and the change recorded for the audit log and the change log, in one WriteRunner
// transaction.
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { listPage, type ListQuery, type Page } from '../../platform/listing.js';
import {
  RecordTable, diff, parseInput, plain, present, type WriteOptions as RecordWriteOptions,
} from '../../platform/records.js';
import { replaceLinks, scoped } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { KINDS, type CatalogType, type EntityData, type EntityKind, type RelationList } from './kinds.js';
import { readDetail } from './detail.js';
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

  /** The record with its related records as summaries (without incidents and scores): one statement. */
  getDetail(ctx: ServiceContext, id: string): Promise<EntityData> {
    return readDetail(ctx, this.type, id, false);
  }

  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<EntityData>> {
    if (query.includeDeleted) await authorize(ctx, 'read_deleted', { type: this.type });
    const page = await listPage<CatalogModel>(ctx, this.kind, query);
    return { data: await this.present(ctx, page.rows), meta: page.meta };
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<EntityData> {
    await authorize(ctx, 'write', { type: this.type });
    const parsed = parseInput(this.kind.create, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...columns });
      await this.checkReferences(w, columns, lists, assignments, null);
      const row = (await scoped(this.kind.model, w)
        .insert({ ...columns, created_by: w.actor.userId, updated_by: w.actor.userId })
        .returning('*')) as unknown as CatalogModel;
      await this.writeLists(w, row, lists, assignments);
      const data = await this.get(w, row.id);
      w.record({ entityType: this.type, entityId: row.id, entityName: String(data.name), action: 'created', data });
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<EntityData> {
    if (!opts.impliedBy) await authorize(ctx, 'write', { type: this.type, id });
    const parsed = parseInput(this.kind.update, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const current = await this.table.lock(w, id, opts);
      const [before] = await this.present(w, [current]);
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...plain(current), ...columns });
      await this.checkReferences(w, columns, lists, assignments, id);
      if (this.isNoop(before, columns, lists, assignments)) return before; // no version bump, no event
      await this.table.patch(w, current, columns);
      await this.writeLists(w, current, lists, assignments);
      const data = await this.get(w, id);
      w.record({
        entityType: this.type, entityId: id, entityName: String(data.name), action: 'updated', data,
        changes: diff(before, data),
      });
      return data;
    });
  }

  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: this.type, id });
    await this.writes.run(ctx, async (w) => {
      const current = await this.table.lock(w, id, opts);
      await this.table.softDelete(w, current);
      const data = await this.get(w, id, { includeDeleted: true });
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'deleted', data });
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<EntityData> {
    await authorize(ctx, 'write', { type: this.type, id });
    return this.writes.run(ctx, async (w) => {
      const current = await this.table.lock(w, id, { includeDeleted: true });
      if (!(await this.table.restore(w, current))) return (await this.present(w, [current]))[0];
      const data = await this.get(w, id);
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'restored', data });
      for (const hook of this.restoreHooks) await hook(w, id);
      return this.restoreHooks.length ? this.get(w, id) : data;
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

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
  private isNoop(
    before: EntityData,
    columns: Record<string, unknown>,
    lists: Record<string, string[]>,
    assignments: Assignment[] | undefined,
  ): boolean {
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const sameSet = (a: string[], b: string[]) => same([...a].sort(), [...b].sort());
    if (!Object.entries(plain(columns)).every(([k, v]) => same(before[k], v))) return false;
    if (!Object.entries(lists).every(([k, ids]) => sameSet((before[k] as string[]) ?? [], ids))) return false;
    if (!assignments) return true;
    const key = (a: { person_id: string; role: string }) => `${a.person_id}|${a.role}`;
    return sameSet(((before.assignments as Assignment[]) ?? []).map(key), assignments.map(key));
  }

  /** Every id the write points at must be a live record of the same tenant: else 422, never a 404. */
  private async checkReferences(
    w: WriteScope,
    columns: Record<string, unknown>,
    lists: Record<string, string[]>,
    assignments: { person_id: string }[] | undefined,
    selfId: string | null,
  ): Promise<void> {
    const issues: FieldIssue[] = [];
    const check = async (target: CatalogType, ids: string[], path: (i: number) => string) => {
      if (ids.length === 0) return;
      const found = new Set(
        (await scoped(KINDS[target].model, w).whereIn('id', ids).select('id')).map((r) => r.id),
      );
      ids.forEach((id, i) => {
        if (!found.has(id)) issues.push({ path: path(i), message: `no ${KINDS[target].label} with id ${id} in this tenant` });
      });
    };
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
      await check(rel.target, ids, (i) => `${rel.field}.${i}`);
    }
    if (assignments) await check('people', assignments.map((a) => a.person_id), (i) => `assignments.${i}.person_id`);
    if (issues.length) throw UnprocessableEntity('The request refers to records that do not exist.', issues);
  }

  private async writeLists(
    w: WriteScope,
    owner: CatalogModel,
    lists: Record<string, string[]>,
    assignments: Assignment[] | undefined,
  ): Promise<void> {
    for (const rel of this.kind.relations) {
      const ids = lists[rel.field];
      if (ids) await replaceLinks(w, this.link(rel), owner, ids.map((other) => ({ [rel.otherKey]: other })));
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

  /** Rows as REST returns them: columns (no tenant_id) plus the relation id lists the kind owns. */
  async present(ctx: ServiceContext, rows: CatalogModel[]): Promise<EntityData[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const lists = new Map<string, Record<string, unknown>>(ids.map((id) => [id, {}]));
    for (const rel of this.kind.relations) {
      for (const id of ids) lists.get(id)![rel.field] = [];
      // Live targets of this tenant only, through the target's own scope.
      const target = KINDS[rel.target].model;
      const links = (await scoped(target, ctx)
        .join(rel.joinTable, `${rel.joinTable}.${rel.otherKey}`, `${target.tableName}.id`)
        .whereIn(`${rel.joinTable}.${rel.ownKey}`, ids)
        .orderBy([`${target.tableName}.name`, `${target.tableName}.id`])
        .select(`${rel.joinTable}.${rel.ownKey} as own`, `${rel.joinTable}.${rel.otherKey} as other`)) as unknown as { own: string; other: string }[];
      for (const l of links) (lists.get(l.own)![rel.field] as string[]).push(l.other);
    }
    if (this.kind.assignments) {
      for (const id of ids) lists.get(id)!.assignments = [];
      const rowsA = await scoped(EntityAssignment, ctx)
        .where({ entity_type: this.type })
        .whereIn('entity_id', ids)
        .orderBy(['role', 'person_id'])
        .select('entity_id', 'person_id', 'role');
      for (const a of rowsA) (lists.get(a.entity_id)!.assignments as unknown[]).push({ person_id: a.person_id, role: a.role });
    }
    return rows.map((row) => ({ ...lists.get(row.id)!, ...present<Record<string, unknown>>(row) }) as EntityData);
  }
}

export function createEntityServices(writes: WriteRunner): Record<CatalogType, EntityService> {
  return Object.fromEntries(
    Object.values(KINDS).map((kind) => [kind.type, new EntityService(kind, writes)]),
  ) as Record<CatalogType, EntityService>;
}
