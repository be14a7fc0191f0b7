// Scorecards: the standard collection routes plus results computed on read.
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, idParam } from '../../platform/http/respond.js';
import { SCORECARD_LISTING } from './service.js';
import { scorecardCreate, scorecardUpdate } from './schemas.js';
import type { ScorecardService } from './service.js';

export function scorecardRoutes(services: { scorecards: ScorecardService }) {
  const api = crudRoutes(services.scorecards, {
    path: '/scorecards', label: 'scorecard', listing: SCORECARD_LISTING, create: scorecardCreate, update: scorecardUpdate,
  });
  api.op('get', '/:id/results', { summary: 'Score every applicable entity against the scorecard (computed now)' }, async (req, res) => {
    res.json({ data: await services.scorecards.results(ctxOf(req), idParam(req)) });
  });
  return api;
}
