// The catalog's entity kinds, each described once: its columns (as zod schemas), the relation
// lists it owns and how it is listed; who may write it is the access policy's rule.
// The generic EntityService and route factory serve every kind from these descriptions.
import { z } from 'zod';
import type { FieldIssue } from '../../platform/errors.js';
import {
  ENTITY_STATUS,
  OPERATIONAL_STATUS,
  email,
  entityStatus,
  httpUrl,
  name255,
  operationalStatus,
  optionalText,
  tagList,
  uuid,
  uuidList,
} from '../../platform/schema-kit.js';
import {
  COMPONENT_ATTRIBUTE_KEYS,
  COMPONENT_TYPES,
  RESOURCE_ATTRIBUTE_KEYS,
  RESOURCE_TYPES,
  SERVICE_ATTRIBUTE_KEYS,
  SERVICE_TYPES,
  attributesSchemaFor,
  checkAttributeKeys,
} from './attributes.js';
import type { Listable } from '../../platform/listing.js';
import { type CatalogModel, Component, Person, Product, Repository, Resource, Service, Team } from './model.js';

/** A catalog record as REST returns it. */
export type EntityData = Record<string, unknown> & { id: string; row_version: number };

export const CATALOG_TYPES = ['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories'] as const;
export type CatalogType = (typeof CATALOG_TYPES)[number];
/** Kinds that carry entity_assignments: people assigned with a role. */
export const ASSIGNABLE_TYPES = ['products', 'services', 'components', 'resources', 'repositories'] as const;

export const ENVIRONMENTS = ['production', 'staging', 'development', 'dr'] as const;
export const REPOSITORY_PROVIDERS = ['github', 'gitlab', 'azure_devops', 'bitbucket'] as const;

/** A many-to-many list the kind owns, written as `<field>: [ids]` on create and update. */
export interface RelationList {
  field: string;
  joinTable: string;
  ownKey: string;
  otherKey: string;
  target: CatalogType;
  /** The model relation (in the detail graph) holding the same records, when there is one. */
  graph: string;
  /** The edge's name in the relation graph, read `<record> <relation> <target>` (`depends_on`, `runs_on`). */
  relation: string;
}

/** A single reference column (team_id) that must point into the same tenant. */
export interface Reference {
  field: string;
  target: CatalogType;
}

export interface EntityKind extends Listable {
  type: CatalogType;
  label: string;
  model: typeof CatalogModel;
  titleColumn: 'name';
  fields: z.ZodRawShape;
  create: z.ZodObject;
  update: z.ZodObject;
  relations: RelationList[];
  references: Reference[];
  assignments: boolean;
  /** Checks on the merged row (after defaults and the patch), e.g. attribute keys for the type. */
  validateRow?: (row: Record<string, unknown>) => FieldIssue[];
  /** The model relations the detail view shows as summaries (in name order; assignments by role). */
  detailRelations: string[];
}

export const assignmentInput = z.strictObject({
  person_id: uuid,
  role: z.string().trim().min(1).max(50),
});

const teamRef: Reference = { field: 'team_id', target: 'teams' };
const teamId = uuid.nullable().optional();
const relationIds = uuidList.optional();
const assignments = z.array(assignmentInput).max(200).optional();

interface KindSpec extends Omit<EntityKind, 'create' | 'update' | 'titleColumn' | 'fields' | 'hasTeam'> {
  /** Fields required on create; all others optional. */
  required: z.ZodRawShape;
  optional: z.ZodRawShape;
}

function defineKind(spec: KindSpec): EntityKind {
  const extra: Record<string, z.ZodType> = {};
  for (const r of spec.relations) extra[r.field] = relationIds;
  if (spec.assignments) extra.assignments = assignments;
  const fields = { ...spec.required, ...spec.optional };
  const optionalShape = Object.fromEntries(Object.entries(spec.optional).map(([k, v]) => [k, (v as z.ZodType).optional()]));
  const requiredAsOptional = Object.fromEntries(Object.entries(spec.required).map(([k, v]) => [k, (v as z.ZodType).optional()]));
  const { required: _r, optional: _o, ...rest } = spec;
  return {
    ...rest,
    titleColumn: 'name',
    hasTeam: spec.references.some((r) => r.field === 'team_id'),
    fields,
    create: z.strictObject({ ...spec.required, ...optionalShape, ...extra }),
    update: z.strictObject({ ...requiredAsOptional, ...optionalShape, ...extra }),
  };
}

const attributeCheck = (keys: Record<string, readonly string[]>) => (row: Record<string, unknown>) =>
  checkAttributeKeys(keys, String(row.type), row.attributes as Record<string, unknown> | null);

const nameAndDescription = `(name || ' ' || coalesce(description, ''))`;

export const KINDS: Record<CatalogType, EntityKind> = {
  teams: defineKind({
    type: 'teams',
    label: 'team',
    model: Team,
    required: { name: name255 },
    optional: { description: optionalText, slack_channel: z.string().max(100).nullable(), contact_email: email.nullable() },
    relations: [],
    references: [],
    assignments: false,
    enumFilters: {},
    searchExpr: nameAndDescription,
    hasTags: false,
    detailRelations: ['people', 'products', 'services', 'components', 'resources', 'repositories'],
  }),
  people: defineKind({
    type: 'people',
    label: 'person',
    model: Person,
    required: { name: name255, email },
    optional: { team_id: teamId, role_title: z.string().max(100).nullable(), slack_handle: z.string().max(100).nullable() },
    relations: [],
    references: [teamRef],
    assignments: false,
    enumFilters: {},
    searchExpr: `(name || ' ' || email)`,
    hasTags: false,
    detailRelations: ['team', 'assignments'],
  }),
  products: defineKind({
    type: 'products',
    label: 'product',
    model: Product,
    required: { name: name255 },
    optional: {
      description: optionalText,
      team_id: teamId,
      status: entityStatus,
      version: z.string().max(50).nullable(),
      tags: tagList,
    },
    relations: [
      {
        field: 'service_ids',
        joinTable: 'product_services',
        ownKey: 'product_id',
        otherKey: 'service_id',
        target: 'services',
        graph: 'services',
        relation: 'contains',
      },
    ],
    references: [teamRef],
    assignments: true,
    enumFilters: { status: ENTITY_STATUS },
    searchExpr: nameAndDescription,
    hasTags: true,
    detailRelations: ['team', 'services', 'assignments'],
  }),
  services: defineKind({
    type: 'services',
    label: 'service',
    model: Service,
    required: { name: name255, type: z.enum(SERVICE_TYPES) },
    optional: {
      description: optionalText,
      team_id: teamId,
      status: entityStatus,
      operational_status: operationalStatus,
      attributes: attributesSchemaFor(SERVICE_ATTRIBUTE_KEYS),
      tags: tagList,
    },
    relations: [
      {
        field: 'component_ids',
        joinTable: 'service_components',
        ownKey: 'service_id',
        otherKey: 'component_id',
        target: 'components',
        graph: 'components',
        relation: 'uses',
      },
      {
        field: 'resource_ids',
        joinTable: 'service_resources',
        ownKey: 'service_id',
        otherKey: 'resource_id',
        target: 'resources',
        graph: 'resources',
        relation: 'runs_on',
      },
      {
        field: 'depends_on_service_ids',
        joinTable: 'service_dependencies',
        ownKey: 'service_id',
        otherKey: 'depends_on_service_id',
        target: 'services',
        graph: 'depends_on',
        relation: 'depends_on',
      },
      {
        field: 'repository_ids',
        joinTable: 'service_repositories',
        ownKey: 'service_id',
        otherKey: 'repository_id',
        target: 'repositories',
        graph: 'repositories',
        relation: 'built_from',
      },
    ],
    references: [teamRef],
    assignments: true,
    validateRow: attributeCheck(SERVICE_ATTRIBUTE_KEYS),
    enumFilters: { status: ENTITY_STATUS, type: SERVICE_TYPES, operational_status: OPERATIONAL_STATUS },
    searchExpr: nameAndDescription,
    hasTags: true,
    detailRelations: ['team', 'components', 'resources', 'depends_on', 'dependents', 'repositories', 'products', 'assignments'],
  }),
  components: defineKind({
    type: 'components',
    label: 'component',
    model: Component,
    required: { name: name255, type: z.enum(COMPONENT_TYPES) },
    optional: {
      description: optionalText,
      team_id: teamId,
      status: entityStatus,
      operational_status: operationalStatus,
      attributes: attributesSchemaFor(COMPONENT_ATTRIBUTE_KEYS),
      tags: tagList,
    },
    relations: [
      {
        field: 'depends_on_component_ids',
        joinTable: 'component_dependencies',
        ownKey: 'component_id',
        otherKey: 'depends_on_component_id',
        target: 'components',
        graph: 'depends_on',
        relation: 'depends_on',
      },
      {
        field: 'depends_on_service_ids',
        joinTable: 'component_service_dependencies',
        ownKey: 'component_id',
        otherKey: 'depends_on_service_id',
        target: 'services',
        graph: 'depends_on_services',
        relation: 'depends_on',
      },
      {
        field: 'repository_ids',
        joinTable: 'component_repositories',
        ownKey: 'component_id',
        otherKey: 'repository_id',
        target: 'repositories',
        graph: 'repositories',
        relation: 'built_from',
      },
    ],
    references: [teamRef],
    assignments: true,
    validateRow: attributeCheck(COMPONENT_ATTRIBUTE_KEYS),
    enumFilters: { status: ENTITY_STATUS, type: COMPONENT_TYPES, operational_status: OPERATIONAL_STATUS },
    searchExpr: nameAndDescription,
    hasTags: true,
    detailRelations: ['team', 'services', 'depends_on', 'dependents', 'depends_on_services', 'repositories', 'assignments'],
  }),
  resources: defineKind({
    type: 'resources',
    label: 'resource',
    model: Resource,
    required: { name: name255, type: z.enum(RESOURCE_TYPES) },
    optional: {
      description: optionalText,
      team_id: teamId,
      operational_status: operationalStatus,
      environment: z.enum(ENVIRONMENTS),
      attributes: attributesSchemaFor(RESOURCE_ATTRIBUTE_KEYS),
      tags: tagList,
    },
    relations: [],
    references: [teamRef],
    assignments: true,
    validateRow: attributeCheck(RESOURCE_ATTRIBUTE_KEYS),
    enumFilters: { type: RESOURCE_TYPES, operational_status: OPERATIONAL_STATUS, environment: ENVIRONMENTS },
    searchExpr: nameAndDescription,
    hasTags: true,
    detailRelations: ['team', 'services', 'assignments'],
  }),
  repositories: defineKind({
    type: 'repositories',
    label: 'repository',
    model: Repository,
    required: { name: name255, provider: z.enum(REPOSITORY_PROVIDERS) },
    optional: {
      url: httpUrl.nullable(),
      description: optionalText,
      default_branch: z.string().min(1).max(100),
      language: z.string().max(50).nullable(),
      team_id: teamId,
      tags: tagList,
    },
    relations: [],
    references: [teamRef],
    assignments: true,
    enumFilters: { provider: REPOSITORY_PROVIDERS },
    searchExpr: nameAndDescription,
    hasTags: true,
    detailRelations: ['team', 'services', 'components', 'assignments'],
  }),
};

export function isCatalogType(t: string): t is CatalogType {
  return (CATALOG_TYPES as readonly string[]).includes(t);
}
