// Derived events computed after commit from the change log: each follower's cursor per tenant,
// and what the followers compare against to tell a change from a repeat (an entity's last score
// on a scorecard; a dashboard's last computed data, as a digest per widget).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('change_log_cursors', (t) => {
    t.string('follower', 64).notNullable();
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('last_seq').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['follower', 'tenant_id']);
  });
  await knex.schema.createTable('scorecard_scores', (t) => {
    t.uuid('scorecard_id').notNullable().references('id').inTable('scorecards').onDelete('CASCADE');
    t.uuid('entity_id').notNullable();
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.string('entity_type', 32).notNullable();
    t.integer('score').notNullable();
    t.string('level', 100).nullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scorecard_id', 'entity_id']);
    t.index(['tenant_id', 'entity_id'], 'scorecard_scores_entity_index');
  });
  await knex.schema.createTable('dashboard_data_digests', (t) => {
    t.uuid('dashboard_id').primary().references('id').inTable('dashboards').onDelete('CASCADE');
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.jsonb('digests').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant_id'], 'dashboard_data_digests_tenant_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dashboard_data_digests');
  await knex.schema.dropTable('scorecard_scores');
  await knex.schema.dropTable('change_log_cursors');
}
