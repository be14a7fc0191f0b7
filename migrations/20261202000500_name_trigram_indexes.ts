// Trigram indexes on each kind's name alone (title for incidents), behind the cross-kind search
// (`GET /search`): its matches (ILIKE, `%`, `<%`) are on the name, which the name-and-description
// indexes of the per-kind `q=` cannot serve. Live rows only, as the search never shows deleted ones.
import type { Knex } from 'knex';

const TABLES = ['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories', 'incidents'];
/** The column a table's records are named by: an incident's title, else the name. */
const nameColumn = (table: string) => (table === 'incidents' ? 'title' : 'name');

export async function up(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.raw(`CREATE INDEX ${table}_name_trgm_index ON ${table} USING gin (${nameColumn(table)} gin_trgm_ops) WHERE deleted_at IS NULL`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) {
    await knex.raw(`DROP INDEX IF EXISTS ${table}_name_trgm_index`);
  }
}
