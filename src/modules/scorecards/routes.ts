// Scorecards: the standard collection routes plus results computed on read.
import type { Domain } from '../../domain.js';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, idParam } from '../../platform/http/respond.js';
import { SCORECARD_LISTING } from './service.js';
import { scorecardCreate, scorecardUpdate } from './schemas.js';

export function scorecardRoutes(domain: Domain) {
  const api = crudRoutes(domain.scorecards, {
    path: '/scorecards', label: 'scorecard', listing: SCORECARD_LISTING, create: scorecardCreate, update: scorecardUpdate,
  });
  api.op('get', '/:id/results', { summary: 'Score every applicable entity against the scorecard (computed now)' }, async (req, res) => {
    res.json({ data: await domain.scorecards.results(ctxOf(req), idParam(req)) });
  });
  return api;
}
