// The catalog detail view (a service's, and each other kind's, in full): the record with its
// relations, the incidents that affect it and its scorecard results, all computed on read.
import type { ServiceContext } from '../../platform/context.js';
import { scoped } from '../../platform/tenancy.js';
import { AFFECTABLE_TYPES, AFFECTED_TABLE, Incident } from '../incidents/model.js';
import type { ScorecardService } from '../scorecards/service.js';
import type { CatalogType } from './kinds.js';
import type { EntityData, EntityService } from './service.js';
import { plain } from '../../platform/records.js';

/** Incidents (newest first) affecting one entity, as summaries. */
export async function incidentsAffecting(ctx: ServiceContext, entityType: string, entityId: string) {
  if (!(AFFECTABLE_TYPES as readonly string[]).includes(entityType)) return [];
  const rows = await scoped(Incident, ctx)
    .join(AFFECTED_TABLE, `${AFFECTED_TABLE}.incident_id`, 'incidents.id')
    .where({ [`${AFFECTED_TABLE}.entity_type`]: entityType, [`${AFFECTED_TABLE}.entity_id`]: entityId })
    .orderBy('incidents.created_at', 'desc')
    .limit(100)
    .select('incidents.id', 'incidents.title', 'incidents.severity', 'incidents.status', 'incidents.impact_type',
      'incidents.created_at', 'incidents.resolved_at');
  return plain(rows);
}

export function detailView(entities: Record<CatalogType, EntityService>, scorecards: ScorecardService) {
  return async (ctx: ServiceContext, type: CatalogType, id: string): Promise<EntityData> => {
    const entity = await entities[type].getDetail(ctx, id);
    const [incidents, scores] = await Promise.all([
      incidentsAffecting(ctx, type, id),
      scorecards.resultsForEntity(ctx, type, entity),
    ]);
    return { ...entity, ...(type === 'teams' || type === 'people' ? {} : { incidents, scorecards: scores }) };
  };
}
