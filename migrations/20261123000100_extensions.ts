// Extensions the schema relies on: pg_trgm for text search, uuid-ossp for uuid defaults.
// (Primary keys use gen_random_uuid(), which is built into PostgreSQL 13+.)
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.raw('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP EXTENSION IF EXISTS "uuid-ossp"');
  await knex.raw('DROP EXTENSION IF EXISTS pg_trgm');
}
