// The cross-kind search: one statement, a UNION ALL of one branch per kind the caller may read,
// each a scoped query (tenant, live rows) matched on the name through its trigram index and
// ranked exact > prefix > similar, then by similarity; keyset pages on (rank, score, name, id).
import { createHash } from 'node:crypto';
import type { ServiceContext } from '../../platform/context.js';
import { dbOf } from '../../platform/context.js';
import { decodeCursor, encodeCursor } from '../../platform/cursor.js';
import { validationError } from '../../platform/errors.js';
import { escapeLike, type Listable } from '../../platform/listing.js';
import { uuid } from '../../platform/schema-kit.js';
import { scoped } from '../../platform/tenancy.js';
import { can } from '../access/policy.js';
import { KINDS } from '../catalog/kinds.js';
import { INCIDENT_LISTING } from '../incidents/schemas.js';
import { MATCHES, SEARCH_TYPES, searchQuery, type SearchHit, type SearchType } from './schemas.js';

const LISTINGS: Record<SearchType, Listable> = { ...KINDS, incidents: INCIDENT_LISTING };
/** Fields a hit shows beyond the kind's enum fields. */
const EXTRA_SUMMARY: Partial<Record<SearchType, string[]>> = { people: ['email'] };

/** Where the previous page ended: its last hit's rank, score, name and id, for the q and types it was made for. */
interface Cursor {
  r: number;
  s: number;
  n: string;
  id: string;
  f: string;
}

export interface SearchInput {
  q: string;
  types: SearchType[];
  limit: number;
  after?: Cursor;
}

export interface SearchPage {
  data: SearchHit[];
  meta: { limit: number; next_cursor: string | null };
}

const digestOf = (q: string, types: readonly string[]) =>
  createHash('sha1')
    .update(JSON.stringify([q, [...types].sort()]))
    .digest('base64url')
    .slice(0, 12);

function readCursor(raw: string, digest: string): Cursor {
  return decodeCursor<Cursor>(
    raw,
    (c) =>
      c.f === digest &&
      Number.isInteger(c.r) &&
      c.r >= 1 &&
      c.r <= MATCHES.length &&
      Number.isFinite(c.s) &&
      typeof c.n === 'string' &&
      !c.n.includes('\u0000') &&
      uuid.safeParse(c.id).success,
    'The cursor is not valid for this search (it must come from next_cursor of the same q and types).',
  );
}

/** The query string as a search: 422 on bad input, 400 on a cursor of another search. */
export function parseSearchQuery(raw: unknown): SearchInput {
  const parsed = searchQuery.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  const { q, limit, cursor } = parsed.data;
  const types = parsed.data.types ? [...new Set(parsed.data.types.split(','))] : [...SEARCH_TYPES];
  return { q, limit, types: types as SearchType[], after: cursor ? readCursor(cursor, digestOf(q, types)) : undefined };
}

/** One kind's branch: its live rows whose name matches, ranked, after the cursor, at most limit + 1. */
function branch(ctx: ServiceContext, type: SearchType, input: SearchInput) {
  const kind = LISTINGS[type];
  const table = kind.model.tableName;
  const name = `${table}.${kind.titleColumn}`;
  const { q } = input;
  const prefix = `${escapeLike(q)}%`;
  const rank = `CASE WHEN lower(${name}) = lower(?) THEN 1 WHEN ${name} ILIKE ? THEN 2 ELSE 3 END`;
  const score = `greatest(similarity(${name}, ?), word_similarity(?, ${name}))::float8`;
  const summary = [...Object.keys(kind.enumFilters), ...(EXTRA_SUMMARY[type] ?? [])].map((f) => `'${f}', ${table}.${f}`).join(', ');
  const query = scoped(kind.model, ctx)
    .select(
      kind.model.raw(
        `?::text AS type, ${table}.id, ${name}::text AS name, ${kind.hasTeam ? `${table}.team_id` : 'NULL::uuid'} AS team_id,
         jsonb_strip_nulls(jsonb_build_object(${summary})) AS summary, ${rank} AS rank, ${score} AS score`,
        [type, q, prefix, q, q],
      ),
    )
    // Each condition is one the name's trigram index answers: contains, similar, word-similar.
    .whereRaw(`(${name} ILIKE ? OR ${name} % ? OR ? <% ${name})`, [`%${escapeLike(q)}%`, q, q]);
  if (input.after) {
    const { r, s, n, id } = input.after;
    query.whereRaw(`(${rank}, -${score}, ${name}::text, ${table}.id) > (?::int, ?::float8, ?::text, ?::uuid)`, [q, prefix, q, q, r, -s, n, id]);
  }
  return query.orderByRaw('rank, score DESC, name, id').limit(input.limit + 1);
}

/** The kinds of the search that the caller may read (the access policy's `read`). */
export async function readableTypes(ctx: ServiceContext, types: readonly SearchType[]): Promise<SearchType[]> {
  const readable: SearchType[] = [];
  for (const type of types) if (await can(ctx, 'read', { type })) readable.push(type);
  return readable;
}

/** The search statement over `types` (at least one), as a builder (EXPLAIN tests read its plan). */
export function searchStatement(ctx: ServiceContext, input: SearchInput, types: readonly SearchType[]) {
  const db = dbOf(ctx);
  const branches = types.map((type) => branch(ctx, type, input).toKnexQuery());
  return db
    .select('*')
    .from(db.queryBuilder().unionAll(branches, true).as('hits'))
    .orderByRaw('rank, score DESC, name, id')
    .limit(input.limit + 1);
}

interface HitRow {
  type: SearchType;
  id: string;
  name: string;
  team_id: string | null;
  summary: Record<string, string>;
  rank: number;
  score: number;
}

export async function search(ctx: ServiceContext, input: SearchInput): Promise<SearchPage> {
  const types = await readableTypes(ctx, input.types);
  const rows = types.length ? ((await searchStatement(ctx, input, types)) as HitRow[]) : [];
  const more = rows.length > input.limit;
  const page = more ? rows.slice(0, input.limit) : rows;
  const last = page[page.length - 1];
  const cursor = (row: HitRow) => encodeCursor({ r: row.rank, s: row.score, n: row.name, id: row.id, f: digestOf(input.q, input.types) } satisfies Cursor);
  return {
    data: page.map((row) => ({
      type: row.type,
      id: row.id,
      name: row.name,
      match: MATCHES[row.rank - 1]!,
      score: row.score,
      team_id: row.team_id,
      summary: row.summary,
    })),
    meta: { limit: input.limit, next_cursor: more && last ? cursor(last) : null },
  };
}
