// Incidents: declare, edit, move through their lifecycle with a timeline, and keep the
// operational_status of every entity they affect equal to the worst of its active incidents.
// Every write goes through the WriteRunner; the status moves of affected entities are their own
// audited writes, made through the catalog's EntityService inside the same transaction.
import { raw } from 'objection';
import type { ServiceContext } from '../../platform/context.js';
import { UnprocessableEntity } from '../../platform/errors.js';
import { filteredListRows, listPage, type ListFilters, type ListQuery, type Page } from '../../platform/listing.js';
import { RecordTable, diff, parseInput, present, type WriteOptions } from '../../platform/records.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import type { CatalogType } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { affectedEntry, checkAffected, loadAffected, loadLinks, sameRefs, writeLinks, type AffectedEntity } from './affected.js';
import { durations, type IncidentDurations } from './durations.js';
import {
  AFFECTABLE_TYPES,
  INCIDENT_STATUS,
  Incident,
  IncidentTimelineEntry,
  type ImpactType,
  type IncidentStatus,
  type Severity,
  type TimelineKind,
} from './model.js';
import { NO_ROLES, nextRoles, planRoleEntries, type PlannedEntry, type Roles } from './roles.js';
import { applyStatusMoves, planStatusMoves, type StatusMove } from './operational-status.js';
import { INCIDENT_LISTING, createIncidentSchema, timelineUpdateSchema, updateIncidentSchema } from './schemas.js';

export { INCIDENT_LISTING, parseIncidentListQuery } from './schemas.js';
export type { OperationalStatus } from './operational-status.js';
export type { AffectedEntity } from './affected.js';

export interface TimelineEntryData {
  id: string;
  incident_id: string;
  timestamp: string;
  status: IncidentStatus;
  kind: TimelineKind;
  message: string;
  data: Record<string, unknown> | null;
  created_by: string | null;
  created_at: string;
}

/** A timeline entry read across incidents: with the title of its incident. */
export interface LatestTimelineEntry extends TimelineEntryData {
  incident_title: string;
}

/** An incident as lists return it: its columns (no tenant_id) and the entities it affects. */
export interface IncidentSummary {
  id: string;
  title: string;
  description: string | null;
  severity: Severity;
  status: IncidentStatus;
  impact_type: ImpactType;
  commander_id: string | null;
  lead_id: string | null;
  responder_ids: string[];
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
  created_by: string | null;
  updated_by: string | null;
  deleted_at: string | null;
  row_version: number;
  affected: AffectedEntity[];
}

/** An incident as GET /incidents/:id and the change events return it: plus its timeline, oldest first. */
export interface IncidentData extends IncidentSummary {
  timeline: TimelineEntryData[];
  durations: IncidentDurations;
}

const incidents = new RecordTable<Incident>(Incident, 'incident');
const FIRST_MESSAGE = 'Incident declared';

const isActive = (row: Incident) => row.status !== 'resolved' && !row.deleted_at;

export class IncidentService {
  constructor(
    private readonly writes: WriteRunner,
    private readonly entities: Record<CatalogType, EntityService>,
  ) {
    // A deleted entity keeps its status while it is gone; coming back, it takes the worst of the
    // incidents active now.
    for (const type of AFFECTABLE_TYPES) {
      entities[type].onRestore(async (w, id) => {
        await applyStatusMoves(w, entities, await planStatusMoves(w, [{ entity_type: type, entity_id: id }]));
      });
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<IncidentData> {
    if (opts.includeDeleted) await authorize(ctx, 'read_deleted', { type: 'incidents' });
    return this.detail(ctx, await incidents.find(ctx, id, opts));
  }

  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<IncidentSummary>> {
    if (query.includeDeleted) await authorize(ctx, 'read_deleted', { type: 'incidents' });
    const page = await listPage<Incident>(ctx, INCIDENT_LISTING, query);
    const affected = await loadAffected(ctx, page.rows);
    return { data: page.rows.map((r) => ({ ...columns(r), affected: affected.get(r.id) ?? [] })), meta: page.meta };
  }

  /**
   * The latest timeline entries, newest first, each with its incident's title: of one incident, or
   * of the live incidents the list filters select. One statement; a deleted incident's entries are
   * left out with it.
   */
  async latestTimeline(ctx: ServiceContext, scope: { incidentId?: string; filters?: ListFilters; limit: number }): Promise<LatestTimelineEntry[]> {
    const owners = filteredListRows(ctx, INCIDENT_LISTING, scope.filters ?? { filters: {} }).select('incidents.id', 'incidents.title as incident_title');
    if (scope.incidentId) owners.where('incidents.id', scope.incidentId);
    const rows = (await scoped(IncidentTimelineEntry, ctx)
      .join(owners.as('owner'), 'owner.id', 'incident_timeline_entries.incident_id')
      .select('incident_timeline_entries.*', 'owner.incident_title')
      .orderBy([
        { column: 'incident_timeline_entries.timestamp', order: 'desc' },
        { column: 'incident_timeline_entries.created_at', order: 'desc' },
        { column: 'incident_timeline_entries.id', order: 'desc' },
      ])
      .limit(scope.limit)) as unknown as (IncidentTimelineEntry & { incident_title: string })[];
    return rows.map((r) => present<LatestTimelineEntry>(r));
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<IncidentData> {
    await authorize(ctx, 'write', { type: 'incidents' });
    const parsed = parseInput(createIncidentSchema, input);
    return this.writes.run(ctx, async (w) => {
      const affected = await checkAffected(w, parsed.affected);
      const roles = nextRoles(NO_ROLES, parsed);
      const roleEntries = await planRoleEntries(w, parsed, NO_ROLES, roles);
      const row = (await scoped(Incident, w)
        .insert({
          title: parsed.title,
          description: parsed.description ?? null,
          severity: parsed.severity,
          impact_type: parsed.impact_type,
          ...roles,
          status: 'investigating',
          created_by: w.actor.userId,
          updated_by: w.actor.userId,
        })
        .returning('*')) as unknown as Incident;
      await writeLinks(w, row, affected);
      await this.insertEntry(w, row.id, 'investigating', parsed.message ?? FIRST_MESSAGE);
      await this.insertPlanned(w, row.id, 'investigating', roleEntries);
      const moves = await planStatusMoves(w, affected);
      const data = await this.detail(w, row, moves);
      w.record({ entityType: 'incidents', entityId: row.id, entityName: row.title, action: 'created', data });
      await applyStatusMoves(w, this.entities, moves);
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<IncidentData> {
    await authorize(ctx, 'write', { type: 'incidents' });
    const parsed = parseInput(updateIncidentSchema, input);
    return this.writes.run(ctx, async (w) => {
      const current = await incidents.lock(w, id, opts);
      const oldLinks = await loadLinks(w, [id]);
      const newLinks = parsed.affected ? await checkAffected(w, parsed.affected) : undefined;
      const { affected: _a, commander_id: _c, lead_id: _l, responder_ids: _r, ...rest } = parsed;
      const patch = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<Incident>;
      const oldRoles: Roles = { commander_id: current.commander_id, lead_id: current.lead_id, responder_ids: current.responder_ids };
      const roles = nextRoles(oldRoles, parsed);
      const roleEntries = await planRoleEntries(w, parsed, oldRoles, roles);
      if (roleEntries.length) Object.assign(patch, roles);
      const linksChanged = !!newLinks && !sameRefs(oldLinks, newLinks);
      const columnsChanged = Object.entries(patch).some(([k, v]) => (current as unknown as Record<string, unknown>)[k] !== v);
      const before = await this.detail(w, current);
      if (!linksChanged && !columnsChanged) return before; // no version bump, no event

      await incidents.patch(w, current, patch);
      if (linksChanged) await writeLinks(w, current, newLinks!, oldLinks);
      const affectedChange = linksChanged ? affectedEntry(before.affected, oldLinks, newLinks!) : undefined;
      await this.insertPlanned(w, id, current.status, [...roleEntries, ...(affectedChange ? [affectedChange] : [])]);
      const impactChanged = patch.impact_type !== undefined && patch.impact_type !== current.impact_type;
      const touched = isActive(current) && (linksChanged || impactChanged) ? [...oldLinks, ...(newLinks ?? [])] : [];
      const moves = await planStatusMoves(w, touched);
      const updated = await incidents.find(w, id);
      const data = await this.detail(w, updated, moves);
      w.record({
        entityType: 'incidents',
        entityId: id,
        entityName: updated.title,
        action: 'updated',
        data,
        changes: diff(before as unknown as Record<string, unknown>, data as unknown as Record<string, unknown>),
      });
      await applyStatusMoves(w, this.entities, moves);
      return data;
    });
  }

  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: 'incidents' });
    await this.writes.run(ctx, async (w) => {
      const current = await incidents.lock(w, id, opts);
      await incidents.softDelete(w, current);
      const moves = await planStatusMoves(w, isActive(current) ? await loadLinks(w, [id]) : []);
      const data = await this.detail(w, await incidents.find(w, id, { includeDeleted: true }), moves);
      w.record({ entityType: 'incidents', entityId: id, entityName: current.title, action: 'deleted', data, previous: current });
      await applyStatusMoves(w, this.entities, moves);
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<IncidentData> {
    await authorize(ctx, 'write', { type: 'incidents' });
    return this.writes.run(ctx, async (w) => {
      const current = await incidents.lock(w, id, { includeDeleted: true });
      if (!(await incidents.restore(w, current))) return this.detail(w, current);
      const restored = await incidents.find(w, id);
      const moves = await planStatusMoves(w, isActive(restored) ? await loadLinks(w, [id]) : []);
      const data = await this.detail(w, restored, moves);
      w.record({ entityType: 'incidents', entityId: id, entityName: restored.title, action: 'restored', data, previous: current });
      await applyStatusMoves(w, this.entities, moves);
      return data;
    });
  }

  /**
   * POST /incidents/:id/updates: appends a timeline entry and, when `status` is given and differs,
   * moves the incident (its own `status_changed` change, recorded before the `timeline_entry`).
   */
  async addUpdate(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<{ entry: TimelineEntryData; incident: IncidentData }> {
    await authorize(ctx, 'write', { type: 'incidents' });
    const parsed = parseInput(timelineUpdateSchema, input);
    return this.writes.run(ctx, async (w) => {
      // The row lock also orders the incident's timeline entries (clock_timestamp after it).
      const current = await incidents.lock(w, id, opts);
      const target = parsed.status && parsed.status !== current.status ? parsed.status : undefined;
      if (target) checkTransition(current.status, target);
      const entry = await this.insertEntry(w, id, target ?? current.status, parsed.message);
      let moves: StatusMove[] = [];
      let incident: IncidentData | undefined;
      if (target) {
        const resolvedAt = target === 'resolved' ? new Date() : null; // reopening clears it
        await incidents.patch(w, current, { status: target, resolved_at: resolvedAt });
        const activityChanged = (current.status === 'resolved') !== (target === 'resolved');
        moves = await planStatusMoves(w, activityChanged ? await loadLinks(w, [id]) : []);
        incident = await this.detail(w, await incidents.find(w, id), moves);
        w.record({
          entityType: 'incidents',
          entityId: id,
          entityName: current.title,
          action: 'status_changed',
          data: incident,
          changes: { status: { old: current.status, new: target } },
        });
      }
      w.record({ entityType: 'incidents', entityId: id, entityName: current.title, action: 'timeline_entry', data: entry });
      await applyStatusMoves(w, this.entities, moves);
      return { entry, incident: incident ?? (await this.detail(w, current)) };
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The incident with its affected entities (planned status moves applied) and its timeline, oldest first. */
  private async detail(ctx: ServiceContext, row: Incident, moves: StatusMove[] = []): Promise<IncidentData> {
    const affected = await loadAffected(ctx, [row], moves);
    const timeline = await scoped(IncidentTimelineEntry, ctx)
      .where('incident_id', row.id)
      .orderBy([{ column: 'timestamp' }, { column: 'created_at' }, { column: 'id' }]);
    const entries = timeline.map(entryData);
    return { ...columns(row), affected: affected.get(row.id)!, timeline: entries, durations: durations(entries) };
  }

  /** The entries an edit plans, in one statement, each a microsecond after the one before (their order on the timeline). */
  private async insertPlanned(w: WriteScope, incidentId: string, status: IncidentStatus, planned: PlannedEntry[]): Promise<void> {
    if (planned.length === 0) return;
    await scoped(IncidentTimelineEntry, w).insert(
      planned.map((p, i) => ({
        incident_id: incidentId,
        status,
        kind: p.kind,
        message: p.message,
        data: JSON.stringify(p.data) as unknown as Record<string, unknown>,
        created_by: w.actor.userId,
        timestamp: raw(`clock_timestamp() + ? * interval '1 microsecond'`, [i + 1]) as unknown as Date,
      })),
    );
  }

  private async insertEntry(w: WriteScope, incidentId: string, status: IncidentStatus, message: string): Promise<TimelineEntryData> {
    const row = (await scoped(IncidentTimelineEntry, w)
      .insert({ incident_id: incidentId, status, message, created_by: w.actor.userId, timestamp: raw('clock_timestamp()') as unknown as Date })
      .returning('*')) as unknown as IncidentTimelineEntry;
    return entryData(row);
  }
}

function columns(row: Incident): Omit<IncidentSummary, 'affected'> {
  return present<Omit<IncidentSummary, 'affected'>>(row);
}

function entryData(row: IncidentTimelineEntry): TimelineEntryData {
  return present<TimelineEntryData>(row);
}

/** Forward along the lifecycle (steps may be skipped); a resolved incident reopens only to investigating. */
function checkTransition(from: IncidentStatus, to: IncidentStatus): void {
  const rank = (s: IncidentStatus) => INCIDENT_STATUS.indexOf(s);
  const allowed = from === 'resolved' ? to === 'investigating' : rank(to) > rank(from);
  if (allowed) return;
  const message =
    from === 'resolved' ? `a resolved incident can only be reopened to 'investigating', not moved to '${to}'` : `cannot move back from '${from}' to '${to}'`;
  throw UnprocessableEntity('The status change is not allowed.', [{ path: 'status', message }]);
}
