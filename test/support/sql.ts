// Reading the SQL a request sent (knex query events) in statement-count tests.
import type { Knex } from 'knex';

/** The statement that reads the user behind a token (authentication), absent when the principal is cached. */
export const isPrincipalRead = (sql: string) => /from "users"/i.test(sql) && /"tenants"/i.test(sql);

/** The statements `work` sent through this knex (BEGIN and COMMIT included), with its result. */
export async function counted<T>(knex: Knex, work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  knex.on('query', onQuery);
  try {
    return { result: await work(), statements };
  } finally {
    knex.off('query', onQuery);
  }
}

/** The tables with a tenant_id and those with a deleted_at: what a scoped statement must condition. */
export async function scopedTables(knex: Knex): Promise<{ tenantTables: Set<string>; softDeleteTables: Set<string> }> {
  const columns = (await knex('information_schema.columns')
    .where({ table_schema: 'public' })
    .whereIn('column_name', ['tenant_id', 'deleted_at'])
    .select('table_name', 'column_name')) as { table_name: string; column_name: string }[];
  const having = (column: string) => new Set(columns.filter((c) => c.column_name === column).map((c) => c.table_name));
  return { tenantTables: having('tenant_id'), softDeleteTables: having('deleted_at') };
}
