// Cursor pagination for entity lists: keyset on (sort column, id) so a page costs the same at
// row 100,000 as at row 1, with opaque cursors that carry the sort they were made for.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { validationError } from './errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { dbOf, type ServiceContext } from './context.js';
import { runPositional } from './db.js';
import { scoped, withTenantParam } from './tenancy.js';
import { PG_TIMESTAMP, named, uuid } from './schema-kit.js';
import type { Model } from 'objection';

export const DEFAULT_SORT = '-updated_at';

/** What a list needs to know of a table; catalog kinds, incidents, scorecards… all fit. */
export interface Listable {
  model: typeof Model & { tableName: string };
  /** The display column, sortable as text (name, or title for incidents). */
  titleColumn: string;
  /** Query parameters that filter on an enum column of the same name. */
  enumFilters: Record<string, readonly string[]>;
  /** SQL expression covered by the trigram index, searched by `q`. */
  searchExpr: string;
  hasTeam: boolean;
  hasTags: boolean;
}

type ListRow = { id: string; __sort_key?: string };

export interface ListQuery {
  limit: number;
  cursor?: string;
  sort: string;
  filters: Record<string, string>;
  teamId?: string;
  tag?: string;
  q?: string;
  includeDeleted?: boolean;
}

export interface PageMeta {
  limit: number;
  total: number;
  next_cursor: string | null;
}
export interface Page<T> {
  data: T[];
  meta: PageMeta;
}

/** The meta of a list page, as the API documents describe it. */
export const PageMeta = named(
  'PageMeta',
  z
    .object({
      limit: z.number().int().describe('The page size used'),
      total: z
        .number()
        .int()
        .describe(
          'Rows matching the filters. Counted exactly for the first page; the pages after it carry ' +
            'that count inside their cursor, so rows created or deleted during a walk do not change it. A cursor used with other ' +
            'filters is counted again.',
        ),
      next_cursor: z.string().nullable().describe('Opaque; pass it as `cursor` (with the same `sort`) for the next page. Null on the last page.'),
    })
    .describe('Keyset pagination: follow `next_cursor` until it is null.'),
);

function sortParam(kind: Listable) {
  const columns = [kind.titleColumn, 'created_at', 'updated_at'];
  return z.enum([...columns, ...columns.map((c) => `-${c}`)] as [string, ...string[]]);
}

/** `build` memoized per table: a schema is built (and named in the API documents) once. */
export function oncePerTable<T>(build: (kind: Listable) => T): (kind: Listable) => T {
  const built = new WeakMap<Listable, T>();
  return (kind) => {
    if (!built.has(kind)) built.set(kind, build(kind));
    return built.get(kind)!;
  };
}

/** The list query string of a table, as a zod schema (unknown parameters are refused); built once per table. */
export const listQuerySchema = oncePerTable(buildListQuerySchema);

function buildListQuerySchema(kind: Listable) {
  const enumFilters = Object.fromEntries(Object.entries(kind.enumFilters).map(([k, values]) => [k, z.enum(values as [string, ...string[]]).optional()]));
  return z.strictObject({
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Rows per page'),
    cursor: z.string().max(1000).optional().describe('`meta.next_cursor` of the previous page (opaque; only valid with the same sort)'),
    sort: sortParam(kind).default(DEFAULT_SORT).describe('Sort column; a leading `-` sorts descending'),
    q: z.string().trim().min(1).max(200).optional().describe('Search text (trigram match on the name and description)'),
    include_deleted: z.enum(['true', 'false']).optional().describe('List soft-deleted rows too (admin)'),
    ...(kind.hasTeam ? { team_id: uuid.optional().describe('Only rows of this team') } : {}),
    ...(kind.hasTags ? { tag: z.string().min(1).max(100).optional().describe('Only rows carrying this tag') } : {}),
    ...enumFilters,
  });
}

export function parseListQuery(kind: Listable, raw: unknown): ListQuery {
  const parsed = listQuerySchema(kind).safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  const { limit, cursor, sort, q, include_deleted, team_id, tag, ...filters } = parsed.data as Record<string, unknown>;
  return {
    limit: limit as number,
    cursor: cursor as string | undefined,
    sort: sort as string,
    q: q as string | undefined,
    includeDeleted: include_deleted === 'true',
    teamId: team_id as string | undefined,
    tag: tag as string | undefined,
    filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<string, string>,
  };
}

/**
 * A cursor names the sort it was made for (s), the last row's sort key and id (k, id), and carries
 * the list's total (t) with a digest of the filters it was counted for (f): a cursor page then
 * costs one keyset query. Used with other filters, the total is counted again.
 */
interface Cursor {
  s: string;
  k: string;
  id: string;
  t?: number;
  f?: string;
}

function readCursor(raw: string, sort: string, titleColumn: string): Cursor {
  const byTitle = sort.replace(/^-/, '') === titleColumn;
  return decodeCursor<Cursor>(
    raw,
    (c) => {
      const keyOk = typeof c.k === 'string' && !c.k.includes('\u0000') && (byTitle || PG_TIMESTAMP.test(c.k));
      const totalOk = c.t === undefined || (Number.isSafeInteger(c.t) && c.t >= 0);
      return c.s === sort && keyOk && totalOk && uuid.safeParse(c.id).success;
    },
    'The cursor is not valid for this list (it must come from next_cursor of the same sort).',
  );
}

/** `s` with LIKE's wildcards (and its escape character) taken literally. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

/** What the total of a list depends on: its filters, not its sort or position. */
function filterDigest(query: ListQuery): string {
  const parts = [query.filters, query.teamId ?? null, query.tag ?? null, query.q ?? null, query.includeDeleted ?? false];
  return createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

/**
 * The values a list's statements take, in order (tenant, filters by name, team, tag, q, cursor
 * position, limit), and the key of the statements' shape: which of them are present.
 */
function listInputs(ctx: Pick<ServiceContext, 'tenantId'>, kind: Listable, query: ListQuery) {
  const filterKeys = Object.keys(query.filters).sort();
  const slots: unknown[] = [ctx.tenantId, ...filterValues(query, filterKeys)];
  const digest = filterDigest(query);
  let carriedTotal: number | undefined;
  if (query.cursor) {
    const c = readCursor(query.cursor, query.sort, kind.titleColumn);
    slots.push(c.k, c.id);
    if (c.f === digest) carriedTotal = c.t;
  }
  slots.push(query.limit + 1);
  const shape = [
    kind.model.tableName,
    query.sort,
    filterKeys.join(','),
    query.teamId ? 't' : '',
    query.tag ? 'g' : '',
    query.q ? 'q' : '',
    query.cursor ? 'c' : '',
    query.includeDeleted ? 'd' : '',
  ].join('|');
  return { slots, shape, digest, carriedTotal, filterKeys };
}

/** The filters of a list (no page, sort or cursor): enum columns, team, tag, q, deleted rows. */
export type ListFilters = Pick<ListQuery, 'filters' | 'teamId' | 'tag' | 'q' | 'includeDeleted'>;

/** The values a list's filters bind, in the order filteredRows takes them. */
function filterValues(query: ListFilters, filterKeys: string[]): unknown[] {
  const values: unknown[] = filterKeys.map((k) => query.filters[k]);
  if (query.teamId) values.push(query.teamId);
  if (query.tag) values.push(JSON.stringify([query.tag]));
  if (query.q) values.push(`%${escapeLike(query.q)}%`);
  return values;
}

/** The scoped rows a list's filters select, each value taken from `next()` (in filterValues' order). */
function filteredRows(ctx: ServiceContext, kind: Listable, query: ListFilters, filterKeys: string[], next: () => unknown) {
  const table = kind.model.tableName;
  const base = scoped(kind.model, ctx, { includeDeleted: query.includeDeleted });
  for (const field of filterKeys) base.where(`${table}.${field}`, next() as string);
  if (query.teamId) base.where(`${table}.team_id`, next() as string);
  if (query.tag) base.whereRaw(`${table}.tags @> ?::jsonb`, [next()]);
  if (query.q) base.whereRaw(`${kind.searchExpr} ILIKE ?`, [next()]);
  return base;
}

/** The scoped rows matching a list's filters, as a builder to aggregate over (facet counts). */
export function filteredListRows(ctx: ServiceContext, kind: Listable, query: ListFilters) {
  const filterKeys = Object.keys(query.filters).sort();
  const values = filterValues(query, filterKeys);
  let i = 0;
  return filteredRows(ctx, kind, query, filterKeys, () => values[i++]);
}

/**
 * The page and count queries of a list as scoped query builders, each value taken from `value(i)`
 * (the i-th of listInputs' values); EXPLAIN tests read their plans. The page's LIMIT is the last
 * value and is left to the caller (`limitSlot`).
 */
function listBuilders(ctx: ServiceContext, kind: Listable, query: ListQuery, filterKeys: string[], value: (i: number) => unknown) {
  const table = kind.model.tableName;
  const desc = query.sort.startsWith('-');
  const column = desc ? query.sort.slice(1) : query.sort;
  const cast = column === kind.titleColumn ? 'text' : 'timestamptz';
  let slot = 1;
  const next = () => value(slot++) as string;
  const base = filteredRows({ ...ctx, tenantId: value(0) as string }, kind, query, filterKeys, next);
  const page = base
    .clone()
    .select(`${table}.*`)
    .select(kind.model.raw(`??::text as __sort_key`, [`${table}.${column}`]));
  if (query.cursor) page.whereRaw(`(??, ??) ${desc ? '<' : '>'} (?::${cast}, ?::uuid)`, [`${table}.${column}`, `${table}.id`, next(), next()]);
  const direction = desc ? 'desc' : 'asc';
  page.orderBy([
    { column: `${table}.${column}`, order: direction },
    { column: `${table}.id`, order: direction },
  ]);
  return { page, count: base.clone().count('* as count'), limitSlot: slot };
}

/** The page and count queries of a list with their values, as builders (EXPLAIN tests read their plans). */
export function buildListQueries(ctx: ServiceContext, kind: Listable, query: ListQuery) {
  const { slots, filterKeys, carriedTotal, digest } = listInputs(ctx, kind, query);
  const { page, count, limitSlot } = listBuilders(ctx, kind, query, filterKeys, (i) => slots[i]);
  page.limit(slots[limitSlot] as number);
  return { page, count, carriedTotal, digest };
}

/** A statement's text and, for each of its parameters, which of listInputs' values it takes. */
interface CompiledStatement {
  text: string;
  slots: number[];
}

const compiled = new Map<string, { page: CompiledStatement; count: CompiledStatement }>();
const MAX_SHAPES = 1_000;

/**
 * The text of a list shape's page and count statements, built once through the scoped builders
 * with a marker for each value, so that a request only fills in its values.
 */
function compiledList(ctx: ServiceContext, kind: Listable, query: ListQuery, shape: string, filterKeys: string[]) {
  let statements = compiled.get(shape);
  if (statements) return statements;
  const marker = (i: number) => `\u0000slot${i}\u0000`;
  const { page, count, limitSlot } = listBuilders(ctx, kind, query, filterKeys, marker);
  const compile = (sql: { sql: string; bindings: readonly unknown[] }, extra: number[] = []): CompiledStatement => {
    const slots = sql.bindings.map((b) => {
      // eslint-disable-next-line no-control-regex -- NUL delimits the markers, so no bound value can pass for one
      const m = typeof b === 'string' ? /^\u0000slot(\d+)\u0000$/.exec(b) : null;
      if (!m) throw new Error(`a list statement has a value that is not one of its inputs: ${String(b)}`);
      return Number(m[1]);
    });
    return { text: sql.sql, slots: [...slots, ...extra] };
  };
  const pageSql = page.toKnexQuery().toSQL().toNative();
  const compiledPage = compile(pageSql, [limitSlot]);
  compiledPage.text += ` limit $${compiledPage.slots.length}`;
  statements = { page: compiledPage, count: compile(count.toKnexQuery().toSQL().toNative()) };
  if (compiled.size >= MAX_SHAPES) compiled.delete(compiled.keys().next().value as string);
  compiled.set(shape, statements);
  return statements;
}

/**
 * A page of rows as the driver gives them (no model instances; timestamps already the ISO strings
 * the API sends, see isoTimestamp), with its meta. `columns` are
 * more SQL columns computed per row of the page, aliased `r` (a record's relation id lists), read
 * in the page's own statement; `:tenant` in them is the context's tenant.
 */
export async function listPage<R extends ListRow>(
  ctx: ServiceContext,
  kind: Listable,
  query: ListQuery,
  opts: { columns?: string } = {},
): Promise<{ rows: R[]; meta: PageMeta }> {
  const { slots, shape, filterKeys, carriedTotal, digest } = listInputs(ctx, kind, query);
  const statements = compiledList(ctx, kind, query, shape, filterKeys);
  let text = statements.page.text;
  const values = statements.page.slots.map((i) => slots[i]);
  if (opts.columns) {
    values.push(ctx.tenantId);
    const desc = query.sort.startsWith('-') ? ' DESC' : '';
    const column = query.sort.replace(/^-/, '');
    text = `WITH page AS (${text}) SELECT r.*, ${withTenantParam(opts.columns, `$${values.length}`)}
      FROM page r ORDER BY r."${column}"${desc}, r.id${desc}`;
  }
  const db = dbOf(ctx);
  const counted = async () => {
    const { rows } = await runPositional(
      db,
      statements.count.text,
      statements.count.slots.map((i) => slots[i]),
    );
    return Number(rows[0]!.count);
  };
  // Exact on the first page; later pages carry it in the cursor (counting a 100K-row tenant on
  // every page cost more than the page itself).
  const [{ rows }, total] = (await Promise.all([runPositional(db, text, values, { isoTimestamps: true }), carriedTotal ?? counted()])) as [
    { rows: R[] },
    number,
  ];
  const more = rows.length > query.limit;
  const pageRows = more ? rows.slice(0, query.limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    rows: pageRows,
    meta: {
      limit: query.limit,
      total,
      next_cursor: more && last ? encodeCursor({ s: query.sort, k: String(last.__sort_key), id: last.id, t: total, f: digest }) : null,
    },
  };
}
