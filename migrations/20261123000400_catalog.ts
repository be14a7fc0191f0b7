// The catalog entities: products, services, components, resources, repositories.
// Enumerations are CHECK constraints holding the data model's values; type-specific fields live in `attributes`.
import type { Knex } from 'knex';
import { authorship, liveUniqueIndexSql, rowVersion, softDelete, teamColumn, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

const ENTITY_STATUS = ['active', 'planned', 'maintenance', 'deprecated'];
const OPERATIONAL_STATUS = ['operational', 'degraded', 'outage'];
const SERVICE_TYPES = ['api', 'web_application', 'database', 'message_queue', 'cache', 'infrastructure'];
const COMPONENT_TYPES = ['library', 'microservice', 'sdk', 'agent', 'ui_component'];
const RESOURCE_TYPES = [
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
];
const ENVIRONMENTS = ['production', 'staging', 'development', 'dr'];
const REPOSITORY_PROVIDERS = ['github', 'gitlab', 'azure_devops', 'bitbucket'];

const CATALOG_TABLES = ['products', 'services', 'components', 'resources', 'repositories'];

type TableBuilder = Knex.CreateTableBuilder;

/** Columns every catalog entity opens with: id, tenant, name, description, owning team. */
function catalogHead(knex: Knex, t: TableBuilder, tableName: string): void {
  uuidPrimaryKey(knex, t);
  tenantColumn(t, tableName);
  t.string('name', 255).notNullable();
  t.text('description').nullable();
  teamColumn(t, tableName);
}

/** Columns every catalog entity closes with: timestamps, authorship, soft delete, row version. */
function catalogTail(knex: Knex, t: TableBuilder): void {
  timestamps(knex, t);
  authorship(t);
  softDelete(t);
  rowVersion(t);
}

function enumColumn(t: TableBuilder, tableName: string, column: string, length: number, values: string[], defaultValue?: string): void {
  const col = t.string(column, length).notNullable();
  if (defaultValue !== undefined) col.defaultTo(defaultValue);
  col.checkIn(values, `${tableName}_${column}_check`);
  t.index([column], `${tableName}_${column}_index`);
}

function attributesColumn(knex: Knex, t: TableBuilder, tableName: string): void {
  t.jsonb('attributes').defaultTo(knex.raw(`'{}'::jsonb`));
  t.index(['attributes'], `${tableName}_attributes_gin`, 'gin');
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('products', (t) => {
    catalogHead(knex, t, 'products');
    enumColumn(t, 'products', 'status', 20, ENTITY_STATUS, 'active');
    t.string('version', 50).nullable(); // the product's release version, not row_version
    t.jsonb('tags').defaultTo(knex.raw(`'[]'::jsonb`));
    t.index(['tags'], 'products_tags_gin', 'gin');
    catalogTail(knex, t);
  });

  await knex.schema.createTable('services', (t) => {
    catalogHead(knex, t, 'services');
    enumColumn(t, 'services', 'type', 30, SERVICE_TYPES);
    enumColumn(t, 'services', 'status', 20, ENTITY_STATUS, 'active');
    enumColumn(t, 'services', 'operational_status', 20, OPERATIONAL_STATUS, 'operational');
    attributesColumn(knex, t, 'services');
    catalogTail(knex, t);
  });

  await knex.schema.createTable('components', (t) => {
    catalogHead(knex, t, 'components');
    enumColumn(t, 'components', 'type', 30, COMPONENT_TYPES);
    enumColumn(t, 'components', 'status', 20, ENTITY_STATUS, 'active');
    enumColumn(t, 'components', 'operational_status', 20, OPERATIONAL_STATUS, 'operational');
    attributesColumn(knex, t, 'components');
    catalogTail(knex, t);
  });

  await knex.schema.createTable('resources', (t) => {
    catalogHead(knex, t, 'resources');
    enumColumn(t, 'resources', 'type', 30, RESOURCE_TYPES);
    enumColumn(t, 'resources', 'operational_status', 20, OPERATIONAL_STATUS, 'operational');
    enumColumn(t, 'resources', 'environment', 20, ENVIRONMENTS, 'production');
    attributesColumn(knex, t, 'resources');
    catalogTail(knex, t);
  });

  await knex.schema.createTable('repositories', (t) => {
    catalogHead(knex, t, 'repositories');
    t.string('url', 2048).nullable();
    enumColumn(t, 'repositories', 'provider', 30, REPOSITORY_PROVIDERS);
    t.string('default_branch', 100).defaultTo('main');
    t.string('language', 50).nullable(); // primary language
    catalogTail(knex, t);
  });

  for (const table of CATALOG_TABLES) {
    await knex.raw(liveUniqueIndexSql(table, 'name'));
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [...CATALOG_TABLES].reverse()) {
    await knex.schema.dropTable(table);
  }
}
