// What a criterion may refer to on each scorable kind, and the pure evaluation of criteria
// against an entity as REST returns it (columns, relation id lists, `assignments`).
import type { FieldIssue } from '../../platform/errors.js';
import { COMPONENT_ATTRIBUTE_KEYS, RESOURCE_ATTRIBUTE_KEYS, SERVICE_ATTRIBUTE_KEYS } from '../catalog/attributes.js';
import { KINDS } from '../catalog/kinds.js';
import type { ScorableType } from './schemas.js';

/** The stored shape of a criterion, as far as evaluation needs it. */
export interface CriterionLike {
  name: string;
  weight: number;
  check_type: string;
  check_config: Record<string, unknown>;
}

export interface EvaluationFacts {
  /** Ids of entities affected by an unresolved, non-deleted incident. */
  activeIncidentEntityIds: ReadonlySet<string>;
}

export interface Evaluation<C> {
  score: number;
  passed: C[];
  failed: C[];
}

export type EntityShape = Record<string, unknown>;

// ---- what criteria may refer to ------------------------------------------------------------

const ATTRIBUTE_KEYS: Partial<Record<ScorableType, readonly string[]>> = {
  services: [...new Set(Object.values(SERVICE_ATTRIBUTE_KEYS).flat())],
  components: [...new Set(Object.values(COMPONENT_ATTRIBUTE_KEYS).flat())],
  resources: [...new Set(Object.values(RESOURCE_ATTRIBUTE_KEYS).flat())],
};
const ATTRIBUTE_PREFIX = 'attributes.';
const NOT_SCALAR = new Set(['tags', 'attributes']);

/** Columns holding one value (name, team_id, status, url, …). */
export function scalarFields(type: ScorableType): string[] {
  return Object.keys(KINDS[type].fields).filter((f) => !NOT_SCALAR.has(f));
}

/** Lists the REST shape carries: relation id lists, tags and assignments. */
export function listFields(type: ScorableType): string[] {
  const kind = KINDS[type];
  return [...kind.relations.map((r) => r.field), ...('tags' in kind.fields ? ['tags'] : []), ...(kind.assignments ? ['assignments'] : [])];
}

export function attributeKeys(type: ScorableType): readonly string[] | null {
  return ATTRIBUTE_KEYS[type] ?? null;
}

function scalarFieldIssue(field: string, type: ScorableType): string | null {
  if (field.startsWith(ATTRIBUTE_PREFIX)) return attributeKeyIssue(field.slice(ATTRIBUTE_PREFIX.length), type);
  const fields = scalarFields(type);
  return fields.includes(field) ? null : `'${field}' is not a field of ${type} (one of: ${fields.join(', ')}, attributes.<key>)`;
}

function attributeKeyIssue(key: string, type: ScorableType): string | null {
  const keys = attributeKeys(type);
  if (!keys) return `${type} have no attributes`;
  return keys.includes(key) ? null : `'${key}' is not an attribute of ${type} (one of: ${keys.join(', ')})`;
}

function listFieldIssue(field: string, type: ScorableType): string | null {
  const fields = listFields(type);
  return fields.includes(field) ? null : `'${field}' is not a list of ${type} (one of: ${fields.join(', ')})`;
}

function enumValueIssue(field: string, value: unknown, type: ScorableType): string | null {
  const values = KINDS[type].enumFilters[field];
  if (!values || value === null) return null;
  return values.includes(value as string) ? null : `${type}.${field} is one of: ${values.join(', ')}`;
}

/**
 * Criteria must make sense for every entity type of their scorecard: a field one of the types
 * lacks would fail there forever, which is a mistake in the scorecard, not a finding (422).
 */
export function criteriaIssues(criteria: readonly CriterionLike[], entityTypes: readonly ScorableType[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Map<string, number>();
  criteria.forEach((c, i) => {
    const at = (key: string) => `criteria.${i}.${key}`;
    const nameKey = c.name.trim().toLowerCase();
    if (seen.has(nameKey)) issues.push({ path: at('name'), message: `duplicates the name of criterion ${seen.get(nameKey)}` });
    else seen.set(nameKey, i);
    const config = c.check_config;
    const each = (path: string, check: (type: ScorableType) => string | null) => {
      for (const type of entityTypes) {
        const message = check(type);
        if (message) {
          issues.push({ path: at(`check_config.${path}`), message });
          return; // one issue per path is enough to act on
        }
      }
    };
    switch (c.check_type) {
      case 'has_field':
        each('field', (t) => scalarFieldIssue(String(config.field), t));
        break;
      case 'field_equals':
        each('field', (t) => scalarFieldIssue(String(config.field), t));
        each('value', (t) => enumValueIssue(String(config.field), config.value, t));
        break;
      case 'has_items':
        each('field', (t) => listFieldIssue(String(config.field), t));
        break;
      case 'has_attribute':
        each('key', (t) => attributeKeyIssue(String(config.key), t));
        break;
    }
  });
  return issues;
}

// ---- evaluation ----------------------------------------------------------------------------

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false; // numbers and booleans (0, false) are values
}

function fieldValue(entity: EntityShape, field: string): unknown {
  if (field.startsWith(ATTRIBUTE_PREFIX)) {
    const attributes = entity.attributes as Record<string, unknown> | null | undefined;
    return attributes?.[field.slice(ATTRIBUTE_PREFIX.length)];
  }
  return entity[field];
}

interface AssignmentLike {
  person_id: string;
  role: string;
}

/** Distinct people assigned, of the role when given (roles compare case-insensitively). */
function assignedPeople(entity: EntityShape, role: unknown): number {
  const list = (entity.assignments as AssignmentLike[] | undefined) ?? [];
  const wanted = typeof role === 'string' ? role.trim().toLowerCase() : null;
  const people = new Set(list.filter((a) => wanted === null || String(a.role).trim().toLowerCase() === wanted).map((a) => a.person_id));
  return people.size;
}

export function passes(criterion: CriterionLike, entity: EntityShape, facts: EvaluationFacts): boolean {
  const config = criterion.check_config ?? {};
  switch (criterion.check_type) {
    case 'has_field':
    case 'has_items':
      return !isEmpty(fieldValue(entity, String(config.field)));
    case 'field_equals':
      return (fieldValue(entity, String(config.field)) ?? null) === (config.value ?? null);
    case 'has_assignment':
      return assignedPeople(entity, config.role) >= 1;
    case 'min_assignments':
      return assignedPeople(entity, config.role) >= Number(config.min);
    case 'no_active_incidents':
      return !facts.activeIncidentEntityIds.has(String(entity.id));
    case 'has_tag':
      return ((entity.tags as unknown[] | undefined) ?? []).includes(config.tag);
    case 'has_attribute':
      return !isEmpty(fieldValue(entity, `${ATTRIBUTE_PREFIX}${String(config.key)}`));
    default:
      return false; // a check this build does not know cannot be claimed as passed
  }
}

/** score = round(100 × passed weight / total weight); 100 when there is nothing to check. */
export function evaluate<C extends CriterionLike>(criteria: readonly C[], entity: EntityShape, facts: EvaluationFacts): Evaluation<C> {
  const passed: C[] = [];
  const failed: C[] = [];
  let total = 0;
  let earned = 0;
  for (const c of criteria) {
    total += c.weight;
    if (passes(c, entity, facts)) {
      earned += c.weight;
      passed.push(c);
    } else {
      failed.push(c);
    }
  }
  return { score: total === 0 ? 100 : Math.round((100 * earned) / total), passed, failed };
}

/** A scorecard as scoring needs it: its id, name, levels and criteria. */
export interface ScorableCard<C extends CriterionLike = CriterionLike> {
  id: string;
  name: string;
  levels?: readonly { name: string; min_score: number }[];
  criteria: C[];
}

/** One entity's result on each scorecard, in the scorecards' order (detail views), with the level its score reaches. */
export function scoreOn<C extends CriterionLike>(cards: readonly ScorableCard<C>[], entity: EntityShape, facts: EvaluationFacts) {
  return cards.map((card) => {
    const evaluation = evaluate(card.criteria, entity, facts);
    return { scorecard_id: card.id, scorecard_name: card.name, ...evaluation, level: levelOf(card.levels ?? [], evaluation.score) };
  });
}

/** The highest level whose min_score the score reaches (levels in ascending min_score); null below the lowest. */
export function levelOf(levels: readonly { name: string; min_score: number }[], score: number): string | null {
  let level: string | null = null;
  for (const l of levels) if (score >= l.min_score) level = l.name;
  return level;
}
