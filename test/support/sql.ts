// Reading the SQL a request sent (knex query events) in statement-count tests.
import type { Knex } from 'knex';

/** The statement that reads the user behind a token (authentication), absent when the principal is cached. */
export const isPrincipalRead = (sql: string) => /from "users"/i.test(sql) && /"tenants"/i.test(sql);

/**
 * The statements `work` sent through this knex (BEGIN and COMMIT included), with its result, and
 * where in src/ each was sent from (the nearest src/ frames of its async stack): what a failing
 * count prints to tell the request's statements from a background task's.
 */
export async function counted<T>(knex: Knex, work: () => Promise<T>): Promise<{ result: T; statements: string[]; origins: string[] }> {
  const statements: string[] = [];
  const origins: string[] = [];
  const onQuery = (q: { sql: string }) => {
    statements.push(q.sql);
    const frames = (new Error().stack ?? '').split('\n').filter((l) => l.includes('/src/'));
    origins.push(
      `${q.sql.slice(0, 60).replace(/\s+/g, ' ')} <- ${
        frames
          .slice(0, 3)
          .map((l) => l.trim())
          .join(' <- ') || '(no src frame)'
      }`,
    );
  };
  knex.on('query', onQuery);
  try {
    return { result: await work(), statements, origins };
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

/**
 * Waits until change-log followers have read every event of the tenant (each one's cursor at the
 * tenant's newest seq, which their own derived events move too), all at once: background work that
 * must be over before a test counts a request's statements or checks that nothing more was derived.
 */
export async function followerCaughtUp(knex: Knex, tenantId: string, followers: string | string[], timeoutMs = 10_000): Promise<void> {
  const names = typeof followers === 'string' ? [followers] : followers;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = (await knex.raw(
      `SELECT f.follower, f.last_seq AS cursor, coalesce(c.last_seq, 0) AS latest
         FROM change_log_cursors f LEFT JOIN tenant_event_counters c ON c.tenant_id = f.tenant_id
        WHERE f.follower = ANY(?) AND f.tenant_id = ?`,
      [names, tenantId],
    )) as { rows: { follower: string; cursor: string; latest: string }[] };
    if (rows.length === names.length && rows.every((r) => Number(r.cursor) >= Number(r.latest))) return;
    if (Date.now() > deadline) throw new Error(`followers ${names.join(', ')} did not catch up in ${timeoutMs} ms (${JSON.stringify(rows)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
