// Tags on every catalog entity, not only products: the list API filters by tag and scorecards
// check has_tag on any kind.
import type { Knex } from 'knex';

const TABLES = ['services', 'components', 'resources', 'repositories'];

export async function up(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.jsonb('tags').notNullable().defaultTo(knex.raw(`'[]'::jsonb`));
    });
    await knex.raw(`CREATE INDEX ?? ON ?? USING gin (tags)`, [`${table}_tags_gin`, table]);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.raw(`DROP INDEX IF EXISTS ??`, [`${table}_tags_gin`]);
    await knex.schema.alterTable(table, (t) => t.dropColumn('tags'));
  }
}
