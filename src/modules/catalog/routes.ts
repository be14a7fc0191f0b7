// The catalog collections (teams, people, products, services, components, resources,
// repositories): one route factory serves all seven from their kind descriptions.
import { z } from 'zod';
import { FacetCounts, facetQuerySchema, hasFacets, parseFacetQuery } from '../../platform/facets.js';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import type { DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendData } from '../../platform/http/respond.js';
import { authorColumns, isoTimestamp, named, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { HistoryEntry, historyQuery, recordHistory } from '../audit/history.js';
import { Criterion } from '../scorecards/schemas.js';
import { grantRoutes } from '../permissions/routes.js';
import { readDetail } from './detail.js';
import { graphQuery, readGraph } from './graph.js';
import { readImpact } from './impact.js';
import { CATALOG_TYPES, KINDS, type EntityKind } from './kinds.js';
import { IMPACT_TYPES } from './relations.js';
import type { PermissionService } from '../permissions/service.js';
import type { CatalogType } from './kinds.js';
import type { EntityService } from './service.js';

const timestamp = isoTimestamp;
const id = recordId;
const ID = '3f6c0b1e-8a4f-4d9e-9a37-2b1d5c7e9f01';
const TEAM_ID = '8b1e6a52-3c4d-4e7f-9a0b-1c2d3e4f5a6b';
const recordColumns = { ...versionedColumns, ...authorColumns };

/** A field as it is returned: defaults applied, so always present (nullable where the column is). */
function returned(field: z.ZodType): z.ZodType {
  let inner = field;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** The read shape of a kind: its fields, the relation lists it owns and the bookkeeping columns. */
function readSchema(kind: EntityKind) {
  const shape = Object.fromEntries(Object.entries(kind.create.shape).map(([k, v]) => [k, returned(v as z.ZodType)]));
  return named(pascalOf(kind.label), z.object({ ...shape, ...recordColumns }).describe(`A ${kind.label} as lists and writes return it`));
}

const pascalOf = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);

const RecordSummary = named(
  'RecordSummary',
  z
    .object({
      id,
      name: z.string(),
      type: z.string().optional(),
      status: z.string().optional(),
      operational_status: z.string().optional(),
      environment: z.string().optional(),
      provider: z.string().optional(),
      email: z.string().optional(),
    })
    .describe('A related catalog record as another record shows it (the fields its table has)'),
);

const AssignmentView = named(
  'Assignment',
  z
    .object({
      person_id: id,
      role: z.string(),
      person: RecordSummary.nullable(),
    })
    .describe('A person assigned to the record, with a role'),
);

const PersonAssignment = named(
  'PersonAssignment',
  z
    .object({
      id,
      entity_type: z.enum(CATALOG_TYPES),
      entity_id: id,
      person_id: id,
      role: z.string(),
    })
    .describe('A record the person is assigned to'),
);

const IncidentSummary = named(
  'IncidentSummary',
  z
    .object({
      id,
      title: z.string(),
      severity: z.string(),
      status: z.string(),
      impact_type: z.string(),
      created_at: timestamp,
      resolved_at: timestamp.nullable(),
    })
    .describe('An incident that affects the record'),
);

const RecordScore = named(
  'RecordScore',
  z
    .object({
      scorecard_id: id,
      scorecard_name: z.string(),
      score: z.number().int().min(0).max(100),
      level: z.string().nullable().describe("The highest of the scorecard's levels the score reaches; null below the lowest or without levels"),
      passed: z.array(Criterion),
      failed: z.array(Criterion),
    })
    .describe('How the record scores on a scorecard that applies to its kind, computed on read'),
);

/** GET /<kind>/:id: the record, its related records as summaries, and (but teams and people) incidents and scores. */
function detailSchema(kind: EntityKind, read: z.ZodObject) {
  const relations: Record<string, z.ZodType> = {};
  for (const name of kind.detailRelations) {
    if (name === 'team') relations.team = RecordSummary.nullable();
    else if (name === 'assignments') relations.assignments = z.array(kind.type === 'people' ? PersonAssignment : AssignmentView);
    else relations[name] = z.array(RecordSummary);
  }
  const views =
    kind.type === 'teams' || kind.type === 'people'
      ? {}
      : {
          incidents: z.array(IncidentSummary).describe('The newest 100 incidents affecting it'),
          scorecards: z.array(RecordScore),
        };
  return named(`${pascalOf(kind.label)}Detail`, read.extend({ ...relations, ...views }).describe(`A ${kind.label} with its relations`));
}

const Impacted = named(
  'ImpactedRecord',
  z.object({
    entity_type: z.enum(CATALOG_TYPES),
    entity_id: id,
    depth: z.number().int().min(1).describe('Hops from the record'),
    name: z.string(),
  }),
);

/** GET /<kind>/:id/impact: the record under its kind's singular (`service`), as the services' impact always named it. */
function impactSchema(kind: EntityKind) {
  return named(
    `${pascalOf(kind.label)}Impact`,
    z.object({
      [kind.label]: z.object({ id, name: z.string() }),
      dependents: z.array(Impacted).describe(`What depends on the ${kind.label}, transitively (nearest first)`),
      dependencies: z.array(Impacted).describe(`What the ${kind.label} depends on, transitively (nearest first)`),
      truncated: z.boolean().describe('A list held more records than the node limit (1,000 by default) and was cut to the nearest'),
    }),
  );
}

const RecordGraph = named(
  'RecordGraph',
  z
    .object({
      nodes: z
        .array(z.object({ type: z.enum(CATALOG_TYPES), id, name: z.string(), depth: z.number().int().min(0).describe('Hops from the record (0: itself)') }))
        .describe('The record and the records reached, nearest first'),
      edges: z
        .array(
          z.object({
            from: id,
            to: id,
            relation: z.string().describe('`depends_on`, `contains`, `uses`, `runs_on`, `built_from`, `owned_by`, `member_of` or `assigned_to`'),
          }),
        )
        .describe('Every relation between two of the nodes, read `from <relation> to`'),
      truncated: z.boolean().describe('More records were reached than the node limit (1,000 by default): the nearest are kept'),
    })
    .describe("A record's relation graph"),
);

/** Example bodies: a create with the required fields and some others, and a small PATCH. */
const EXAMPLES: Record<CatalogType, { create: Record<string, unknown>; update: Record<string, unknown> }> = {
  teams: {
    create: { name: 'Payments', description: 'Owns checkout and billing', slack_channel: '#payments' },
    update: { contact_email: 'payments@example.com' },
  },
  people: { create: { name: 'Ada Lovelace', email: 'ada@example.com', team_id: TEAM_ID, role_title: 'Staff engineer' }, update: { slack_handle: '@ada' } },
  products: { create: { name: 'Checkout', team_id: TEAM_ID, status: 'active', tags: ['revenue'] }, update: { version: '2.1' } },
  services: {
    create: {
      name: 'payments-api',
      type: 'api',
      team_id: TEAM_ID,
      tags: ['pci'],
      attributes: { endpoint: 'https://payments.example.com', protocol: 'https' },
      depends_on_service_ids: [ID],
      assignments: [{ person_id: ID, role: 'owner' }],
    },
    update: { status: 'deprecated', operational_status: 'degraded' },
  },
  components: { create: { name: 'money-lib', type: 'library', team_id: TEAM_ID }, update: { tags: ['shared'] } },
  resources: {
    create: { name: 'payments-db', type: 'virtual_machine', environment: 'production', attributes: { region: 'eu-west-1' } },
    update: { operational_status: 'outage' },
  },
  repositories: {
    create: { name: 'payments', provider: 'github', url: 'https://github.com/example/payments', default_branch: 'main' },
    update: { language: 'TypeScript' },
  },
};

/** Each kind's response shapes, built once: a schema is named once, however many apps a process builds. */
const VIEWS = new Map(
  CATALOG_TYPES.map((type) => {
    const read = readSchema(KINDS[type]);
    return [type, { read, detail: detailSchema(KINDS[type], read), impact: impactSchema(KINDS[type]) }] as const;
  }),
);

export interface CatalogRouteOptions {
  /** The most records a graph or an impact list holds (GRAPH_MAX_NODES). */
  graphMaxNodes: number;
}

export function catalogRoutes(
  services: { entities: Record<CatalogType, EntityService>; permissions: PermissionService },
  { graphMaxNodes }: CatalogRouteOptions,
): DocumentedRouter[] {
  return CATALOG_TYPES.map((type) => {
    const kind = KINDS[type];
    const { read, detail, impact } = VIEWS.get(type)!;
    const one = pascalOf(kind.label);
    const api = crudRoutes(services.entities[type], {
      path: `/${type}`,
      label: kind.label,
      listing: kind,
      create: named(`${one}Create`, kind.create),
      update: named(`${one}Update`, kind.update),
      examples: EXAMPLES[type],
      about: `Catalog: ${type}. Names are unique among the tenant's live ${type}.`,
      read,
      detailSchema: detail,
      detail: (ctx, id) => readDetail(ctx, type, id),
      writers: 'editor or admin, or an EDIT grant on the record for updates',
      writeErrors: [409],
      deleteNote:
        type === 'teams' ? 'A team that live records still name (services, people, … by `team_id`) is a 409: reassign or delete them first.' : undefined,
      collectionRoutes: hasFacets(kind) ? (router) => facetRoute(router, services.entities[type]) : undefined,
    });
    grantRoutes(api, type, kind.label, services);
    api.op(
      'get',
      '/:id/history',
      {
        operationId: `get${pascalOf(kind.label)}History`,
        summary: `Who changed what on a ${kind.label}`,
        description:
          `The ${kind.label}'s audit entries and those of the grants on it, newest first: who (and, for a co-editing ` +
          'write-back, every contributor), what and when. For every member who may read it; the request id, the address ' +
          "and a grant's change are for admins. Follow `meta.next_cursor` for older entries.",
        query: historyQuery,
        response: HistoryEntry,
        paginated: true,
      },
      async (req, res) => {
        const record = { type, table: kind.model.tableName, label: kind.label };
        res.json(await recordHistory(ctxOf(req), record, idParam(req), req.query));
      },
    );
    api.op(
      'get',
      '/:id/graph',
      {
        operationId: `get${one}Graph`,
        summary: `The relation graph around a ${kind.label}`,
        description:
          `The ${kind.label} and every live record up to \`depth\` hops from it along any relation (dependencies, ` +
          'products and their services, runs-on resources, source repositories, owning teams, team members, assigned people), ' +
          'in one direction or both, with the edges among them. Cycles end; more than the node limit (1,000 by default) ' +
          'keeps the nearest and sets `truncated`. One statement.',
        query: graphQuery,
        response: RecordGraph,
      },
      async (req, res) => {
        sendData(res, await readGraph(ctxOf(req), type, idParam(req), req.query, graphMaxNodes));
      },
    );
    if (IMPACT_TYPES.includes(type)) {
      api.op(
        'get',
        '/:id/impact',
        {
          operationId: `get${one}Impact`,
          summary: `Transitive dependents and dependencies of a ${kind.label}`,
          description:
            `Every record that depends on the ${kind.label} (what breaks when it fails) and every one it depends on, through ` +
            'any number of hops (up to 25) along dependency relations (depends on, contains, uses, runs on, built from), ' +
            'each once at its smallest depth; computed by one recursive query.',
          response: impact,
        },
        async (req, res) => {
          sendData(res, await readImpact(ctxOf(req), type, idParam(req), graphMaxNodes));
        },
      );
    }
    return api;
  });
}

/** GET /<kind>/facets: counts by one of the kind's enum fields, over the rows the list's filters select. */
function facetRoute(api: DocumentedRouter, entities: EntityService): void {
  const { kind } = entities;
  const fields = Object.keys(kind.enumFilters);
  api.op(
    'get',
    '/facets',
    {
      operationId: `get${pascalOf(kind.label)}Facets`,
      summary: `Count ${kind.type} by an enum field`,
      description:
        `How many of the tenant's live ${kind.type} hold each value of \`field\` (${fields.map((f) => `\`${f}\``).join(', ')}), ` +
        'every value listed, zeros included. The list filters (`q`, the enum fields, team and tag where the kind has them) narrow ' +
        'the rows counted as they narrow the list. Another field is a 422.',
      query: facetQuerySchema(kind),
      response: FacetCounts,
    },
    async (req, res) => {
      sendData(res, await entities.facets(ctxOf(req), parseFacetQuery(kind, req.query)));
    },
  );
}
