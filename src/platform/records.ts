// The record engine: what every versioned, tenant-scoped record kind shares, written once. Find a
// row (and lock it for update), the If-Match version check, the version bump on every write, soft
// delete and restore, the shape that leaves the service (no tenant_id), input parsing and diffs.
// Services keep only what differs per kind: their columns, relations and rules.
import type { z } from 'zod';
import type { ServiceContext } from './context.js';
import { prepared, runPositional, type Statement } from './db.js';
import { NotFound, PreconditionFailed, validationError } from './errors.js';
import { uuid } from './schema-kit.js';
import type { Model } from 'objection';
import { scoped } from './tenancy.js';
import type { FieldChanges, WriteScope } from './write.js';

export interface WriteOptions {
  /** From If-Match: the write happens only if the row is still at this version. */
  expectedVersion?: number;
}

export interface FindOptions {
  includeDeleted?: boolean;
  forUpdate?: boolean;
}

/** A row of a versioned table: every mutable record kind has these. */
export interface VersionedRow {
  id: string;
  row_version: number;
  deleted_at?: Date | string | null;
}

type RowModel = typeof Model;

/** Column names that change on every write and so never count as a change of the record. */
const BOOKKEEPING = new Set(['updated_at', 'updated_by', 'row_version']);

/** Dates to ISO strings, model instances to plain objects: the shape REST and events carry. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * A row as it leaves a service (a model instance or a driver row): its columns with dates as ISO
 * strings, without tenant_id, unset fields or helper columns (`__sort_key` and the like). One
 * pass over the columns, no JSON round trip.
 */
export function present<T = Record<string, unknown>>(row: object): T {
  const data: Record<string, unknown> = {};
  const source = row as Record<string, unknown>;
  for (const key in source) {
    if (!Object.hasOwn(source, key) || key === 'tenant_id' || (key.charCodeAt(0) === 95 && key.charCodeAt(1) === 95)) continue;
    const value = source[key];
    if (value === undefined) continue;
    data[key] = value instanceof Date ? value.toISOString() : value;
  }
  return data as T;
}

/** {field: {old, new}} for every field whose value differs (bookkeeping columns aside). */
export function diff(before: object, after: object): FieldChanges {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const changes: FieldChanges = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (BOOKKEEPING.has(key)) continue;
    if (JSON.stringify(a[key] ?? null) !== JSON.stringify(b[key] ?? null)) {
      changes[key] = { old: a[key] ?? null, new: b[key] ?? null };
    }
  }
  return changes;
}

/** Validates input against its zod schema: a 422 naming every bad field, else the parsed value. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** The rows of one record kind: a tenant-scoped, versioned table. */
const COLUMN = /^[a-z_][a-z0-9_]*$/;

export class RecordTable<M extends VersionedRow> {
  /** UPDATE statements by the columns they set. */
  private readonly updates = new Map<string, Statement>();

  constructor(
    readonly model: RowModel,
    /** Singular, for messages: 'service', 'incident'. */
    readonly label: string,
    /** Whether the table has `updated_by` (comments, users and API keys do not). */
    private readonly tracksEditor = true,
  ) {}

  notFound(id: string) {
    return NotFound(`No ${this.label} with id ${id}.`);
  }

  /** The row, or a 404 for an unknown id, another tenant's id, or (unless asked) a deleted row. */
  async find(ctx: ServiceContext, id: string, opts: FindOptions = {}): Promise<M> {
    // An id that is not a UUID names no record: 404, not a database cast error.
    if (!uuid.safeParse(id).success) throw this.notFound(id);
    const q = scoped(this.model, ctx, { includeDeleted: opts.includeDeleted }).findById(id);
    if (opts.forUpdate) q.forUpdate();
    const row = await q;
    if (!row) throw this.notFound(id);
    return row as unknown as M;
  }

  /**
   * The row locked for this write, at the version If-Match names (else a 412). `read` replaces the
   * plain SELECT … FOR UPDATE when a kind reads more with the lock (the catalog: its relation lists);
   * it must lock the row and answer null for no such row in the tenant.
   */
  async lock<R extends M = M>(
    w: WriteScope,
    id: string,
    opts: WriteOptions & { includeDeleted?: boolean } = {},
    read?: (w: WriteScope, id: string, includeDeleted: boolean) => Promise<R | null>,
  ): Promise<R> {
    let row: R;
    if (read) {
      if (!uuid.safeParse(id).success) throw this.notFound(id);
      const found = await read(w, id, opts.includeDeleted ?? false);
      if (!found) throw this.notFound(id);
      row = found;
    } else {
      row = (await this.find(w, id, { forUpdate: true, includeDeleted: opts.includeDeleted })) as R;
    }
    this.checkVersion(row, opts);
    return row;
  }

  checkVersion(current: M, opts: WriteOptions): void {
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.row_version) {
      throw PreconditionFailed(`The ${this.label} is at version ${current.row_version}, not ${opts.expectedVersion}.`);
    }
  }

  /**
   * Writes `columns` and bumps the version (and who and when) of a row this write locked; returns
   * the row as written (the driver's row). One UPDATE … RETURNING, its text built once per set
   * of columns; the row is this tenant's by the WHERE clause as well as by the lock.
   */
  async patch(w: WriteScope, current: Pick<M, 'id' | 'row_version'>, columns: Record<string, unknown> = {}): Promise<M> {
    const set: Record<string, unknown> = {
      ...columns,
      row_version: current.row_version + 1,
      updated_at: new Date(),
      ...(this.tracksEditor ? { updated_by: w.actor.userId } : {}),
    };
    const names = Object.keys(set).filter((k) => set[k] !== undefined);
    const key = names.join(',');
    let statement = this.updates.get(key);
    if (!statement) {
      if (!names.every((n) => COLUMN.test(n))) throw new Error(`not a column name: ${key}`);
      const assignments = names.map((n, i) => `"${n}" = $${i + 1}`).join(', ');
      statement = prepared(
        `UPDATE "${this.model.tableName}" SET ${assignments} WHERE id = $${names.length + 1} AND tenant_id = $${names.length + 2} RETURNING *`,
      );
      this.updates.set(key, statement);
    }
    const json = (this.model as { jsonAttributes?: string[] }).jsonAttributes ?? [];
    // JSON columns go as JSON text (the driver would send an array as a PostgreSQL array).
    const values = names.map((n) => (json.includes(n) && set[n] !== null ? JSON.stringify(set[n]) : set[n]));
    const { rows } = await runPositional(w.trx, statement, [...values, current.id, w.tenantId]);
    if (!rows[0]) throw this.notFound(current.id);
    return rows[0] as unknown as M;
  }

  /** Soft delete of several rows this write locked (a comment with its replies); returns them as written. */
  async softDeleteMany(w: WriteScope, ids: string[]): Promise<M[]> {
    if (ids.length === 0) return [];
    const now = new Date();
    const rows = await scoped(this.model, w)
      .whereIn('id', ids)
      .patch({
        deleted_at: now,
        updated_at: now,
        row_version: this.model.raw('row_version + 1'),
        ...(this.tracksEditor ? { updated_by: w.actor.userId } : {}),
      } as never)
      .returning('*');
    return rows as unknown as M[];
  }

  /** Soft delete: the row stays (audit, restore) and drops out of every read. */
  softDelete(w: WriteScope, current: Pick<M, 'id' | 'row_version'>, columns: Record<string, unknown> = {}): Promise<M> {
    return this.patch(w, current, { ...columns, deleted_at: new Date() });
  }

  /**
   * Brings a soft-deleted row back (returns it as written); null when it was not deleted (nothing to do). A live row
   * holding the same unique name makes this a unique violation: a 409 from the error mapper.
   */
  async restore(w: WriteScope, current: M): Promise<M | null> {
    if (!current.deleted_at) return null;
    return this.patch(w, current, { deleted_at: null });
  }
}
