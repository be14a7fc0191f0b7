// `scorecards.score_changed`: computed after commit by a change-log follower, never inside the write
// that moved the score. It keeps each entity's last score and level per scorecard
// (scorecard_scores) and records an event when a change of the entity (or of an incident that
// affects it) gives it another score or level. A scorecard's own create, edit or restore
// re-baselines its scores without an event per entity: its own `scorecards.*` event says that its
// results changed, and `/scorecards/:id/results` has them.
import type { Knex } from 'knex';
import type { ChangeEvent } from '../../platform/bus.js';
import type { FollowerPort } from '../../platform/followers.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteScope } from '../../platform/write.js';
import type { CatalogType, EntityData } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { ScorecardScore } from './model.js';
import { SCORABLE_TYPES, type ScorableType } from './schemas.js';
import type { ScorecardData, ScorecardService } from './service.js';

export const SCORE_CHANGED = 'score_changed';
const INSERT_CHUNK = 1000;

/** What a `scorecards.score_changed` event carries. */
export interface ScoreChange {
  scorecard_id: string;
  scorecard_name: string;
  entity_type: ScorableType;
  entity_id: string;
  entity_name: string;
  score: number;
  level: string | null;
  /** null when the entity had no score on the scorecard before (it was just created or restored). */
  previous_score: number | null;
  previous_level: string | null;
}

const isScorable = (type: unknown): type is ScorableType => (SCORABLE_TYPES as readonly unknown[]).includes(type);

/** The scorable entities an incident event touches: those it affects now and those it affected before the change. */
function affectedBy(event: ChangeEvent): { entity_type: ScorableType; entity_id: string }[] {
  type Ref = { entity_type?: unknown; entity_id?: unknown };
  const now = ((event.data as { affected?: Ref[] } | null)?.affected ?? []) as Ref[];
  const before = ((event.changes as { affected?: { old?: Ref[] } } | null)?.affected?.old ?? []) as Ref[];
  return [...now, ...(Array.isArray(before) ? before : [])].flatMap((a) =>
    isScorable(a.entity_type) && typeof a.entity_id === 'string' ? [{ entity_type: a.entity_type, entity_id: a.entity_id }] : [],
  );
}

export class ScoreEvents implements FollowerPort {
  readonly name = 'scorecard_scores';
  readonly entityTypes = [...SCORABLE_TYPES, 'incidents', 'scorecards'];

  constructor(
    private readonly scorecards: ScorecardService,
    private readonly entities: Record<CatalogType, EntityService>,
  ) {}

  async tenants(db: Knex): Promise<string[]> {
    const rows = (await db('scorecards').whereNull('deleted_at').distinct('tenant_id')) as { tenant_id: string }[];
    return rows.map((r) => r.tenant_id);
  }

  wakes(event: ChangeEvent): boolean {
    return event.entity_type === 'scorecards' && event.action !== SCORE_CHANGED;
  }

  async begin(w: WriteScope): Promise<void> {
    for (const card of await this.scorecards.all(w)) await this.baseline(w, card);
  }

  async handle(w: WriteScope, events: ChangeEvent[]): Promise<void> {
    const cards = await this.scorecards.all(w);
    const rebaseline = new Set<string>();
    const dropped = new Set<string>();
    const touched = new Map<string, ScorableType>();
    const readsIncidents = cards.some((c) => c.criteria.some((k) => k.check_type === 'no_active_incidents'));
    for (const e of events) {
      if (e.entity_type === 'scorecards') {
        if (e.action === SCORE_CHANGED || !e.entity_id) continue;
        (e.action === 'deleted' ? dropped : rebaseline).add(e.entity_id);
      } else if (e.entity_type === 'incidents') {
        if (readsIncidents) for (const a of affectedBy(e)) touched.set(a.entity_id, a.entity_type);
      } else if (e.entity_id && isScorable(e.entity_type)) {
        touched.set(e.entity_id, e.entity_type);
      }
    }
    // Entities first, against the scorecards that keep their baseline; re-baselined ones come after.
    await this.rescore(
      w,
      cards.filter((c) => !rebaseline.has(c.id)),
      touched,
    );
    if (dropped.size)
      await scoped(ScorecardScore, w)
        .whereIn('scorecard_id', [...dropped])
        .delete();
    for (const card of cards) if (rebaseline.has(card.id)) await this.baseline(w, card);
  }

  /** Every entity of the scorecard's types scored as it is now, replacing what was stored; no events. */
  private async baseline(w: WriteScope, card: ScorecardData): Promise<void> {
    await scoped(ScorecardScore, w).where('scorecard_id', card.id).delete();
    const rows = (await this.scorecards.results(w, card.id)).map((r) => ({
      scorecard_id: card.id,
      entity_id: r.entity_id,
      entity_type: r.entity_type,
      score: r.score,
      level: r.level,
    }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) await scoped(ScorecardScore, w).insert(rows.slice(i, i + INSERT_CHUNK));
  }

  private async rescore(w: WriteScope, cards: ScorecardData[], touched: Map<string, ScorableType>): Promise<void> {
    const ids = [...touched.keys()].filter((id) => cards.some((c) => c.entity_types.includes(touched.get(id)!)));
    if (ids.length === 0) return;
    const stored = new Map<string, ScorecardScore>();
    for (const row of await scoped(ScorecardScore, w).whereIn('entity_id', ids)) stored.set(`${row.scorecard_id}:${row.entity_id}`, row);
    // The entities as REST returns them and their scores, read per type for all of them at once.
    const current = new Map<string, EntityData>();
    const scores = new Map<string, { card: ScorecardData; score: number; level: string | null }[]>();
    for (const type of new Set(ids.map((id) => touched.get(id)!))) {
      const found = await this.entities[type].getMany(
        w,
        ids.filter((id) => touched.get(id) === type),
      );
      for (const entity of found) current.set(entity.id, entity);
      const applicable = cards.filter((c) => c.entity_types.includes(type));
      for (const [id, results] of await this.scorecards.scoreEntities(w, applicable, found)) scores.set(id, results);
    }
    const gone: string[] = [];
    const upserts: Partial<ScorecardScore>[] = [];
    for (const id of ids) {
      const type = touched.get(id)!;
      const entity = current.get(id);
      if (!entity) {
        gone.push(id);
        continue;
      }
      for (const { card, score, level } of scores.get(id)!) {
        const before = stored.get(`${card.id}:${id}`);
        if (before && before.score === score && before.level === level) continue;
        upserts.push({ scorecard_id: card.id, entity_id: id, entity_type: type, score, level });
        const change: ScoreChange = {
          scorecard_id: card.id,
          scorecard_name: card.name,
          entity_type: type,
          entity_id: id,
          entity_name: String(entity.name),
          score,
          level,
          previous_score: before?.score ?? null,
          previous_level: before?.level ?? null,
        };
        w.record({
          entityType: 'scorecards',
          entityId: card.id,
          entityName: card.name,
          action: SCORE_CHANGED,
          data: change,
          changes: {
            score: { old: change.previous_score, new: score },
            ...(change.previous_level !== level ? { level: { old: change.previous_level, new: level } } : {}),
          },
        });
      }
    }
    // Deleted entities have no score (a restore scores them afresh, from no previous score).
    if (gone.length) await scoped(ScorecardScore, w).whereIn('entity_id', gone).delete();
    if (upserts.length) {
      await scoped(ScorecardScore, w)
        .insert(upserts)
        .onConflict(['scorecard_id', 'entity_id'])
        .merge(['score', 'level', 'entity_type', 'updated_at'] as never);
    }
  }
}
