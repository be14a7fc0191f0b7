// What each widget of a dashboard shows, computed on read through the domain's own read paths (the
// services' lists and gets, the counts of GET /<kind>/facets), so tenancy and the access policy
// apply as they do to those routes. Every widget is bounded, and its data is a function of the
// stored records alone (no clock), so equal data hashes equal.
import type { ServiceContext } from '../../platform/context.js';
import { AppError, unlessNotFound } from '../../platform/errors.js';
import { facetCounts, rowCount } from '../../platform/facets.js';
import { parseListQuery, type ListQuery, type Listable, type Page } from '../../platform/listing.js';
import { KINDS, type CatalogType } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { INCIDENT_LISTING, type IncidentService } from '../incidents/service.js';
import { liveRecordIds } from '../permissions/service.js';
import { SCORABLE_TYPES } from '../scorecards/schemas.js';
import { SCORECARD_LISTING, type ScorecardService } from '../scorecards/service.js';
import { WIDGET_SOURCE_TYPES } from './schemas.js';
import { SCORECARD_WIDGET_ENTITIES, WIDGET_CONFIG, type CountsData, type WidgetProblemCode, type WidgetResult } from './widget-data.js';

/** The services widgets read from. */
export interface WidgetSources {
  entities: Record<CatalogType, EntityService>;
  incidents: IncidentService;
  scorecards: ScorecardService;
}

type Row = Record<string, unknown>;

/** A widget as the dashboard holds it (the fields its data depends on). */
export interface WidgetLike {
  id: string;
  title: string;
  widget_type: string;
  source_entity_type?: string | null;
  source_entity_id?: string | null;
  config?: Record<string, unknown> | null;
}

export interface FilterLike {
  filter_type: string;
  target_column: string;
  config?: Record<string, unknown> | null;
}

/** How a kind is read: its list description, its services' list and get, its default list order. */
interface KindReader {
  listing: Listable;
  defaultSort: string;
  list(ctx: ServiceContext, query: ListQuery): Promise<Page<unknown>>;
  get(ctx: ServiceContext, id: string): Promise<unknown>;
}

function readerOf(sources: WidgetSources, kind: string): KindReader {
  if (kind === 'incidents') return { listing: INCIDENT_LISTING, defaultSort: '-created_at', ...bound(sources.incidents) };
  if (kind === 'scorecards') return { listing: SCORECARD_LISTING, defaultSort: 'name', ...bound(sources.scorecards) };
  const entities = sources.entities[kind as CatalogType];
  return { listing: KINDS[kind as CatalogType], defaultSort: 'name', ...bound(entities) };
}

function bound(service: Pick<KindReader, 'list' | 'get'>): Pick<KindReader, 'list' | 'get'> {
  return { list: (ctx, query) => service.list(ctx, query), get: (ctx, id) => service.get(ctx, id) };
}

/** A widget that has no data, and why. */
class WidgetProblem extends Error {
  constructor(
    readonly code: WidgetProblemCode,
    message: string,
  ) {
    super(message);
  }
}

/** The kind a widget shows: its source's type, else the kind its config names (`{entity_type}`). */
export function widgetKind(widget: Pick<WidgetLike, 'source_entity_type' | 'config'>): string | null {
  if (widget.source_entity_type) return widget.source_entity_type;
  const named = widget.config?.entity_type;
  return typeof named === 'string' && (WIDGET_SOURCE_TYPES as readonly string[]).includes(named) ? named : null;
}

/**
 * The entity types whose changes can move some widget's data: the dashboard's own (its widgets and
 * filters), each widget's kind, incidents for a timeline, and for a scorecard every kind it may
 * score with incidents (a criterion may ask for active incidents).
 */
export function widgetInputTypes(dashboard: { widgets: readonly Pick<WidgetLike, 'widget_type' | 'source_entity_type' | 'config'>[] }): Set<string> {
  const types = new Set<string>(['dashboards']);
  for (const widget of dashboard.widgets) {
    const kind = widgetKind(widget);
    if (kind) types.add(kind);
    if (widget.widget_type === 'timeline') types.add('incidents');
    if (widget.widget_type === 'scorecard') for (const t of ['scorecards', ...SCORABLE_TYPES, 'incidents']) types.add(t);
  }
  return types;
}

/** The list parameter a dashboard filter's target_column sets on a kind; null where the kind has no such column. */
export function filterParam(listing: Listable, column: string): string | null {
  if (column in listing.enumFilters) return column;
  if (column === 'team_id' && listing.hasTeam) return 'team_id';
  if ((column === 'tags' || column === 'tag') && listing.hasTags) return 'tag';
  return null;
}

/** A filter's value: `config.value`, else `config.default`; a filter with neither selects every record. */
export function filterValue(filter: FilterLike): string | null {
  for (const key of ['value', 'default']) {
    const v = filter.config?.[key];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return null;
}

/** Settings a widget's own `query` may not take: the page, the order and deleted rows are the widget's to decide. */
const NOT_FILTERS = new Set(['limit', 'cursor', 'sort', 'include_deleted']);

/**
 * The list query of a widget over its kind: its own `config.query`, then every dashboard filter
 * whose column the kind has (replacing the widget's value for the same column).
 */
function listQueryOf(
  listing: Listable,
  ownQuery: Record<string, string> | undefined,
  filters: readonly FilterLike[],
  page: { limit: number; sort: string },
): ListQuery {
  const raw: Record<string, string> = Object.fromEntries(Object.entries(ownQuery ?? {}).filter(([k]) => !NOT_FILTERS.has(k)));
  for (const filter of filters) {
    const param = filterParam(listing, filter.target_column);
    const value = filterValue(filter);
    if (param && value !== null) raw[param] = value;
  }
  try {
    return parseListQuery(listing, { ...raw, limit: String(page.limit), sort: page.sort });
  } catch (err) {
    if (err instanceof AppError && err.status === 422) {
      const issues = (err.errors ?? []).map((e) => `${e.path.replace(/^query\./, '')}: ${e.message}`).join('; ');
      throw new WidgetProblem('invalid_config', `The widget's filters do not fit ${listing.model.tableName}: ${issues}`);
    }
    throw err;
  }
}

/** The field a status board counts by: the one its config names, else the kind's status (or operational status). */
function statusField(listing: Listable, named: string | undefined): string {
  const field = named ?? ['status', 'operational_status'].find((f) => f in listing.enumFilters);
  if (!field) throw new WidgetProblem('unsupported', `${listing.model.tableName} have no status to count by.`);
  return enumField(listing, field);
}

function enumField(listing: Listable, field: string): string {
  if (field in listing.enumFilters) return field;
  const fields = Object.keys(listing.enumFilters);
  throw new WidgetProblem(
    'invalid_config',
    fields.length
      ? `'${field}' is not an enum field of ${listing.model.tableName} (one of: ${fields.join(', ')}).`
      : `${listing.model.tableName} have no enum field.`,
  );
}

/** Counts of one record's value of `field` (a status board or chart over its source record). */
function recordCounts(kind: string, listing: Listable, record: Row, field: string): CountsData {
  const value = record[field];
  return {
    entity_type: kind as CountsData['entity_type'],
    field,
    total: 1,
    counts: listing.enumFilters[field]!.map((v) => ({ value: v, count: v === value ? 1 : 0 })),
  };
}

/** What a read of the widget's source gives (a 404 there: the source is gone). */
async function sourceRecord<T>(read: Promise<T>, kind: string, id: string): Promise<T> {
  const found = await unlessNotFound(read);
  if (found === null) throw new WidgetProblem('source_missing', `The widget's source, ${kind} ${id}, is deleted or gone.`);
  return found;
}

async function compute(ctx: ServiceContext, sources: WidgetSources, widget: WidgetLike, filters: readonly FilterLike[]): Promise<unknown> {
  const type = widget.widget_type as keyof typeof WIDGET_CONFIG;
  const parsed = WIDGET_CONFIG[type].safeParse(widget.config ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new WidgetProblem('invalid_config', `The widget's config does not fit a ${type}: ${issues}`);
  }
  const config = parsed.data as { entity_type?: string; query?: Record<string, string>; limit?: number; sort?: string; field?: string };
  const kind = widgetKind(widget);
  if (!kind) {
    throw new WidgetProblem(
      config.entity_type ? 'invalid_config' : 'no_source',
      config.entity_type ? `'${config.entity_type}' is not a kind a widget shows.` : 'The widget names no source and no config.entity_type.',
    );
  }
  const sourceId = widget.source_entity_id ?? null;

  if (type === 'scorecard') {
    if (kind !== 'scorecards' || !sourceId) throw new WidgetProblem('unsupported', 'A scorecard widget takes a scorecard as its source.');
    return sourceRecord(sources.scorecards.summary(ctx, sourceId, SCORECARD_WIDGET_ENTITIES), kind, sourceId);
  }
  if (type === 'timeline') {
    if (kind !== 'incidents')
      throw new WidgetProblem('unsupported', 'A timeline shows incidents (an incident as its source, or incidents in config.entity_type).');
    const limit = config.limit!;
    if (sourceId) {
      const entries = await sources.incidents.latestTimeline(ctx, { incidentId: sourceId, limit });
      // Every incident has its declaration entry: none means the incident itself is gone.
      if (entries.length === 0 && !(await liveRecordIds(ctx, 'incidents', [sourceId])).has(sourceId)) {
        throw new WidgetProblem('source_missing', `The widget's source, incidents ${sourceId}, is deleted or gone.`);
      }
      return { incident_id: sourceId, entries };
    }
    const query = listQueryOf(INCIDENT_LISTING, config.query, filters, { limit, sort: '-created_at' });
    return { incident_id: null, entries: await sources.incidents.latestTimeline(ctx, { filters: query, limit }) };
  }

  const reader = readerOf(sources, kind);
  const { listing } = reader;
  if (sourceId) {
    // A source record is the widget's one record: the dashboard's filters do not narrow it.
    const record = (await sourceRecord(reader.get(ctx, sourceId), kind, sourceId)) as Row;
    if (type === 'counter') return { entity_type: kind, count: 1, record };
    if (type === 'list') return { entity_type: kind, records: [record], total: 1, limit: config.limit! };
    const field = type === 'chart' ? enumField(listing, config.field!) : statusField(listing, config.field);
    return recordCounts(kind, listing, record, field);
  }
  const limit = config.limit ?? 1;
  const query = listQueryOf(listing, config.query, filters, { limit, sort: config.sort ?? reader.defaultSort });
  if (type === 'counter') return { entity_type: kind, count: await rowCount(ctx, listing, query), record: null };
  if (type === 'list') {
    const page = await reader.list(ctx, query);
    return { entity_type: kind, records: page.data, total: page.meta.total, limit };
  }
  const field = type === 'chart' ? enumField(listing, config.field!) : statusField(listing, config.field);
  return { entity_type: kind, ...(await facetCounts(ctx, listing, { ...query, field })) };
}

/** Every widget's data, in the dashboard's order, one widget after another (a bounded share of the pool). */
export async function widgetData(
  ctx: ServiceContext,
  sources: WidgetSources,
  dashboard: { widgets: readonly WidgetLike[]; filters: readonly FilterLike[] },
): Promise<WidgetResult[]> {
  const results: WidgetResult[] = [];
  for (const widget of dashboard.widgets) {
    const head = { widget_id: widget.id, widget_type: widget.widget_type, title: widget.title };
    try {
      results.push({ ...head, data: await compute(ctx, sources, widget, dashboard.filters) } as WidgetResult);
    } catch (err) {
      if (!(err instanceof WidgetProblem)) throw err;
      results.push({ ...head, data: null, error: { code: err.code, message: err.message } } as WidgetResult);
    }
  }
  return results;
}
