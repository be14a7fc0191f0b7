// Scorecard levels: named thresholds (bronze at 50, silver at 75, …), ascending by min_score, stored
// with the scorecard as a JSON array; existing scorecards have none.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('scorecards', (t) => {
    t.jsonb('levels').notNullable().defaultTo(knex.raw(`'[]'::jsonb`));
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('scorecards', (t) => {
    t.dropColumn('levels');
  });
}
