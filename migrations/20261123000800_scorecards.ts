// Scorecards and their weighted criteria. Results are computed on read,
// never stored. Criteria carry tenant_id for uniform tenant scoping and go with their scorecard.
import type { Knex } from 'knex';
import { authorship, liveUniqueIndexSql, rowVersion, softDelete, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('scorecards', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'scorecards');
    t.string('name', 255).notNullable();
    t.text('description').nullable();
    t.jsonb('entity_types').notNullable(); // array of applicable entity types
    timestamps(knex, t);
    authorship(t);
    softDelete(t);
    rowVersion(t);
    t.index(['entity_types'], 'scorecards_entity_types_gin', 'gin');
  });
  await knex.raw(liveUniqueIndexSql('scorecards', 'name'));

  await knex.schema.createTable('scorecard_criteria', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'scorecard_criteria');
    t.uuid('scorecard_id').notNullable().references('id').inTable('scorecards').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.text('description').nullable();
    t.integer('weight').notNullable().defaultTo(1).checkBetween([1, 3], 'scorecard_criteria_weight_check');
    t.string('check_type', 30).notNullable(); // has_field, has_items, field_equals, …
    t.jsonb('check_config').notNullable();
    t.integer('sort_order').notNullable().defaultTo(0);
    t.index(['scorecard_id'], 'scorecard_criteria_scorecard_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('scorecard_criteria');
  await knex.schema.dropTable('scorecards');
}
