// Scorecards: the standard collection routes plus results computed on read.
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, idParam } from '../../platform/http/respond.js';
import { named } from '../../platform/schema-kit.js';
import { SCORECARD_LISTING } from './service.js';
import { Scorecard, ScorecardResult, ScorecardResultsMeta, scorecardCreate, scorecardResultsQuery, scorecardUpdate } from './schemas.js';
import { validationError } from '../../platform/errors.js';
import type { ScorecardService } from './service.js';

export function scorecardRoutes(services: { scorecards: ScorecardService }) {
  const api = crudRoutes(services.scorecards, {
    path: '/scorecards',
    label: 'scorecard',
    listing: SCORECARD_LISTING,
    about: 'Scorecards: weighted criteria over catalog records, scored on read.',
    create: named('ScorecardCreate', scorecardCreate),
    update: named('ScorecardUpdate', scorecardUpdate),
    examples: {
      create: {
        name: 'Production readiness',
        entity_types: ['services'],
        criteria: [
          { name: 'Has an owning team', check_type: 'has_field', check_config: { field: 'team_id' }, weight: 2 },
          { name: 'Has an on-call', check_type: 'has_assignment', check_config: { role: 'on-call' } },
        ],
        levels: [
          { name: 'bronze', min_score: 50 },
          { name: 'silver', min_score: 75 },
          { name: 'gold', min_score: 90 },
        ],
      },
      update: { description: 'What every production service needs' },
    },
    read: Scorecard,
    writers: 'editor or admin',
    writeErrors: [409],
  });
  api.op(
    'get',
    '/:id/results',
    {
      operationId: 'getScorecardResults',
      summary: 'Score every applicable entity against the scorecard',
      description:
        "Every live record of the scorecard's entity types, scored now: the criteria each passed and failed, and its level. " +
        'Entity types in the scorecard order, then by name; follow `meta.next_cursor` while `meta.has_more`.',
      query: scorecardResultsQuery,
      response: ScorecardResult,
      paginated: ScorecardResultsMeta,
      errors: [400],
    },
    async (req, res) => {
      const parsed = scorecardResultsQuery.safeParse(req.query);
      if (!parsed.success) throw validationError(parsed.error, ['query']);
      res.json(await services.scorecards.resultsPage(ctxOf(req), idParam(req), parsed.data));
    },
  );
  return api;
}
