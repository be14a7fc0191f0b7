// Scorecards: CRUD of a scorecard and its criteria through the single write path, and results
// computed on read over the catalog (never stored), in batches: one page of 200 entities at a
// time with their relation lists and assignments, and one query for active incidents.
import type { ServiceContext } from '../../platform/context.js';
import { Conflict, UnprocessableEntity } from '../../platform/errors.js';
import { listPage, type ListQuery, type Listable, type Page } from '../../platform/listing.js';
import { RecordTable, diff, present, type WriteOptions } from '../../platform/records.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import type { CatalogType, EntityData } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { criteriaIssues, evaluate, levelOf, scoreOn, type CriterionLike, type EvaluationFacts } from './scoring.js';
import { AFFECTED_TABLE, Incident } from '../incidents/model.js';
import { Scorecard, ScorecardCriterion } from './model.js';
import { SCORABLE_TYPES, parseScorecardInput, scorecardCreate, scorecardUpdate, type CriterionInput, type LevelData, type ScorableType } from './schemas.js';
import { decodeCursor, encodeCursor } from '../../platform/cursor.js';
import { uuid } from '../../platform/schema-kit.js';

const ENTITY_TYPE = 'scorecards';
const scorecards = new RecordTable<Scorecard>(Scorecard, 'scorecard');
const RESULTS_PAGE = 200;

export const SCORECARD_LISTING: Listable = {
  model: Scorecard,
  titleColumn: 'name',
  enumFilters: {},
  // No trigram index on scorecards: a tenant has tens of them, a sequential ILIKE is fine.
  searchExpr: `(name || ' ' || coalesce(description, ''))`,
  hasTeam: false,
  hasTags: false,
};

export interface CriterionData extends CriterionLike {
  id: string;
  description: string | null;
  sort_order: number;
}

export type ScorecardData = Record<string, unknown> & {
  id: string;
  name: string;
  description: string | null;
  entity_types: ScorableType[];
  levels: LevelData[];
  row_version: number;
  criteria: CriterionData[];
};

export interface EntityResult {
  entity_type: ScorableType;
  entity_id: string;
  name: string;
  score: number;
  level: string | null;
  passed: CriterionData[];
  failed: CriterionData[];
}

/** Where a results page ended: the scorecard, the index of the entity type, and that type's list cursor. */
interface ResultsCursor {
  sc: string;
  t: number;
  c?: string;
}

export interface ResultsPage {
  data: EntityResult[];
  meta: { limit: number; next_cursor: string | null; has_more: boolean };
}

export interface ScorecardSummary {
  scorecard_id: string;
  name: string;
  entity_types: ScorableType[];
  entities_scored: number;
  average_score: number | null;
  levels: { level: string; count: number }[];
  below_levels: number;
  truncated: boolean;
}

export interface ScorecardScore {
  scorecard_id: string;
  scorecard_name: string;
  score: number;
  level: string | null;
  passed: CriterionData[];
  failed: CriterionData[];
}

/** A criterion as it will be stored: defaults applied, sort_order defaulting to its list position. */
type CriterionRow = Omit<CriterionData, 'id'>;

export class ScorecardService {
  constructor(
    private readonly writes: WriteRunner,
    private readonly entities: Record<CatalogType, EntityService>,
  ) {}

  // ---- reads ---------------------------------------------------------------------------------

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<ScorecardData> {
    const row = await scorecards.find(ctx, id, { includeDeleted: opts.includeDeleted });
    const [data] = await this.present(ctx, [row]);
    return data;
  }

  async list(ctx: ServiceContext, query: ListQuery): Promise<Page<ScorecardData>> {
    if (query.includeDeleted) await authorize(ctx, 'read_deleted', { type: ENTITY_TYPE });
    const page = await listPage<Scorecard>(ctx, SCORECARD_LISTING, query);
    return { data: await this.present(ctx, page.rows), meta: page.meta };
  }

  /** Every live entity of the scorecard's types, scored; entity types in the scorecard's order, then by name. */
  async results(ctx: ServiceContext, id: string): Promise<EntityResult[]> {
    const results: EntityResult[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.resultsPage(ctx, id, { limit: RESULTS_PAGE, cursor });
      results.push(...page.data);
      cursor = page.meta.next_cursor ?? undefined;
    } while (cursor);
    return results;
  }

  /**
   * One page of results: entity types in the scorecard's order, each by name, through that type's
   * keyset list; the cursor holds the type's index and its list cursor (400 when it is another scorecard's).
   */
  async resultsPage(ctx: ServiceContext, id: string, query: { limit: number; cursor?: string }): Promise<ResultsPage> {
    return this.scoredPage(ctx, await this.get(ctx, id), query);
  }

  private async scoredPage(ctx: ServiceContext, card: ScorecardData, query: { limit: number; cursor?: string }): Promise<ResultsPage> {
    const start = query.cursor ? readResultsCursor(query.cursor, card) : { sc: card.id, t: 0 };
    const facts = await this.facts(ctx, card.criteria, { entityTypes: card.entity_types });
    const data: EntityResult[] = [];
    let at: ResultsCursor | null = start;
    while (at && data.length < query.limit) {
      const type: ScorableType = card.entity_types[at.t];
      const page: Page<EntityData> = await this.entities[type].list(ctx, { limit: query.limit - data.length, cursor: at.c, sort: 'name', filters: {} });
      for (const entity of page.data) {
        const evaluation = evaluate(card.criteria, entity, facts);
        data.push({
          entity_type: type,
          entity_id: entity.id,
          name: String(entity.name),
          score: evaluation.score,
          level: levelOf(card.levels, evaluation.score),
          passed: evaluation.passed,
          failed: evaluation.failed,
        });
      }
      if (page.meta.next_cursor) at = { sc: card.id, t: at.t, c: page.meta.next_cursor };
      else at = at.t + 1 < card.entity_types.length ? { sc: card.id, t: at.t + 1 } : null;
    }
    return { data, meta: { limit: query.limit, next_cursor: at ? encodeCursor(at) : null, has_more: at !== null } };
  }

  /** Every live scorecard of the tenant with its criteria (a tenant has tens). */
  async all(ctx: ServiceContext): Promise<ScorecardData[]> {
    return this.present(ctx, await scoped(Scorecard, ctx).orderBy([{ column: 'name' }, { column: 'id' }]));
  }

  /**
   * Each entity's score and level on each of `cards` (those of the entities' type), by entity id:
   * the incident facts of all of them read in one statement, only when a criterion needs them.
   */
  async scoreEntities(
    ctx: ServiceContext,
    cards: readonly ScorecardData[],
    entities: readonly EntityData[],
  ): Promise<Map<string, { card: ScorecardData; score: number; level: string | null }[]>> {
    const facts = await this.facts(
      ctx,
      cards.flatMap((c) => c.criteria),
      { entityIds: entities.map((e) => e.id) },
    );
    return new Map(
      entities.map((entity) => [
        entity.id,
        cards.map((card) => {
          const { score } = evaluate(card.criteria, entity, facts);
          return { card, score, level: levelOf(card.levels, score) };
        }),
      ]),
    );
  }

  /**
   * What a dashboard shows of a scorecard: how many entities it scored, their average score and how
   * many reach each level, over the first `limit` results (entity types in the scorecard's order,
   * each by name); `truncated` when there were more.
   */
  async summary(ctx: ServiceContext, id: string, limit: number): Promise<ScorecardSummary> {
    const card = await this.get(ctx, id);
    const page = await this.scoredPage(ctx, card, { limit });
    const counts = new Map<string | null, number>();
    for (const r of page.data) counts.set(r.level, (counts.get(r.level) ?? 0) + 1);
    const total = page.data.reduce((sum, r) => sum + r.score, 0);
    return {
      scorecard_id: card.id,
      name: card.name,
      entity_types: card.entity_types,
      entities_scored: page.data.length,
      average_score: page.data.length ? Math.round((total / page.data.length) * 10) / 10 : null,
      levels: card.levels.map((l) => ({ level: l.name, count: counts.get(l.name) ?? 0 })),
      below_levels: counts.get(null) ?? 0,
      truncated: page.meta.has_more,
    };
  }

  /** The scores of one entity on every scorecard that applies to its type (detail views). */
  async resultsForEntity(ctx: ServiceContext, entityType: CatalogType, entity: EntityData): Promise<ScorecardScore[]> {
    if (!(SCORABLE_TYPES as readonly string[]).includes(entityType)) return [];
    const rows = await scoped(Scorecard, ctx)
      .whereRaw('scorecards.entity_types @> ?::jsonb', [JSON.stringify([entityType])])
      .orderBy([{ column: 'name' }, { column: 'id' }]);
    const cards = await this.present(ctx, rows);
    const facts = await this.facts(
      ctx,
      cards.flatMap((c) => c.criteria),
      { entityIds: [entity.id] },
    );
    return scoreOn(cards, entity, facts);
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<ScorecardData> {
    await authorize(ctx, 'write', { type: ENTITY_TYPE });
    const parsed = parseScorecardInput(scorecardCreate, input);
    const criteria = toRows(parsed.criteria);
    this.validate(parsed.entity_types, criteria);
    return this.writes.run(ctx, async (w) => {
      const row = (await nameClash(
        scoped(Scorecard, w)
          .insert({
            name: parsed.name,
            description: parsed.description ?? null,
            entity_types: parsed.entity_types,
            levels: parsed.levels,
            created_by: w.actor.userId,
            updated_by: w.actor.userId,
          })
          .returning('*'),
      )) as unknown as Scorecard;
      await this.replaceCriteria(w, row.id, criteria);
      const data = await this.get(w, row.id);
      w.record({ entityType: ENTITY_TYPE, entityId: data.id, entityName: data.name, action: 'created', data });
      return data;
    });
  }

  /** A PATCH; `criteria`, when given, replaces the whole list in the same transaction and change. */
  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<ScorecardData> {
    await authorize(ctx, 'write', { type: ENTITY_TYPE });
    const parsed = parseScorecardInput(scorecardUpdate, input);
    return this.writes.run(ctx, async (w) => {
      const current = await scorecards.lock(w, id, opts);
      const [before] = await this.present(w, [current]);
      const criteria = parsed.criteria ? toRows(parsed.criteria) : undefined;
      // Stored criteria are checked again only when what they are judged against changes.
      if (criteria || parsed.entity_types) this.validate(parsed.entity_types ?? before.entity_types, criteria ?? before.criteria);

      const columns: Record<string, unknown> = {};
      for (const key of ['name', 'description', 'entity_types', 'levels'] as const) {
        if (parsed[key] !== undefined && !same(before[key], parsed[key])) columns[key] = parsed[key];
      }
      const replace = criteria !== undefined && !sameCriteria(before.criteria, criteria);
      if (Object.keys(columns).length === 0 && !replace) return before; // no version bump, no event

      await nameClash(scorecards.patch(w, current, columns));
      if (replace) await this.replaceCriteria(w, id, criteria);
      const data = await this.get(w, id);
      w.record({
        entityType: ENTITY_TYPE,
        entityId: id,
        entityName: data.name,
        action: 'updated',
        data,
        changes: diff(before, data),
      });
      return data;
    });
  }

  /** Soft delete: the criteria stay with the row, so a restore brings the scorecard back whole. */
  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: ENTITY_TYPE });
    await this.writes.run(ctx, async (w) => {
      const current = await scorecards.lock(w, id, opts);
      await scorecards.softDelete(w, current);
      const data = await this.get(w, id, { includeDeleted: true });
      w.record({ entityType: ENTITY_TYPE, entityId: id, entityName: data.name, action: 'deleted', data, previous: current });
    });
  }

  async restore(ctx: ServiceContext, id: string): Promise<ScorecardData> {
    await authorize(ctx, 'write', { type: ENTITY_TYPE });
    return this.writes.run(ctx, async (w) => {
      const current = await scorecards.lock(w, id, { includeDeleted: true });
      // A live scorecard holding the same name makes this a 409.
      if (!(await nameClash(scorecards.restore(w, current)))) return (await this.present(w, [current]))[0];
      const data = await this.get(w, id);
      w.record({ entityType: ENTITY_TYPE, entityId: id, entityName: data.name, action: 'restored', data, previous: current });
      return data;
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  private validate(entityTypes: readonly ScorableType[], criteria: readonly CriterionLike[]): void {
    const issues = criteriaIssues(criteria, entityTypes);
    if (issues.length) throw UnprocessableEntity('The scorecard has criteria that cannot apply to its entity types.', issues);
  }

  private async replaceCriteria(w: WriteScope, scorecardId: string, criteria: CriterionRow[]): Promise<void> {
    await scoped(ScorecardCriterion, w).where('scorecard_id', scorecardId).delete();
    if (criteria.length === 0) return;
    await scoped(ScorecardCriterion, w).insert(criteria.map((c) => ({ ...c, scorecard_id: scorecardId })) as Partial<ScorecardCriterion>[]);
  }

  /** Scorecards as REST returns them, each with its criteria (sort_order, then name): one query for all. */
  private async present(ctx: ServiceContext, rows: Scorecard[]): Promise<ScorecardData[]> {
    if (rows.length === 0) return [];
    const byCard = new Map<string, CriterionData[]>(rows.map((r) => [r.id, []]));
    const criteria = await scoped(ScorecardCriterion, ctx)
      .whereIn('scorecard_id', [...byCard.keys()])
      .orderBy([{ column: 'sort_order' }, { column: 'name' }, { column: 'id' }]);
    for (const c of criteria) {
      byCard.get(c.scorecard_id)!.push({
        id: c.id,
        name: c.name,
        description: c.description,
        weight: c.weight,
        check_type: c.check_type,
        check_config: c.check_config,
        sort_order: c.sort_order,
      });
    }
    return rows.map((row) => {
      const { criteria: _c, ...rest } = present<Record<string, unknown>>(row);
      return { ...rest, criteria: byCard.get(row.id)! } as ScorecardData;
    });
  }

  /** Active-incident facts, fetched only when some criterion asks for them: one query. */
  private async facts(
    ctx: ServiceContext,
    criteria: readonly CriterionLike[],
    scope: { entityTypes?: readonly string[]; entityIds?: readonly string[] },
  ): Promise<EvaluationFacts> {
    if (!criteria.some((c) => c.check_type === 'no_active_incidents')) return { activeIncidentEntityIds: new Set() };
    // The link table has no tenant_id: it is reached through incidents, scoped to the tenant
    // (soft-deleted incidents hidden by the scope).
    const q = scoped(Incident, ctx)
      .join(`${AFFECTED_TABLE} as a`, 'a.incident_id', 'incidents.id')
      .whereNot('incidents.status', 'resolved')
      .distinct('a.entity_id');
    if (scope.entityTypes) q.whereIn('a.entity_type', scope.entityTypes as string[]);
    if (scope.entityIds) q.whereIn('a.entity_id', scope.entityIds as string[]);
    const rows = (await q) as unknown as { entity_id: string }[];
    return { activeIncidentEntityIds: new Set(rows.map((r) => r.entity_id)) };
  }
}

/**
 * Names are unique among live scorecards of a tenant (partial unique index): a clash is a 409 at
 * `name`. Objection wraps the driver error, so its SQLSTATE sits on nativeError.
 */
async function nameClash<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (err) {
    const e = err as { code?: string; nativeError?: { code?: string } };
    if ((e.nativeError?.code ?? e.code) === '23505') {
      throw Conflict('A live scorecard with this name already exists.', [{ path: 'name', message: 'must be unique among live scorecards' }]);
    }
    throw err;
  }
}

function readResultsCursor(raw: string, card: ScorecardData): ResultsCursor {
  return decodeCursor<ResultsCursor>(
    raw,
    (c) =>
      c.sc === card.id &&
      uuid.safeParse(c.sc).success &&
      Number.isInteger(c.t) &&
      c.t >= 0 &&
      c.t < card.entity_types.length &&
      (c.c === undefined || typeof c.c === 'string'),
    'The cursor is not valid for these results (it must come from next_cursor of the same scorecard).',
  );
}

function toRows(criteria: CriterionInput[]): CriterionRow[] {
  return criteria.map((c, i) => ({
    name: c.name,
    description: c.description ?? null,
    weight: c.weight,
    check_type: c.check_type,
    check_config: c.check_config as Record<string, unknown>,
    sort_order: c.sort_order ?? i,
  }));
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Criteria lists compare by content (ids aside, config keys in any order, as a multiset). */
function sameCriteria(stored: readonly CriterionData[], next: readonly CriterionRow[]): boolean {
  const key = (c: CriterionRow) => JSON.stringify([c.name, c.description ?? null, c.weight, c.check_type, sortKeys(c.check_config), c.sort_order]);
  const a = stored.map(key).sort();
  const b = next.map(key).sort();
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value ?? {}).sort(([x], [y]) => x.localeCompare(y)));
}
