// Reading the SQL a request sent (knex query events) in statement-count tests.

/** The statement that reads the user behind a token (authentication), absent when the principal is cached. */
export const isPrincipalRead = (sql: string) => /from "users"/i.test(sql) && /"tenants"/i.test(sql);
