// The catalog's read statements, one per purpose and kind, their text built once from the kind and
// its model's relations: the detail view (the record, its related records as summaries and the id
// lists derived from them, its people assignments, the incidents that affect it and its scorecard
// results), the relation id lists of many rows (list pages), and the record locked for a write
// with its lists. Every table in them carries the tenant condition (and the live-row condition
// where rows are soft-deleted), through tenancy's tenantRowOf/liveRowOf, and runs through scopedRaw.
import type { Model, Relation } from 'objection';
import type { ServiceContext } from '../../platform/context.js';
import { NotFound } from '../../platform/errors.js';
import { uuid } from '../../platform/schema-kit.js';
import { present } from '../../platform/records.js';
import { liveRowOf, scopedRaw, tenantRowOf } from '../../platform/tenancy.js';
import { AFFECTABLE_TYPES } from '../incidents/model.js';
import { scoreOn, type ScorableCard } from '../scorecards/scoring.js';
import { SCORABLE_TYPES } from '../scorecards/schemas.js';
import { KINDS, type CatalogType, type EntityData, type EntityKind } from './kinds.js';
import { SUMMARY_FIELDS } from './summaries.js';

/** The ISO 8601 form JavaScript dates take in every response (`2026-12-01T20:13:42.123Z`). */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

interface Statement {
  sql: string;
  /** Related records (summaries) that also give a relation id list: [graph key, id-list field]. */
  idLists: [string, string][];
  withRecordViews: boolean;
}

const byTable = new Map<string, EntityKind>(Object.values(KINDS).map((k) => [k.model.tableName, k]));

function summaryObject(alias: string, table: string): string {
  const kind = byTable.get(table);
  if (!kind) throw new Error(`no catalog kind has table ${table}`);
  const fields = SUMMARY_FIELDS.filter((f) => f === 'id' || f in kind.fields);
  return `json_build_object(${fields.map((f) => `'${f}', ${alias}.${f}`).join(', ')})`;
}

function relationColumn(kind: EntityKind, name: string, alias: string): string {
  const relation = (kind.model as typeof Model).getRelation(name) as Relation & {
    joinTable?: string | null;
    joinTableOwnerProp?: { cols: string[] };
    joinTableRelatedProp?: { cols: string[] };
  };
  const target = relation.relatedModelClass.tableName;
  const owner = relation.ownerProp.cols[0];
  const related = relation.relatedProp.cols[0];
  if (target === 'entity_assignments') return assignments(kind, alias);
  const summary = summaryObject(alias, target);
  if (relation.constructor.name === 'BelongsToOneRelation') {
    return `(SELECT ${summary} FROM ${target} ${alias} WHERE ${alias}.${related} = r.${owner} AND ${liveRowOf(alias)})`;
  }
  const list = (from: string, where: string) =>
    `(SELECT coalesce(json_agg(${summary} ORDER BY ${alias}.name, ${alias}.id), '[]') FROM ${from} WHERE ${where} AND ${liveRowOf(alias)})`;
  if (relation.joinTable) {
    const join = relation.joinTable;
    const [own, other] = [relation.joinTableOwnerProp!.cols[0], relation.joinTableRelatedProp!.cols[0]];
    // The link table has no tenant_id: its rows belong to the owner (r, of this tenant) and the target (x, checked).
    return list(`${join} JOIN ${target} ${alias} ON ${alias}.${related} = ${join}.${other}`, `${join}.${own} = r.${owner}`);
  }
  return list(`${target} ${alias}`, `${alias}.${related} = r.${owner}`);
}

/** A record's people (with a summary of each), or a person's own assignments. */
function assignments(kind: EntityKind, alias: string): string {
  const a = alias;
  if (kind.type === 'people') {
    return `(SELECT coalesce(json_agg(json_build_object('id', ${a}.id, 'entity_type', ${a}.entity_type, 'entity_id', ${a}.entity_id,
        'person_id', ${a}.person_id, 'role', ${a}.role) ORDER BY ${a}.role, ${a}.person_id), '[]')
      FROM entity_assignments ${a} WHERE ${a}.person_id = r.id AND ${tenantRowOf(a)} AND ${assignedRecordIsLive(a)})`;
  }
  const p = `${alias}p`;
  return `(SELECT coalesce(json_agg(json_build_object('person_id', ${a}.person_id, 'role', ${a}.role,
        'person', (SELECT ${summaryObject(p, 'people')} FROM people ${p} WHERE ${p}.id = ${a}.person_id AND ${liveRowOf(p)}))
        ORDER BY ${a}.role, ${a}.person_id), '[]')
      FROM entity_assignments ${a} WHERE ${a}.entity_type = '${kind.type}' AND ${a}.entity_id = r.id AND ${tenantRowOf(a)})`;
}

/** The assignment's record is live (not deleted): one EXISTS per kind that carries assignments. */
function assignedRecordIsLive(a: string): string {
  const kinds = Object.values(KINDS).filter((k) => k.assignments);
  const live = kinds.map((k, i) => {
    const t = `${a}t${i}`;
    return `(${a}.entity_type = '${k.type}' AND EXISTS (SELECT 1 FROM ${k.model.tableName} ${t} WHERE ${t}.id = ${a}.entity_id AND ${liveRowOf(t)}))`;
  });
  return `(${live.join(' OR ')})`;
}

const AFFECTED = `incidents inc JOIN incident_affected_entities ae ON ae.incident_id = inc.id`;

/** The newest 100 incidents affecting the record, as summaries. */
function incidents(type: CatalogType): string {
  if (!(AFFECTABLE_TYPES as readonly string[]).includes(type)) return `'[]'::json`;
  return `(SELECT coalesce(json_agg(json_build_object('id', i.id, 'title', i.title, 'severity', i.severity, 'status', i.status,
        'impact_type', i.impact_type, 'created_at', ${iso('i.created_at')}, 'resolved_at', ${iso('i.resolved_at')})
        ORDER BY i.created_at DESC, i.id DESC), '[]')
      FROM (SELECT inc.* FROM ${AFFECTED}
             WHERE ae.entity_type = '${type}' AND ae.entity_id = r.id AND ${liveRowOf('inc')}
             ORDER BY inc.created_at DESC, inc.id DESC LIMIT 100) i)`;
}

/** The scorecards that apply to the kind, with their levels and criteria; and whether an active incident affects the record. */
function scorecards(type: CatalogType): string {
  if (!(SCORABLE_TYPES as readonly string[]).includes(type)) return `'[]'::json AS __scorecards, false AS __active_incident`;
  const criterion = `json_build_object('id', c.id, 'name', c.name, 'description', c.description, 'weight', c.weight,
        'check_type', c.check_type, 'check_config', c.check_config, 'sort_order', c.sort_order)`;
  return `(SELECT coalesce(json_agg(json_build_object('id', sc.id, 'name', sc.name, 'levels', sc.levels, 'criteria',
          (SELECT coalesce(json_agg(${criterion} ORDER BY c.sort_order, c.name, c.id), '[]')
             FROM scorecard_criteria c WHERE c.scorecard_id = sc.id AND ${tenantRowOf('c')}))
        ORDER BY sc.name, sc.id), '[]')
      FROM scorecards sc WHERE sc.entity_types @> '["${type}"]'::jsonb AND ${liveRowOf('sc')}) AS __scorecards,
    EXISTS (SELECT 1 FROM ${AFFECTED}
             WHERE ae.entity_type = '${type}' AND ae.entity_id = r.id AND inc.status <> 'resolved' AND ${liveRowOf('inc')}) AS __active_incident`;
}

/** Teams and people are not affected by incidents nor scored: their view is the record and its relations. */
const hasRecordViews = (type: CatalogType) => type !== 'teams' && type !== 'people';

function buildStatement(kind: EntityKind, withRecordViews: boolean): Statement {
  const names = kind.detailRelations;
  const columns = names.map((name, i) => `${relationColumn(kind, name, `x${i}`)} AS "${name}"`);
  if (withRecordViews) columns.push(`${incidents(kind.type)} AS incidents`, scorecards(kind.type));
  const sql = `SELECT r.*, ${columns.join(',\n  ')}
FROM ${kind.model.tableName} r
WHERE r.id = :id AND ${liveRowOf('r')}`;
  const idLists = kind.relations.filter((rel) => names.includes(rel.graph)).map((rel) => [rel.graph, rel.field] as [string, string]);
  return { sql, idLists, withRecordViews };
}

/** The relation id lists (live targets, by name) and the assignments of the row aliased r, as columns. */
function listColumns(kind: EntityKind): string[] {
  const columns = kind.relations.map((rel, i) => {
    const target = KINDS[rel.target].model.tableName;
    const x = `l${i}`;
    return `(SELECT coalesce(json_agg(${x}.id ORDER BY ${x}.name, ${x}.id), '[]')
      FROM ${rel.joinTable} JOIN ${target} ${x} ON ${x}.id = ${rel.joinTable}.${rel.otherKey}
     WHERE ${rel.joinTable}.${rel.ownKey} = r.id AND ${liveRowOf(x)}) AS "${rel.field}"`;
  });
  if (kind.assignments) {
    columns.push(`(SELECT coalesce(json_agg(json_build_object('person_id', a.person_id, 'role', a.role) ORDER BY a.role, a.person_id), '[]')
      FROM entity_assignments a WHERE a.entity_type = '${kind.type}' AND a.entity_id = r.id AND ${tenantRowOf('a')}) AS assignments`);
  }
  return columns;
}

const pageColumns = new Map<CatalogType, string>();

/** The relation id lists and assignments of each row of a list page, as columns of the page's statement. */
export function listPageColumns(type: CatalogType): string | undefined {
  const kind = KINDS[type];
  if (kind.relations.length === 0 && !kind.assignments) return undefined;
  let sql = pageColumns.get(type);
  if (!sql) pageColumns.set(type, (sql = listColumns(kind).join(',\n  ')));
  return sql;
}

const listStatements = new Map<string, string>();

function listStatement(type: CatalogType, form: 'rows' | 'lock' | 'lock-any'): string {
  const key = `${type}:${form}`;
  let sql = listStatements.get(key);
  if (!sql) {
    const kind = KINDS[type];
    const columns = listColumns(kind);
    const table = kind.model.tableName;
    sql =
      form === 'rows'
        ? `SELECT r.id${columns.map((c) => `, ${c}`).join('')} FROM ${table} r WHERE r.id = ANY(CAST(:ids AS uuid[])) AND ${tenantRowOf('r')}`
        : `SELECT r.*${columns.map((c) => `, ${c}`).join('')} FROM ${table} r
          WHERE r.id = :id AND ${form === 'lock' ? liveRowOf('r') : tenantRowOf('r')} FOR UPDATE OF r`;
    listStatements.set(key, sql);
  }
  return sql;
}

/** The relation id lists and assignments of these records, by id: one statement for any number. */
export async function listsOf(ctx: ServiceContext, type: CatalogType, ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const lists = new Map<string, Record<string, unknown>>();
  if (ids.length === 0 || (KINDS[type].relations.length === 0 && !KINDS[type].assignments)) {
    for (const id of ids) lists.set(id, {});
    return lists;
  }
  const { rows } = (await scopedRaw(ctx, listStatement(type, 'rows'), { ids })) as { rows: Record<string, unknown>[] };
  for (const { id, ...rest } of rows) lists.set(String(id), rest);
  return lists;
}

/**
 * The record locked for a write, with its relation id lists and assignments, in one statement;
 * null when there is no such (live, unless `includeDeleted`) record in the tenant.
 */
export async function lockWithLists(ctx: ServiceContext, type: CatalogType, id: string, includeDeleted = false): Promise<Record<string, unknown> | null> {
  const { rows } = (await scopedRaw(ctx, listStatement(type, includeDeleted ? 'lock-any' : 'lock'), { id })) as { rows: Record<string, unknown>[] };
  return rows[0] ?? null;
}

const statements = new Map<string, Statement>();

/** The statement of a kind's detail view, built once (tests read it). */
export function detailStatement(type: CatalogType, withRecordViews = true): Statement {
  const key = `${type}:${withRecordViews}`;
  let statement = statements.get(key);
  if (!statement) statements.set(key, (statement = buildStatement(KINDS[type], withRecordViews && hasRecordViews(type))));
  return statement;
}

/**
 * GET /<kind>/:id: one statement. `withRecordViews` adds what only the catalog's own detail route
 * shows (incidents and scorecard results, on the kinds that have them).
 */
export async function readDetail(ctx: ServiceContext, type: CatalogType, id: string, withRecordViews = true): Promise<EntityData> {
  const kind = KINDS[type];
  if (!uuid.safeParse(id).success) throw NotFound(`No ${kind.label} with id ${id}.`);
  const statement = detailStatement(type, withRecordViews);
  const { rows } = (await scopedRaw(ctx, statement.sql, { id }, { isoTimestamps: true })) as { rows: Record<string, unknown>[] };
  const row = rows[0];
  if (!row) throw NotFound(`No ${kind.label} with id ${id}.`);
  const data = present<Record<string, unknown>>(row);
  for (const [graph, field] of statement.idLists) data[field] = (data[graph] as { id: string }[]).map((x) => x.id);
  if (!statement.withRecordViews) return data as EntityData;
  const active = row.__active_incident === true;
  data.scorecards = scoreOn(row.__scorecards as ScorableCard[], data, { activeIncidentEntityIds: new Set(active ? [id] : []) });
  return data as EntityData;
}
