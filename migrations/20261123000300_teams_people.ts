// Teams and people, and the link from a login user to its person record.
import type { Knex } from 'knex';
import { authorship, liveUniqueIndexSql, rowVersion, softDelete, teamColumn, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('teams', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'teams');
    t.string('name', 255).notNullable();
    t.text('description').nullable();
    t.string('slack_channel', 100).nullable();
    t.string('contact_email', 320).nullable();
    timestamps(knex, t);
    authorship(t);
    softDelete(t);
    rowVersion(t);
  });
  await knex.raw(liveUniqueIndexSql('teams', 'name'));

  await knex.schema.createTable('people', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'people');
    t.string('name', 255).notNullable();
    t.string('email', 320).notNullable();
    teamColumn(t, 'people');
    t.string('role_title', 100).nullable();
    t.string('slack_handle', 100).nullable();
    timestamps(knex, t);
    authorship(t);
    softDelete(t);
    rowVersion(t);
  });
  await knex.raw(liveUniqueIndexSql('people', 'email'));

  await knex.schema.alterTable('users', (t) => {
    t.foreign('person_id', 'users_person_id_foreign').references('id').inTable('people').onDelete('SET NULL');
    t.index(['person_id'], 'users_person_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropForeign(['person_id'], 'users_person_id_foreign');
    t.dropIndex(['person_id'], 'users_person_id_index');
  });
  await knex.schema.dropTable('people');
  await knex.schema.dropTable('teams');
}
