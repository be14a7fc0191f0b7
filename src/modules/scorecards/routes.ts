// Scorecards: the standard collection routes plus results computed on read.
import { z } from 'zod';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, idParam } from '../../platform/http/respond.js';
import { named } from '../../platform/schema-kit.js';
import { SCORECARD_LISTING } from './service.js';
import { Scorecard, ScorecardResult, scorecardCreate, scorecardUpdate } from './schemas.js';
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
      description: "Every live record of the scorecard's entity types, scored now: the criteria each passed and failed.",
      response: z.array(ScorecardResult),
    },
    async (req, res) => {
      res.json({ data: await services.scorecards.results(ctxOf(req), idParam(req)) });
    },
  );
  return api;
}
