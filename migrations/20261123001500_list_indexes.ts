// Keyset (cursor) pagination indexes for the list endpoints: one per sortable order, each
// ending in id as the tie-breaker, over live rows only (soft-deleted rows are not listed).
import type { Knex } from 'knex';

/** Table → the column its alphabetical sort uses. */
const LISTED_TABLES: Record<string, string> = {
  teams: 'name',
  people: 'name',
  products: 'name',
  services: 'name',
  components: 'name',
  resources: 'name',
  repositories: 'name',
  incidents: 'title',
};

function listIndexes(table: string, nameColumn: string): Array<[name: string, columns: string]> {
  return [
    [`${table}_list_updated_at_index`, 'tenant_id, updated_at DESC, id DESC'],
    [`${table}_list_created_at_index`, 'tenant_id, created_at DESC, id DESC'],
    [`${table}_list_${nameColumn}_index`, `tenant_id, ${nameColumn}, id`],
  ];
}

export async function up(knex: Knex): Promise<void> {
  for (const [table, nameColumn] of Object.entries(LISTED_TABLES)) {
    for (const [indexName, columns] of listIndexes(table, nameColumn)) {
      await knex.raw(`CREATE INDEX ${indexName} ON ${table} (${columns}) WHERE deleted_at IS NULL`);
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, nameColumn] of Object.entries(LISTED_TABLES)) {
    for (const [indexName] of listIndexes(table, nameColumn)) {
      await knex.raw(`DROP INDEX IF EXISTS ${indexName}`);
    }
  }
}
