// The shapes of the cross-kind search: its query string, a hit, and the page's meta.
import { z } from 'zod';
import { named, recordId } from '../../platform/schema-kit.js';
import { CATALOG_TYPES } from '../catalog/kinds.js';

/** The kinds the search looks in: the catalog's and incidents (matched by title). */
export const SEARCH_TYPES = [...CATALOG_TYPES, 'incidents'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

/** How a hit's name matched, best first: the whole name, its start, or similar text. */
export const MATCHES = ['exact', 'prefix', 'similar'] as const;

const typeList = new RegExp(`^(${SEARCH_TYPES.join('|')})(,(${SEARCH_TYPES.join('|')}))*$`);

export const searchQuery = z.strictObject({
  q: z.string().trim().min(1).max(255).describe('The text to find in names (titles for incidents); at most 255 characters, the longest name a record can have'),
  types: z
    .string()
    .max(200)
    .regex(typeList, { message: `must be a comma-separated list of: ${SEARCH_TYPES.join(', ')}` })
    .optional()
    .describe(`Only these kinds, comma-separated (${SEARCH_TYPES.join(', ')}); all of them when absent`),
  limit: z.coerce.number().int().min(1).max(50).default(20).describe('Hits per page'),
  cursor: z.string().max(2000).optional().describe('`meta.next_cursor` of the previous page, for the same `q` and `types`'),
});
export type SearchQuery = z.infer<typeof searchQuery>;

export const SearchHit = named(
  'SearchHit',
  z
    .object({
      type: z.enum(SEARCH_TYPES).describe('The kind of record (its collection)'),
      id: recordId,
      name: z.string().describe("The record's name (an incident's title)"),
      match: z
        .enum(MATCHES)
        .describe('`exact`: the whole name (case-insensitive); `prefix`: the name starts with q; `similar`: q is in the name or similar to it'),
      score: z.number().min(0).max(1).describe('Trigram similarity of the name and q (the greater of whole-name and word similarity)'),
      team_id: recordId.nullable().describe('The owning team, for the kinds that have one'),
      summary: z.record(z.string(), z.string()).describe("A few of the record's fields: its enum fields (type, status, …), a person's email"),
    })
    .describe('A record whose name matches the search'),
);
export type SearchHit = z.infer<typeof SearchHit>;

export const SearchMeta = named(
  'SearchMeta',
  z.object({
    limit: z.number().int().describe('The page size used'),
    next_cursor: z.string().nullable().describe('Opaque; pass it as `cursor` (with the same q and types) for the next page. Null on the last page.'),
  }),
);
