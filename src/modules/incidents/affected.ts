// The entities an incident affects: checked to be live records of the tenant, stored as links
// owned by the incident, and read back with each entity's name and operational status.
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { replaceLinks, scoped, scopedLinks } from '../../platform/tenancy.js';
import type { WriteScope } from '../../platform/write.js';
import { KINDS } from '../catalog/kinds.js';
import { AFFECTABLE_TYPES, AFFECTED_LINK, type AffectableType, type ImpactType, type Incident } from './model.js';
import { TYPE_ORDER, byRef, refKey, type EntityRef, type OperationalStatus, type StatusMove } from './operational-status.js';
import type { PlannedEntry } from './roles.js';
import type { AffectedEntityInput } from './schemas.js';

export interface AffectedEntity {
  entity_type: AffectableType;
  entity_id: string;
  name: string;
  operational_status: OperationalStatus;
  /** The entity's impact: its own, or the incident's when it has none (inherits_impact). */
  impact_type: ImpactType;
  inherits_impact: boolean;
  /** When it became affected; when its impact ended (the incident's resolution), null while active. */
  started_at: string;
  ended_at: string | null;
}

type Link = EntityRef & { incident_id: string; impact_type: ImpactType | null; started_at: Date };

export type NamedRef = EntityRef & { name: string; impact_type: ImpactType | null };

/** Affected ids must be live records of this tenant (422 at the input's index); returns them deduped, sorted, named. */
export async function checkAffected(w: WriteScope, list: AffectedEntityInput[]): Promise<NamedRef[]> {
  const issues: FieldIssue[] = [];
  const unique = new Map<string, NamedRef>();
  const names = new Map<string, string>();
  for (const type of AFFECTABLE_TYPES) {
    const ids = [...new Set(list.filter((a) => a.entity_type === type).map((a) => a.entity_id))];
    if (ids.length === 0) continue;
    const rows = await scoped(KINDS[type].model, w).whereIn('id', ids).select('id', 'name');
    for (const r of rows) names.set(refKey({ entity_type: type, entity_id: r.id }), String(r.name));
    const found = new Set(rows.map((r) => r.id));
    list.forEach((a, i) => {
      if (a.entity_type !== type) return;
      if (!found.has(a.entity_id)) {
        issues.push({ path: `affected.${i}.entity_id`, message: `no ${KINDS[type].label} with id ${a.entity_id} in this tenant` });
      }
    });
  }
  if (issues.length) throw UnprocessableEntity('The request refers to records that do not exist.', issues);
  // A repeated entity takes the impact of its last mention.
  for (const a of list)
    unique.set(refKey(a), { entity_type: a.entity_type, entity_id: a.entity_id, name: names.get(refKey(a))!, impact_type: a.impact_type ?? null });
  return [...unique.values()].sort(byRef);
}

/**
 * The affected_changed entry for a change of the list (none when it is the same set): the
 * entities added (named from the check) and removed (named from the incident as it was).
 */
export function affectedEntry(before: AffectedEntity[], oldLinks: Link[], after: NamedRef[]): PlannedEntry | undefined {
  const oldByKey = new Map(oldLinks.map((l) => [refKey(l), l]));
  const newKeys = new Set(after.map(refKey));
  const oldNames = new Map(before.map((a) => [refKey(a), a.name]));
  const added = after
    .filter((a) => !oldByKey.has(refKey(a)))
    .map(({ entity_type, entity_id, name, impact_type }) => ({ entity_type, entity_id, name, impact_type }));
  const changed = after
    .filter((a) => oldByKey.has(refKey(a)) && oldByKey.get(refKey(a))!.impact_type !== a.impact_type)
    .map(({ entity_type, entity_id, name, impact_type }) => ({
      entity_type,
      entity_id,
      name,
      impact_type: { old: oldByKey.get(refKey({ entity_type, entity_id }))!.impact_type, new: impact_type },
    }));
  const removed = oldLinks
    .filter((l) => !newKeys.has(refKey(l)))
    .sort(byRef)
    .map((l) => ({ entity_type: l.entity_type, entity_id: l.entity_id, name: oldNames.get(refKey(l)) ?? null }));
  if (added.length === 0 && removed.length === 0 && changed.length === 0) return undefined;
  const list = (items: { name: string | null; entity_id: string }[]) => items.map((i) => i.name ?? i.entity_id).join(', ');
  const parts = [];
  if (added.length) parts.push(`Affected added: ${list(added)}`);
  if (removed.length) parts.push(`affected removed: ${list(removed)}`);
  if (changed.length) parts.push(`impact changed: ${changed.map((c) => `${c.name} ${c.impact_type.new ?? "the incident's"}`).join(', ')}`);
  const message = parts.join('; ');
  return { kind: 'affected_changed', message: message.charAt(0).toUpperCase() + message.slice(1), data: { added, removed, changed } };
}

/** Replaces the affected entities of an incident this write loaded (or inserted); those that stay keep their started_at. */
export async function writeLinks(w: WriteScope, incident: Incident, refs: NamedRef[], old: Link[] = []): Promise<void> {
  const startedAt = new Map(old.map((l) => [refKey(l), l.started_at]));
  await replaceLinks(
    w,
    AFFECTED_LINK,
    incident,
    refs.map((r) => {
      const since = startedAt.get(refKey(r));
      return { entity_type: r.entity_type, entity_id: r.entity_id, impact_type: r.impact_type, ...(since ? { started_at: since } : {}) };
    }),
  );
}

/** The affected-entity links of these incidents (the link table is reached through its incidents). */
export async function loadLinks(ctx: ServiceContext, incidentIds: string[]): Promise<Link[]> {
  if (incidentIds.length === 0) return [];
  return scopedLinks(ctx, AFFECTED_LINK).whereIn('incident_id', incidentIds).select('incident_id', 'entity_type', 'entity_id', 'impact_type', 'started_at');
}

/** Affected entities per incident, with name, status and impact: one query for the links, one per type. */
export async function loadAffected(ctx: ServiceContext, incidents: Incident[], moves: StatusMove[] = []): Promise<Map<string, AffectedEntity[]>> {
  const result = new Map<string, AffectedEntity[]>(incidents.map((i) => [i.id, []]));
  const byIncident = new Map(incidents.map((i) => [i.id, i]));
  const links = await loadLinks(
    ctx,
    incidents.map((i) => i.id),
  );
  const planned = new Map(moves.map((m) => [refKey(m), m.to]));
  for (const type of AFFECTABLE_TYPES) {
    const ids = [...new Set(links.filter((l) => l.entity_type === type).map((l) => l.entity_id))];
    if (ids.length === 0) continue;
    // Soft-deleted entities drop out, as they do from the catalog's own relation lists.
    const rows = await scoped(KINDS[type].model, ctx).whereIn('id', ids).select('id', 'name', 'operational_status');
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const l of links) {
      const row = l.entity_type === type ? byId.get(l.entity_id) : undefined;
      if (!row) continue;
      const incident = byIncident.get(l.incident_id)!;
      result.get(l.incident_id)!.push({
        entity_type: type,
        entity_id: row.id,
        name: String(row.name),
        operational_status: planned.get(refKey(l)) ?? (row.operational_status as OperationalStatus),
        impact_type: l.impact_type ?? incident.impact_type,
        inherits_impact: l.impact_type === null,
        started_at: new Date(l.started_at).toISOString(),
        ended_at: incident.resolved_at ? new Date(incident.resolved_at).toISOString() : null,
      });
    }
  }
  for (const list of result.values()) {
    list.sort((a, b) => TYPE_ORDER.get(a.entity_type)! - TYPE_ORDER.get(b.entity_type)! || a.name.localeCompare(b.name) || byRef(a, b));
  }
  return result;
}

/** The same entities with the same own impacts. */
export function sameRefs(a: (EntityRef & { impact_type: ImpactType | null })[], b: (EntityRef & { impact_type: ImpactType | null })[]): boolean {
  const keys = (l: (EntityRef & { impact_type: ImpactType | null })[]) => [...new Set(l.map((r) => `${refKey(r)}=${r.impact_type ?? ''}`))].sort().join(',');
  return keys(a) === keys(b);
}
