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
