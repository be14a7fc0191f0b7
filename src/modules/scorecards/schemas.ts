// Request schemas of scorecards. A criterion's check_config is validated per check_type (a
// discriminated union), so a typo in a config key is a 422 at the key's own path, never stored.
import { z } from 'zod';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import { authorColumns, name255, named, optionalText, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { ASSIGNABLE_TYPES } from '../catalog/kinds.js';

/** The catalog kinds a scorecard can score: the ones that carry assignments. */
export const SCORABLE_TYPES = ASSIGNABLE_TYPES;
export type ScorableType = (typeof SCORABLE_TYPES)[number];

export const CHECK_TYPES = [
  'has_field',
  'has_items',
  'field_equals',
  'has_assignment',
  'min_assignments',
  'no_active_incidents',
  'has_tag',
  'has_attribute',
] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

/**
 * A field as the API names it (snake_case). The data model's own examples write fields in
 * camelCase (`{"field": "teamId"}`), so that spelling is taken too and stored as `team_id`.
 */
const fieldName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .transform((f) => f.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase())
  .describe('A field in snake_case (team_id, attributes.endpoint); camelCase (teamId) is taken as the same field');
const role = z.string().trim().min(1).max(50);
const scalar = z.union([z.string().max(2048), z.number(), z.boolean(), z.null()]);

const criterionBase = {
  name: name255,
  description: optionalText,
  weight: z.number().int().min(1).max(3).default(1),
  sort_order: z.number().int().min(-1_000_000).max(1_000_000).optional(),
};

function variant<T extends CheckType, C extends z.ZodType>(checkType: T, config: C) {
  return z.strictObject({ ...criterionBase, check_type: z.literal(checkType), check_config: config });
}

export const criterionInput = z.discriminatedUnion('check_type', [
  // A scalar column or `attributes.<key>` is set (not null, not blank).
  variant('has_field', z.strictObject({ field: fieldName })),
  // A relation list (component_ids, repository_ids, …), tags or assignments is non-empty.
  variant('has_items', z.strictObject({ field: fieldName })),
  variant('field_equals', z.strictObject({ field: fieldName, value: scalar })),
  // `value` is the data model's spelling of the role (`{"value": "Lead"}`), stored as `role`.
  variant(
    'has_assignment',
    z
      .strictObject({ role: role.optional(), value: role.optional().describe('The same as role') })
      .refine((c) => !(c.role && c.value && c.role !== c.value), { message: 'role and value name different roles', path: ['value'] })
      .transform(({ role, value }): { role?: string } => ((role ?? value) ? { role: role ?? value } : {}))
      .default({}),
  ),
  variant('min_assignments', z.strictObject({ min: z.number().int().min(1).max(1000), role: role.optional() })),
  variant('no_active_incidents', z.strictObject({}).default({})),
  variant('has_tag', z.strictObject({ tag: z.string().trim().min(1).max(100) })),
  variant('has_attribute', z.strictObject({ key: z.string().trim().min(1).max(64) })),
]);
export type CriterionInput = z.infer<typeof criterionInput>;

const entityTypes = z
  .array(z.enum(SCORABLE_TYPES))
  .min(1)
  .max(SCORABLE_TYPES.length)
  .refine((types) => new Set(types).size === types.length, { message: 'entity types must be unique' });

const criteriaList = z.array(named('CriterionInput', criterionInput)).max(100);

/** The most levels a scorecard may have. */
export const MAX_LEVELS = 10;

export const Level = named(
  'ScorecardLevel',
  z
    .strictObject({
      name: z.string().trim().min(1).max(50),
      min_score: z.number().int().min(0).max(100).describe('The lowest score (inclusive) at this level'),
    })
    .describe('A named level of a scorecard: an entity is at the highest level whose min_score its score reaches'),
);

/** Levels: unique names, min_score strictly ascending, at most MAX_LEVELS. */
const levelList = z
  .array(Level)
  .max(MAX_LEVELS)
  .superRefine((levels, issue) => {
    const names = new Set<string>();
    levels.forEach((level, i) => {
      const key = level.name.toLowerCase();
      if (names.has(key)) issue.addIssue({ code: 'custom', message: 'level names must be unique', path: [i, 'name'] });
      names.add(key);
      if (i > 0 && level.min_score <= levels[i - 1].min_score) {
        issue.addIssue({ code: 'custom', message: 'min_score must be greater than the previous level', path: [i, 'min_score'] });
      }
    });
  })
  .describe(`Named thresholds in ascending min_score, names unique (case-insensitive), at most ${MAX_LEVELS}`);
export type LevelData = z.infer<typeof Level>;

export const scorecardCreate = z.strictObject({
  name: name255,
  description: optionalText,
  entity_types: entityTypes,
  criteria: criteriaList.default([]),
  levels: levelList.default([]),
});
export type ScorecardCreate = z.infer<typeof scorecardCreate>;

/** PATCH: every field optional; `criteria`, when given, replaces the whole list. */
export const scorecardUpdate = z.strictObject({
  name: name255.optional(),
  description: optionalText,
  entity_types: entityTypes.optional(),
  criteria: criteriaList.optional(),
  levels: levelList.optional(),
});
export type ScorecardUpdate = z.infer<typeof scorecardUpdate>;

/**
 * Like parseInput, but an unknown key is reported at its own path
 * (`criteria.0.check_config.feild`), one issue per key, so clients can point at it.
 */
export function parseScorecardInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues: FieldIssue[] = [];
  for (const issue of parsed.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: [...path, key].join('.'), message: 'unknown key' });
    } else {
      issues.push({ path: path.join('.') || '(root)', message: issue.message });
    }
  }
  throw UnprocessableEntity('The request did not pass validation.', issues);
}

// Response shapes: a stored criterion, a scorecard, and an entity's score.
export const Criterion = named(
  'Criterion',
  z
    .object({
      id: recordId,
      name: z.string(),
      description: z.string().nullable(),
      weight: z.number().int().min(1).max(3),
      check_type: z.enum(CHECK_TYPES),
      check_config: z.record(z.string(), z.unknown()).describe('The settings of the check type (field, value, role, min, tag or key)'),
      sort_order: z.number().int(),
    })
    .describe('A criterion of a scorecard'),
);

export const Scorecard = named(
  'Scorecard',
  z
    .object({
      ...versionedColumns,
      ...authorColumns,
      name: z.string(),
      description: z.string().nullable(),
      entity_types: z.array(z.enum(SCORABLE_TYPES)),
      criteria: z.array(Criterion).describe('In sort_order'),
      levels: z.array(Level).describe('In ascending min_score; empty when the scorecard has no levels'),
    })
    .describe('A scorecard and its criteria; scores are computed on read, never stored'),
);

export const ScorecardResult = named(
  'ScorecardResult',
  z
    .object({
      entity_type: z.enum(SCORABLE_TYPES),
      entity_id: recordId,
      name: z.string(),
      score: z.number().int().min(0).max(100).describe('Weighted share of criteria passed, in percent (100 with no criteria)'),
      level: z.string().nullable().describe('The highest level whose min_score the score reaches; null below the lowest (or with no levels)'),
      passed: z.array(Criterion),
      failed: z.array(Criterion),
    })
    .describe('How one entity scores on the scorecard'),
);

export const scorecardResultsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(200).describe('Results per page'),
  cursor: z.string().max(2000).optional().describe('`meta.next_cursor` of the previous page of the same scorecard'),
});

export const ScorecardResultsMeta = named(
  'ScorecardResultsMeta',
  z
    .object({
      limit: z.number().int().describe('The page size used'),
      next_cursor: z.string().nullable().describe('Opaque; pass it as `cursor` for the next page. Null on the last page.'),
      has_more: z.boolean().describe('There may be more results after this page (follow next_cursor)'),
    })
    .describe('Keyset pagination over entity types in the scorecard order, then names'),
);
