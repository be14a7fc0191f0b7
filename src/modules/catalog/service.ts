// One service for every catalog kind (teams, people, products, services, components, resources,
// repositories): authorize, validate, write row + relation lists + assignments, and record the
// change for the audit log and the change log, all inside runWrite's transaction.
import type { z } from 'zod';
import { dbOf, type ServiceContext } from '../../platform/context.js';
import {
  Forbidden, NotFound, PreconditionFailed, UnprocessableEntity, validationError, type FieldIssue,
} from '../../platform/errors.js';
import { scoped } from '../../platform/tenancy.js';
import type { FieldChanges, WriteRunner, WriteScope } from '../../platform/write.js';
import { grantLevel, levelAtLeast } from '../permissions/model.js';
import { KINDS, type CatalogType, type EntityKind } from './kinds.js';
import type { CatalogModel } from './model.js';
import { listPage, type ListQuery, type Page } from './listing.js';

export type EntityData = Record<string, unknown> & { id: string; row_version: number };

export interface WriteOptions {
  /** From If-Match: the write happens only if the row is still at this version. */
  expectedVersion?: number;
  /**
   * The caller already authorized a write that implies this one (an incident moving the
   * operational_status of the entities it affects). Only services pass this, never routes.
   */
  impliedBy?: string;
}

const BOOKKEEPING = new Set(['updated_at', 'updated_by', 'row_version']);

/** Dates to ISO strings, model instances to plain objects: the shape REST and events carry. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function diff(before: Record<string, unknown>, after: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (BOOKKEEPING.has(key)) continue;
    if (JSON.stringify(before[key] ?? null) !== JSON.stringify(after[key] ?? null)) {
      changes[key] = { old: before[key] ?? null, new: after[key] ?? null };
    }
  }
  return changes;
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** Work another module does inside the restore's transaction (incidents recompute status). */
export type RestoreHook = (w: WriteScope, id: string) => Promise<void>;

export class EntityService {
  private readonly restoreHooks: RestoreHook[] = [];

  constructor(
    readonly kind: EntityKind,
    private readonly writes: WriteRunner,
  ) {}

  onRestore(hook: RestoreHook): void {
    this.restoreHooks.push(hook);
  }

  get type(): CatalogType {
    return this.kind.type;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<EntityData> {
    const row = await this.findRow(ctx, id, { includeDeleted: opts.includeDeleted });
    const [data] = await this.present(ctx, [row]);
    return data;
  }

  /** The record with its relations loaded as summaries (TPRD §4.4 *Detail), in one query per relation. */
  async getDetail(ctx: ServiceContext, id: string): Promise<EntityData> {
    const row = await this.findRow(ctx, id, { graph: true });
    const [data] = await this.present(ctx, [row]);
    return data;
  }

  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<EntityData>> {
    if (query.includeDeleted && ctx.actor.role !== 'admin') throw Forbidden('include_deleted is for admins.');
    const page = await listPage<CatalogModel>(ctx, this.kind, query);
    return { data: await this.present(ctx, page.rows), meta: page.meta };
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<EntityData> {
    await this.authorizeWrite(ctx);
    const parsed = parseInput(this.kind.create, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...columns });
      await this.checkReferences(w, columns, lists, assignments, null);
      const row = await scoped(this.kind.model, w)
        .insert({ ...columns, created_by: w.actor.userId, updated_by: w.actor.userId })
        .returning('*');
      const id = (row as unknown as CatalogModel).id;
      await this.writeLists(w, id, lists, assignments);
      const data = await this.get(w, id);
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'created', data });
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<EntityData> {
    if (!opts.impliedBy) await this.authorizeWrite(ctx, id);
    const parsed = parseInput(this.kind.update, input) as Record<string, unknown>;
    return this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true });
      this.checkVersion(current, opts);
      const [before] = await this.present(w, [current]);
      const { columns, lists, assignments } = this.split(parsed);
      this.validateRow({ ...plain(current), ...columns });
      await this.checkReferences(w, columns, lists, assignments, id);
      if (this.isNoop(before, columns, lists, assignments)) return before; // no version bump, no event
      await scoped(this.kind.model, w)
        .findById(id)
        .patch({ ...columns, row_version: current.row_version + 1, updated_at: new Date(), updated_by: w.actor.userId });
      await this.writeLists(w, id, lists, assignments);
      const data = await this.get(w, id);
      w.record({
        entityType: this.type, entityId: id, entityName: String(data.name), action: 'updated', data,
        changes: diff(before, data),
      });
      return data;
    });
  }

  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await this.authorizeWrite(ctx, id);
    await this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true });
      this.checkVersion(current, opts);
      await scoped(this.kind.model, w).findById(id).patch({
        deleted_at: new Date(), row_version: current.row_version + 1, updated_at: new Date(), updated_by: w.actor.userId,
      });
      const data = await this.get(w, id, { includeDeleted: true });
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'deleted', data });
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<EntityData> {
    await this.authorizeWrite(ctx, id);
    return this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true, includeDeleted: true });
      if (!current.deleted_at) {
        const [data] = await this.present(w, [current]);
        return data;
      }
      // A live row holding the same name makes this a unique violation: 409 from the error mapper.
      await scoped(this.kind.model, w, { includeDeleted: true }).findById(id).patch({
        deleted_at: null, row_version: current.row_version + 1, updated_at: new Date(), updated_by: w.actor.userId,
      });
      const data = await this.get(w, id);
      w.record({ entityType: this.type, entityId: id, entityName: String(data.name), action: 'restored', data });
      for (const hook of this.restoreHooks) await hook(w, id);
      return this.restoreHooks.length ? this.get(w, id) : data;
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  async authorizeWrite(ctx: ServiceContext, id?: string): Promise<void> {
    if (!ctx.actor.canWrite) throw Forbidden('This API key is read-only.');
    if (this.kind.writeRoles.includes(ctx.actor.role)) return;
    if (id && levelAtLeast(await grantLevel(ctx, this.type, id), 'EDIT')) return;
    throw Forbidden(`Role '${ctx.actor.role}' may not change ${this.type}.`);
  }

  private async findRow(
    ctx: ServiceContext,
    id: string,
    opts: { includeDeleted?: boolean; forUpdate?: boolean; graph?: boolean } = {},
  ): Promise<CatalogModel> {
    const q = scoped(this.kind.model, ctx, { includeDeleted: opts.includeDeleted }).findById(id);
    if (opts.forUpdate) q.forUpdate();
    if (opts.graph) q.withGraphFetched(this.kind.detailGraph);
    const row = await q;
    if (!row) throw NotFound(`No ${this.kind.label} with id ${id}.`);
    return row;
  }

  private checkVersion(current: CatalogModel, opts: WriteOptions): void {
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.row_version) {
      throw PreconditionFailed(
        `The ${this.kind.label} is at version ${current.row_version}, not ${opts.expectedVersion}.`,
      );
    }
  }

  private validateRow(row: Record<string, unknown>): void {
    const issues = this.kind.validateRow?.(row) ?? [];
    if (issues.length) throw UnprocessableEntity('The request did not pass validation.', issues);
  }

  private split(parsed: Record<string, unknown>) {
    const columns: Record<string, unknown> = {};
    const lists: Record<string, string[]> = {};
    let assignments: { person_id: string; role: string }[] | undefined;
    const listFields = new Set(this.kind.relations.map((r) => r.field));
    for (const [key, value] of Object.entries(parsed)) {
      if (value === undefined) continue;
      if (listFields.has(key)) lists[key] = [...new Set(value as string[])];
      else if (key === 'assignments') assignments = dedupeAssignments(value as { person_id: string; role: string }[]);
      else columns[key] = value;
    }
    return { columns, lists, assignments };
  }

  /** A PATCH that sets every field to what it already is writes nothing (lists compare as sets). */
  private isNoop(
    before: EntityData,
    columns: Record<string, unknown>,
    lists: Record<string, string[]>,
    assignments: { person_id: string; role: string }[] | undefined,
  ): boolean {
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const sameSet = (a: string[], b: string[]) => same([...a].sort(), [...b].sort());
    if (!Object.entries(plain(columns)).every(([k, v]) => same(before[k], v))) return false;
    if (!Object.entries(lists).every(([k, ids]) => sameSet((before[k] as string[]) ?? [], ids))) return false;
    if (!assignments) return true;
    const key = (a: { person_id: string; role: string }) => `${a.person_id}|${a.role}`;
    return sameSet(((before.assignments as { person_id: string; role: string }[]) ?? []).map(key), assignments.map(key));
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
    id: string,
    lists: Record<string, string[]>,
    assignments: { person_id: string; role: string }[] | undefined,
  ): Promise<void> {
    for (const rel of this.kind.relations) {
      const ids = lists[rel.field];
      if (!ids) continue;
      await w.trx(rel.joinTable).where(rel.ownKey, id).delete();
      if (ids.length) await w.trx(rel.joinTable).insert(ids.map((other) => ({ [rel.ownKey]: id, [rel.otherKey]: other })));
    }
    if (assignments && this.kind.assignments) {
      await w.trx('entity_assignments').where({ tenant_id: w.tenantId, entity_type: this.type, entity_id: id }).delete();
      if (assignments.length) {
        await w.trx('entity_assignments').insert(
          assignments.map((a) => ({ tenant_id: w.tenantId, entity_type: this.type, entity_id: id, ...a })),
        );
      }
    }
  }

  /** Rows as REST returns them: columns (no tenant_id) plus the relation id lists the kind owns. */
  async present(ctx: ServiceContext, rows: CatalogModel[]): Promise<EntityData[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const lists = new Map<string, Record<string, unknown>>(ids.map((id) => [id, {}]));
    const db = dbOf(ctx);
    for (const rel of this.kind.relations) {
      for (const id of ids) lists.get(id)![rel.field] = [];
      // The detail view fetched these records already: derive the id list instead of reading it again.
      if (rows.every((r) => Array.isArray(r[rel.graph]))) {
        for (const r of rows) {
          lists.get(r.id)![rel.field] = (r[rel.graph] as { id: string }[]).map((x) => x.id); // byName, as below
        }
        continue;
      }
      const target = KINDS[rel.target].model.tableName;
      const links = await db(rel.joinTable)
        .join(target, `${target}.id`, `${rel.joinTable}.${rel.otherKey}`)
        .whereIn(`${rel.joinTable}.${rel.ownKey}`, ids)
        .where(`${target}.tenant_id`, ctx.tenantId)
        .whereNull(`${target}.deleted_at`)
        .orderBy(`${target}.name`)
        .select(`${rel.joinTable}.${rel.ownKey} as own`, `${rel.joinTable}.${rel.otherKey} as other`);
      for (const l of links) (lists.get(l.own)![rel.field] as string[]).push(l.other);
    }
    if (this.kind.assignments && !rows.every((r) => Array.isArray(r.assignments))) {
      for (const id of ids) lists.get(id)!.assignments = [];
      const rowsA = await db('entity_assignments')
        .where({ tenant_id: ctx.tenantId, entity_type: this.type })
        .whereIn('entity_id', ids)
        .orderBy(['role', 'person_id'])
        .select('entity_id', 'person_id', 'role');
      for (const a of rowsA) (lists.get(a.entity_id)!.assignments as unknown[]).push({ person_id: a.person_id, role: a.role });
    }
    return rows.map((row) => {
      const { tenant_id: _t, __sort_key: _k, ...rest } = plain(row) as Record<string, unknown>;
      // Relations loaded for the detail view become summaries; `assignments` then carries people.
      for (const [key, value] of Object.entries(rest)) {
        if (key === 'assignments' && Array.isArray(value)) rest[key] = value.map(summarizeAssignment);
        else if (key === 'team' && value && typeof value === 'object') rest[key] = summarize(value as Record<string, unknown>);
        else if (Array.isArray(value) && value.every((v) => v && typeof v === 'object' && 'id' in v)) {
          rest[key] = value.map((v) => summarize(v as Record<string, unknown>));
        }
      }
      return { ...lists.get(row.id)!, ...rest } as EntityData;
    });
  }
}

const SUMMARY_FIELDS = ['id', 'name', 'type', 'status', 'operational_status', 'environment', 'provider', 'email'];

/** TPRD *Summary: what a related record shows inside another's detail view. */
function summarize(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SUMMARY_FIELDS.filter((f) => row[f] !== undefined).map((f) => [f, row[f]]));
}

function summarizeAssignment(a: Record<string, unknown>) {
  if (!('person' in a)) return a;
  const person = a.person as Record<string, unknown> | null;
  return { person_id: a.person_id, role: a.role, person: person ? summarize(person) : null };
}

function dedupeAssignments(list: { person_id: string; role: string }[]) {
  const seen = new Set<string>();
  return list.filter((a) => {
    const key = `${a.person_id}|${a.role}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).sort((a, b) => (a.role === b.role ? a.person_id.localeCompare(b.person_id) : a.role.localeCompare(b.role)));
}

export function createEntityServices(writes: WriteRunner): Record<CatalogType, EntityService> {
  return Object.fromEntries(
    Object.values(KINDS).map((kind) => [kind.type, new EntityService(kind, writes)]),
  ) as Record<CatalogType, EntityService>;
}
