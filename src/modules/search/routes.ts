// GET /search: records of every kind whose name matches, ranked (exact, prefix, similar).
import { documentedRouter, type DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf } from '../../platform/http/respond.js';
import { SearchHit, SearchMeta, searchQuery } from './schemas.js';
import { parseSearchQuery, search } from './service.js';

export function searchRoutes(): DocumentedRouter {
  const api = documentedRouter('/search', 'search', 'Search across every catalog kind and incidents by name.');
  api.op(
    'get',
    '/',
    {
      operationId: 'search',
      summary: 'Find records of every kind by name',
      description:
        "The tenant's live records of every kind the caller may read (or of `types`) whose name (an incident's title) matches `q`: " +
        'first exact names (case-insensitive), then names starting with q, then names containing q or similar to it (trigram ' +
        'similarity); within each, the most similar first, then by name. One statement over trigram indexes. Follow `meta.next_cursor` ' +
        'for more.',
      query: searchQuery,
      response: SearchHit,
      paginated: SearchMeta,
      errors: [400],
    },
    async (req, res) => {
      res.json(await search(ctxOf(req), parseSearchQuery(req.query)));
    },
  );
  return api;
}
