// Cursors for the REST suite's cursor-page cases, taken from the API itself: a list walked page by
// page from its first page, keeping every `meta.next_cursor` (each carries the total the first page
// counted, so the page it opens is one keyset query). The raw baseline starts its keyset page at
// the same row: the cursor's sort key and id, read from it (the format is src/platform/listing.ts's).
import type { HttpClient } from './http-client.js';
import type { Log } from './types.js';

/** A cursor the API returned, the number of rows before the page it opens, and its keyset position. */
export interface ApiCursor {
  cursor: string;
  depth: number;
  after: { k: string; id: string };
}

/**
 * Walks `GET /api/v1/services?limit=<limit><query>` from the first page for at most `pages` pages
 * (or to the end of the list) and returns every next_cursor in order: the i-th opens the page after
 * (i + 1) × limit rows. The cursor does not depend on the limit it was made with, so a walk with
 * limit=200 hands out cursors for pages of 50.
 */
export async function walkCursors(api: HttpClient, query: string, limit: number, pages: number, log: Log): Promise<ApiCursor[]> {
  const started = Date.now();
  const out: ApiCursor[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < pages; page++) {
    const body = (await api.json('GET', `/api/v1/services?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`)) as {
      meta: { next_cursor: string | null };
    };
    cursor = body.meta.next_cursor;
    if (!cursor) break;
    out.push({ cursor, depth: (page + 1) * limit, after: position(cursor) });
  }
  log(`walked ${out.length} pages of ${limit} of /services?${query.slice(1) || '(default sort)'} through the API in ${Date.now() - started} ms`);
  return out;
}

/** `count` of them spread evenly between depth `from` and `to` (shares of `rows`). */
export function spread(cursors: ApiCursor[], rows: number, from: number, to: number, count: number): ApiCursor[] {
  const inRange = cursors.filter((c) => c.depth >= from * rows && c.depth <= to * rows);
  if (inRange.length === 0) throw new Error(`no API cursor between ${from * 100}% and ${to * 100}% of ${rows} rows`);
  if (inRange.length <= count) return inRange;
  return Array.from({ length: count }, (_, i) => inRange[Math.round((i * (inRange.length - 1)) / (count - 1))]!);
}

function position(cursor: string): { k: string; id: string } {
  const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown; id?: unknown };
  if (typeof c.k !== 'string' || typeof c.id !== 'string') {
    throw new Error(`the API's cursor ${cursor} has no sort key and id where bench/lib/rest-cursors.ts reads them (listing.ts's format changed?)`);
  }
  return { k: c.k, id: c.id };
}
