// The catalog kinds as the console shows them: list columns, enum filters and the fields of the
// co-editing layout. The enum values are checked against the generated API types, so a value the
// API drops fails the console's typecheck.
import type { operations, Schemas } from '../client/index.js';

export const KINDS = ['services', 'components', 'resources', 'products', 'repositories', 'teams', 'people'] as const;
export type Kind = (typeof KINDS)[number];

type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

/** Every value of the union T, each once: a value added to or dropped from the API fails the typecheck. */
const every =
  <T extends string>() =>
  <const A extends readonly T[]>(...values: A & ([T] extends [A[number]] ? unknown : never)): A =>
    values;

const SERVICE_TYPES = every<NonNullable<Query<'listServices'>['type']>>()('api', 'web_application', 'database', 'message_queue', 'cache', 'infrastructure');
const LIFECYCLE = every<NonNullable<Query<'listServices'>['status']>>()('active', 'planned', 'maintenance', 'deprecated');
const OPERATIONAL = every<NonNullable<Query<'listServices'>['operational_status']>>()('operational', 'degraded', 'outage');
const COMPONENT_TYPES = every<Schemas['Component']['type']>()('library', 'sdk', 'microservice', 'agent', 'ui_component');
const RESOURCE_TYPES = every<Schemas['Resource']['type']>()(
  'ec2',
  'virtual_machine',
  'logic_app',
  'storage_account',
  'container_instance',
  'kubernetes',
  'function_app',
  'load_balancer',
  'api_gateway',
  'cdn',
);
const ENVIRONMENTS = every<Schemas['Resource']['environment']>()('production', 'staging', 'development', 'dr');
const PROVIDERS = every<Schemas['Repository']['provider']>()('github', 'gitlab', 'bitbucket', 'azure_devops');

export interface KindInfo {
  label: string;
  /** Columns of the list (besides the name). */
  columns: string[];
  /** The kind's enum fields and their values: the list's filters (by query parameter) and the co-edited selects. */
  enums: Record<string, readonly string[]>;
  /** Whether the co-editing layout has `description` (Y.Text) and `attributes` (Y.Map). */
  description: boolean;
  attributes: boolean;
}

export const KIND_INFO: Record<Kind, KindInfo> = {
  services: {
    label: 'Services',
    columns: ['type', 'status', 'operational_status'],
    enums: { type: SERVICE_TYPES, status: LIFECYCLE, operational_status: OPERATIONAL },
    description: true,
    attributes: true,
  },
  components: {
    label: 'Components',
    columns: ['type', 'status', 'operational_status'],
    enums: { type: COMPONENT_TYPES, status: LIFECYCLE, operational_status: OPERATIONAL },
    description: true,
    attributes: true,
  },
  resources: {
    label: 'Resources',
    columns: ['type', 'environment', 'operational_status'],
    enums: { type: RESOURCE_TYPES, environment: ENVIRONMENTS, operational_status: OPERATIONAL },
    description: true,
    attributes: true,
  },
  products: {
    label: 'Products',
    columns: ['status', 'version'],
    enums: { status: LIFECYCLE },
    description: true,
    attributes: false,
  },
  repositories: {
    label: 'Repositories',
    columns: ['provider', 'language'],
    enums: { provider: PROVIDERS },
    description: true,
    attributes: false,
  },
  teams: { label: 'Teams', columns: ['slack_channel', 'contact_email'], enums: {}, description: true, attributes: false },
  people: { label: 'People', columns: ['email', 'role_title'], enums: {}, description: false, attributes: false },
};

export function isKind(kind: string): kind is Kind {
  return (KINDS as readonly string[]).includes(kind);
}
