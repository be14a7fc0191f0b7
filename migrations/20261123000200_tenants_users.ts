// Tenants and their login users. users.person_id gets its foreign key
// in the teams/people migration, once the people table exists.
import type { Knex } from 'knex';
import { liveUniqueIndexSql, rowVersion, softDelete, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

const USER_ROLES = ['admin', 'editor', 'viewer', 'incident_commander'];
const AUTH_PROVIDERS = ['local', 'okta', 'saml'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    uuidPrimaryKey(knex, t);
    t.string('name', 255).notNullable().unique({ indexName: 'tenants_name_unique' });
    t.string('slug', 100).notNullable().unique({ indexName: 'tenants_slug_unique' });
    t.boolean('is_active').notNullable().defaultTo(true);
    t.jsonb('settings').defaultTo(knex.raw(`'{}'::jsonb`));
    timestamps(knex, t);
  });

  await knex.schema.createTable('users', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'users');
    t.string('email', 320).notNullable();
    t.string('display_name', 255).notNullable();
    t.string('password_hash', 255).nullable(); // NULL for SSO-only users
    t.string('role', 50).notNullable().defaultTo('viewer').checkIn(USER_ROLES, 'users_role_check');
    t.string('auth_provider', 50).notNullable().defaultTo('local').checkIn(AUTH_PROVIDERS, 'users_auth_provider_check');
    t.string('external_id', 255).nullable(); // SSO subject id
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamp('last_login_at', { useTz: true }).nullable();
    t.uuid('person_id').nullable();
    timestamps(knex, t);
    softDelete(t);
    rowVersion(t);
  });
  await knex.raw(liveUniqueIndexSql('users', 'email'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
  await knex.schema.dropTable('tenants');
}
