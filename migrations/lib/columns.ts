// Column shapes shared by the migrations (ids, tenancy, timestamps, soft delete, row version).
// Past migrations import these, so change a helper only by adding a new one, never by editing.
// This folder has no file extension of its own, so knex does not mistake it for a migration.
import type { Knex } from 'knex';

/** `id uuid PRIMARY KEY DEFAULT gen_random_uuid()` */
export function uuidPrimaryKey(knex: Knex, t: Knex.CreateTableBuilder): void {
  t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
}

/** `tenant_id uuid NOT NULL` referencing tenants, cascading, indexed. */
export function tenantColumn(t: Knex.CreateTableBuilder, tableName: string): void {
  t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
  t.index(['tenant_id'], `${tableName}_tenant_id_index`);
}

/** `team_id uuid NULL` referencing teams; the row outlives its team. Indexed. */
export function teamColumn(t: Knex.CreateTableBuilder, tableName: string): void {
  t.uuid('team_id').nullable().references('id').inTable('teams').onDelete('SET NULL');
  t.index(['team_id'], `${tableName}_team_id_index`);
}

/** `created_at` and `updated_at`, timestamptz NOT NULL DEFAULT now(). */
export function timestamps(knex: Knex, t: Knex.CreateTableBuilder): void {
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
}

/** `created_by` and `updated_by`: the acting user, kept without a foreign key (users may go). */
export function authorship(t: Knex.CreateTableBuilder): void {
  t.uuid('created_by').nullable();
  t.uuid('updated_by').nullable();
}

/** `deleted_at timestamptz NULL`: soft delete. */
export function softDelete(t: Knex.CreateTableBuilder): void {
  t.timestamp('deleted_at', { useTz: true }).nullable();
}

/** `row_version integer NOT NULL DEFAULT 1`: optimistic concurrency (ETag / If-Match). */
export function rowVersion(t: Knex.CreateTableBuilder): void {
  t.integer('row_version').notNullable().defaultTo(1);
}

/** Unique `(tenant_id, <column>)` among rows that are not soft-deleted. */
export function liveUniqueIndexSql(tableName: string, column: string): string {
  return `CREATE UNIQUE INDEX ${tableName}_tenant_id_${column}_unique ` + `ON ${tableName} (tenant_id, ${column}) WHERE deleted_at IS NULL`;
}
