// Facets of a list: how many of the rows its filters select hold each value of one enum column
// (`GET /services/facets?field=status`), counted in one grouped statement over the same scoped rows;
// and the plain count of those rows (a dashboard counter).
import { z } from 'zod';
import type { ServiceContext } from './context.js';
import { validationError } from './errors.js';
import { filteredListRows, listQuerySchema, oncePerTable, type Listable, type ListFilters } from './listing.js';
import { named } from './schema-kit.js';

export interface FacetQuery extends ListFilters {
  field: string;
}

export const FacetCounts = named(
  'FacetCounts',
  z
    .object({
      field: z.string().describe('The enum column counted'),
      total: z.number().int().describe('Rows matching the filters'),
      counts: z
        .array(z.object({ value: z.string(), count: z.number().int() }))
        .describe("One entry per value of the field, in the enum's order, zero counts included"),
    })
    .describe('Counts of live rows by the values of one enum field'),
);
export type FacetCounts = z.infer<typeof FacetCounts>;

/** Whether the table has enum columns to count by (teams and people have none). */
export const hasFacets = (kind: Listable) => Object.keys(kind.enumFilters).length > 0;

/** The facet query string of a table: `field` (one of its enum columns) and its list's filters. */
export const facetQuerySchema = oncePerTable(buildFacetQuerySchema);

function buildFacetQuerySchema(kind: Listable) {
  const fields = Object.keys(kind.enumFilters) as [string, ...string[]];
  return listQuerySchema(kind)
    .omit({ limit: true, cursor: true, sort: true, include_deleted: true })
    .extend({ field: z.enum(fields).describe('The enum field to count by') });
}

export function parseFacetQuery(kind: Listable, raw: unknown): FacetQuery {
  const parsed = facetQuerySchema(kind).safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  const { field, q, team_id, tag, ...filters } = parsed.data as Record<string, string | undefined>;
  return {
    field: field!,
    q,
    teamId: team_id,
    tag,
    filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<string, string>,
  };
}

/** The counts by `query.field` of the live rows the filters select. */
export async function facetCounts(ctx: ServiceContext, kind: Listable, query: FacetQuery): Promise<FacetCounts> {
  const values = kind.enumFilters[query.field];
  if (!values) throw new Error(`${kind.model.tableName}.${query.field} is not an enum field`);
  const column = `${kind.model.tableName}.${query.field}`;
  const rows = (await filteredListRows(ctx, kind, query).select(`${column} as value`).count('* as count').groupBy(column)) as unknown as {
    value: string;
    count: string;
  }[];
  const byValue = new Map(rows.map((r) => [r.value, Number(r.count)]));
  return {
    field: query.field,
    total: rows.reduce((sum, r) => sum + Number(r.count), 0),
    counts: values.map((value) => ({ value, count: byValue.get(value) ?? 0 })),
  };
}

/** How many live rows the filters select: one count statement over the same scoped rows. */
export async function rowCount(ctx: ServiceContext, kind: Listable, query: ListFilters): Promise<number> {
  const [row] = (await filteredListRows(ctx, kind, query).count('* as count')) as unknown as { count: string }[];
  return Number(row?.count ?? 0);
}
