// Per-record grants (VIEW, COMMENT, EDIT; user_id NULL means
// everyone in the tenant) and threaded, resolvable comments, which the COMMENT level allows.
import type { Knex } from 'knex';
import { rowVersion, softDelete, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

const PERMISSION_LEVELS = ['VIEW', 'COMMENT', 'EDIT'];
const COMMENTABLE_ENTITY_TYPES = ['products', 'services', 'components', 'resources', 'repositories', 'teams', 'people', 'incidents'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('entity_permissions', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'entity_permissions');
    t.string('entity_type', 30).notNullable();
    t.uuid('entity_id').notNullable();
    t.uuid('user_id').nullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('level', 10).notNullable().checkIn(PERMISSION_LEVELS, 'entity_permissions_level_check');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.uuid('created_by').nullable();
    t.index(['user_id'], 'entity_permissions_user_id_index');
  });
  // One grant per user and record, and one tenant-wide grant (user_id NULL) per record.
  await knex.raw(`
    CREATE UNIQUE INDEX entity_permissions_grant_unique
    ON entity_permissions (tenant_id, entity_type, entity_id, user_id) NULLS NOT DISTINCT
  `);

  await knex.schema.createTable('comments', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'comments');
    t.string('entity_type', 30).notNullable().checkIn(COMMENTABLE_ENTITY_TYPES, 'comments_entity_type_check');
    t.uuid('entity_id').notNullable();
    t.uuid('parent_id').nullable().references('id').inTable('comments').onDelete('CASCADE');
    t.uuid('author_id').nullable().references('id').inTable('users').onDelete('SET NULL');
    t.text('body').notNullable();
    t.timestamp('resolved_at', { useTz: true }).nullable();
    t.uuid('resolved_by').nullable();
    timestamps(knex, t);
    softDelete(t);
    rowVersion(t);
    t.index(['tenant_id', 'entity_type', 'entity_id', 'created_at'], 'comments_entity_created_at_index');
    t.index(['parent_id'], 'comments_parent_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('comments');
  await knex.schema.dropTable('entity_permissions');
}
