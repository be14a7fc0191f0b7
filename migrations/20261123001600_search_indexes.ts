// Trigram indexes behind the `q=` text search. Queries must use exactly the same expression
// (e.g. `(name || ' ' || coalesce(description, '')) ILIKE ?`) for the planner to pick them up.
import type { Knex } from 'knex';

const NAME_AND_DESCRIPTION = `(name || ' ' || coalesce(description, ''))`;

/** Table → the searched text expression. */
const SEARCHED: Record<string, string> = {
  teams: NAME_AND_DESCRIPTION,
  products: NAME_AND_DESCRIPTION,
  services: NAME_AND_DESCRIPTION,
  components: NAME_AND_DESCRIPTION,
  resources: NAME_AND_DESCRIPTION,
  repositories: NAME_AND_DESCRIPTION,
  incidents: `(title || ' ' || coalesce(description, ''))`,
  people: `(name || ' ' || email)`,
};

export async function up(knex: Knex): Promise<void> {
  for (const [table, expression] of Object.entries(SEARCHED)) {
    await knex.raw(`CREATE INDEX ${table}_search_trgm_index ON ${table} USING gin ((${expression}) gin_trgm_ops)`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of Object.keys(SEARCHED)) {
    await knex.raw(`DROP INDEX IF EXISTS ${table}_search_trgm_index`);
  }
}
