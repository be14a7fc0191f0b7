// The entities an incident affects: checked to be live records of the tenant, stored as links
// owned by the incident, and read back with each entity's name and operational status.
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { replaceLinks, scoped, scopedLinks } from '../../platform/tenancy.js';
import type { WriteScope } from '../../platform/write.js';
import { KINDS } from '../catalog/kinds.js';
import { AFFECTABLE_TYPES, AFFECTED_LINK, type AffectableType, type Incident } from './model.js';
import { TYPE_ORDER, byRef, refKey, type EntityRef, type OperationalStatus, type StatusMove } from './operational-status.js';
import type { PlannedEntry } from './roles.js';
import type { AffectedEntityInput } from './schemas.js';

export interface AffectedEntity {
  entity_type: AffectableType;
  entity_id: string;
  name: string;
  operational_status: OperationalStatus;
}

export type NamedRef = EntityRef & { name: string };

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
  for (const a of list) unique.set(refKey(a), { entity_type: a.entity_type, entity_id: a.entity_id, name: names.get(refKey(a))! });
  return [...unique.values()].sort(byRef);
}

/**
 * The affected_changed entry for a change of the list (none when it is the same set): the
 * entities added (named from the check) and removed (named from the incident as it was).
 */
export function affectedEntry(before: AffectedEntity[], oldLinks: EntityRef[], after: NamedRef[]): PlannedEntry | undefined {
  const oldKeys = new Set(oldLinks.map(refKey));
  const newKeys = new Set(after.map(refKey));
  const oldNames = new Map(before.map((a) => [refKey(a), a.name]));
  const added = after.filter((a) => !oldKeys.has(refKey(a))).map(({ entity_type, entity_id, name }) => ({ entity_type, entity_id, name }));
  const removed = oldLinks
    .filter((l) => !newKeys.has(refKey(l)))
    .sort(byRef)
    .map((l) => ({ entity_type: l.entity_type, entity_id: l.entity_id, name: oldNames.get(refKey(l)) ?? null }));
  if (added.length === 0 && removed.length === 0) return undefined;
  const list = (items: { name: string | null; entity_id: string }[]) => items.map((i) => i.name ?? i.entity_id).join(', ');
  const parts = [];
  if (added.length) parts.push(`Affected added: ${list(added)}`);
  if (removed.length) parts.push(`${added.length ? 'affected' : 'Affected'} removed: ${list(removed)}`);
  return { kind: 'affected_changed', message: parts.join('; '), data: { added, removed } };
}

/** Replaces the affected entities of an incident this write loaded (or inserted). */
export async function writeLinks(w: WriteScope, incident: Incident, refs: EntityRef[]): Promise<void> {
  await replaceLinks(
    w,
    AFFECTED_LINK,
    incident,
    refs.map((r) => ({ entity_type: r.entity_type, entity_id: r.entity_id })),
  );
}

/** The affected-entity links of these incidents (the link table is reached through its incidents). */
export async function loadLinks(ctx: ServiceContext, incidentIds: string[]): Promise<(EntityRef & { incident_id: string })[]> {
  if (incidentIds.length === 0) return [];
  return scopedLinks(ctx, AFFECTED_LINK).whereIn('incident_id', incidentIds).select('incident_id', 'entity_type', 'entity_id');
}

/** Affected entities per incident, with name and status: one query for the links, one per type. */
export async function loadAffected(ctx: ServiceContext, incidentIds: string[], moves: StatusMove[] = []): Promise<Map<string, AffectedEntity[]>> {
  const result = new Map<string, AffectedEntity[]>(incidentIds.map((id) => [id, []]));
  const links = await loadLinks(ctx, incidentIds);
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
      result.get(l.incident_id)!.push({
        entity_type: type,
        entity_id: row.id,
        name: String(row.name),
        operational_status: planned.get(refKey(l)) ?? (row.operational_status as OperationalStatus),
      });
    }
  }
  for (const list of result.values()) {
    list.sort((a, b) => TYPE_ORDER.get(a.entity_type)! - TYPE_ORDER.get(b.entity_type)! || a.name.localeCompare(b.name) || byRef(a, b));
  }
  return result;
}

export function sameRefs(a: EntityRef[], b: EntityRef[]): boolean {
  const keys = (l: EntityRef[]) => [...new Set(l.map(refKey))].sort().join(',');
  return keys(a) === keys(b);
}
