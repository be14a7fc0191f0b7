// The operational_status of affected entities: the worst impact of the active incidents that
// affect each (outage > degraded > operational), planned under row locks and written through the
// catalog's EntityService so every change is its own audited write and event.
import { raw } from 'objection';
import { scoped } from '../../platform/tenancy.js';
import type { WriteScope } from '../../platform/write.js';
import { KINDS, type CatalogType } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { AFFECTABLE_TYPES, AFFECTED_TABLE, Incident, type AffectableType } from './model.js';

export type OperationalStatus = 'operational' | 'degraded' | 'outage';
export type EntityRef = { entity_type: AffectableType; entity_id: string };
/** An affected entity whose operational_status must change, planned before it is written. */
export type StatusMove = EntityRef & { to: OperationalStatus };

export const refKey = (r: EntityRef) => `${r.entity_type}:${r.entity_id}`;
export const TYPE_ORDER = new Map<string, number>(AFFECTABLE_TYPES.map((t, i) => [t, i]));
/** The one lock order of every writer: type order, then id. */
export const byRef = (a: EntityRef, b: EntityRef) =>
  TYPE_ORDER.get(a.entity_type)! - TYPE_ORDER.get(b.entity_type)! || (a.entity_id < b.entity_id ? -1 : a.entity_id > b.entity_id ? 1 : 0);

/**
 * Locks the touched entities (fixed type order, then id: the same order for every writer, so
 * concurrent incident writes cannot deadlock) and works out, from the active incidents as this
 * transaction sees them after the lock, the operational_status each should have.
 */
export async function planStatusMoves(w: WriteScope, touched: EntityRef[]): Promise<StatusMove[]> {
  if (touched.length === 0) return [];
  const current: (EntityRef & { status: OperationalStatus })[] = [];
  for (const type of AFFECTABLE_TYPES) {
    const ids = [...new Set(touched.filter((t) => t.entity_type === type).map((t) => t.entity_id))].sort();
    if (ids.length === 0) continue;
    // Live entities only: a soft-deleted one keeps its status until it comes back.
    const rows = await scoped(KINDS[type].model, w).whereIn('id', ids).orderBy('id').forUpdate().select('id', 'operational_status');
    for (const r of rows) current.push({ entity_type: type, entity_id: r.id, status: r.operational_status as OperationalStatus });
  }
  if (current.length === 0) return [];
  const worst = (await scoped(Incident, w)
    .join(`${AFFECTED_TABLE} as a`, 'a.incident_id', 'incidents.id')
    .whereNot('incidents.status', 'resolved')
    .whereIn(
      ['a.entity_type', 'a.entity_id'],
      current.map((c) => [c.entity_type, c.entity_id]),
    )
    .groupBy('a.entity_type', 'a.entity_id')
    .select('a.entity_type', 'a.entity_id', raw(`bool_or(coalesce(a.impact_type, incidents.impact_type) = 'outage') as outage`))) as unknown as (EntityRef & {
    outage: boolean;
  })[];
  const target = new Map<string, OperationalStatus>(worst.map((r) => [refKey(r), r.outage ? 'outage' : 'degraded']));
  return current
    .map((c) => ({ entity_type: c.entity_type, entity_id: c.entity_id, from: c.status, to: target.get(refKey(c)) ?? 'operational' }))
    .filter((m) => m.from !== m.to)
    .map(({ from: _f, ...move }) => move as StatusMove);
}

/** Each move is the entity's own audited write and change event, in the same transaction. */
export async function applyStatusMoves(w: WriteScope, entities: Record<CatalogType, EntityService>, moves: StatusMove[]): Promise<void> {
  for (const m of moves) {
    await entities[m.entity_type].update(w, m.entity_id, { operational_status: m.to }, { impliedBy: 'incidents' });
  }
}
