// Knex and Objection wiring: one place that builds the connection pool, runs migrations and binds
// the models, for the server, the CLIs and the tests alike.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { isStalePlan } from './errors.js';
import type { Logger } from './logger.js';

// int8 (bigint) comes back as a string by default; our int8 values are counts and sequence numbers,
// far below 2^53, so they are parsed as numbers.
pg.types.setTypeParser(20, (value) => Number(value));

const TIMESTAMPTZ = 1184;
const parseTimestamp = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date | number | null;

/**
 * A timestamptz as the API writes it (`Date#toISOString`: UTC, milliseconds) straight from
 * PostgreSQL's text, with no Date in between: `2026-12-03 15:49:28.291456+00` becomes
 * `2026-12-03T15:49:28.291Z` (microseconds cut, as the Date parse cuts them). Text in any other
 * form (a session time zone other than UTC, a year past 9999, BC, infinity) goes through the
 * driver's own parse.
 */
export function isoTimestamp(text: string): string | number | null {
  const n = text.length;
  if (text.endsWith('+00') && text.charCodeAt(4) === 45 && text.charCodeAt(10) === 32) {
    if (n === 22) return `${text.slice(0, 10)}T${text.slice(11, 19)}.000Z`;
    if (n > 23 && text.charCodeAt(19) === 46) return `${text.slice(0, 10)}T${text.slice(11, 19)}.${`${text.slice(20, n - 3)}00`.slice(0, 3)}Z`;
  }
  const parsed = parseTimestamp(text);
  return parsed instanceof Date ? parsed.toISOString() : parsed;
}

/** The driver's parsers with timestamptz as isoTimestamp gives it: for rows that leave as JSON. */
const ISO_TIMESTAMP_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    return oid === TIMESTAMPTZ && format !== 'binary' ? isoTimestamp : (pg.types.getTypeParser(oid, format) as (value: string) => unknown);
  },
};

export interface RunOptions {
  /**
   * timestamptz columns come back as the ISO strings the API sends (isoTimestamp), not as Dates:
   * for reads whose rows go out as they are (pages, detail views).
   */
  isoTimestamps?: boolean;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Absolute path of the migrations folder (src/platform → ../../migrations, also from dist/). */
export const migrationsDir = path.join(repoRoot, 'migrations');

export interface CreateKnexOptions {
  poolMax?: number;
  /**
   * PostgreSQL's statement_timeout on every connection of the pool (ms; 0 = none): one expensive
   * query cannot hold a connection for ever. Migrations run on a connection of their own, without it.
   */
  statementTimeoutMs?: number;
  /** Receives knex's own warnings (e.g. failed connection attempts) instead of the console. */
  logger?: Logger;
}

export function createKnex(connectionString: string, opts: CreateKnexOptions = {}): Knex {
  const log = opts.logger?.child({ component: 'knex' });
  return knexFactory({
    client: 'pg',
    connection: opts.statementTimeoutMs ? { connectionString, statement_timeout: opts.statementTimeoutMs } : connectionString,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
    ...(log && {
      log: {
        warn: (message: string) => log.warn(message),
        error: (message: string) => log.error(message),
        deprecate: (method: string, alternative: string) => log.warn(`${method} is deprecated, use ${alternative}`),
        debug: (message: string) => log.debug(message),
      },
    }),
  });
}

interface MigrationFile {
  name: string;
  file: string;
}

/**
 * Migrations from a folder, as knex's FsMigrations would load them with loadExtensions
 * ['.ts', '.js'], with two differences: declaration files (`.d.ts`, whose extname is also `.ts`)
 * are skipped, and a migration's name is its file name without the extension, so a database
 * migrated from the TypeScript sources stays valid when run from compiled `.js` files.
 */
export class MigrationFolder implements Knex.MigrationSource<MigrationFile> {
  constructor(readonly directory: string = migrationsDir) {}

  async getMigrations(): Promise<MigrationFile[]> {
    if (!existsSync(this.directory)) return [];
    const files = (await fs.readdir(this.directory)).filter((f) => /\.(ts|js)$/.test(f) && !/\.d\.ts$/.test(f)).sort();
    const seen = new Map<string, string>();
    const migrations: MigrationFile[] = [];
    for (const file of files) {
      const name = file.replace(/\.(ts|js)$/, '');
      const other = seen.get(name);
      if (other) throw new Error(`Migrations ${other} and ${file} in ${this.directory} have the same name`);
      seen.set(name, file);
      migrations.push({ name, file });
    }
    return migrations;
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.name;
  }

  async getMigration(migration: MigrationFile): Promise<Knex.Migration> {
    return (await import(pathToFileURL(path.join(this.directory, migration.file)).href)) as Knex.Migration;
  }
}

export function migrationConfig(directory: string = migrationsDir): Knex.MigratorConfig {
  return { migrationSource: new MigrationFolder(directory) };
}

/** Runs every pending migration; returns the names applied. Concurrent callers serialize on knex's lock. */
// The key of the session advisory lock that serialises migrations across nodes (any constant
// that no other lock of ours uses; the sample-data seed has its own).
const MIGRATION_LOCK = 7_301_946_001;

/**
 * Applies the pending migrations; returns their names. Nodes starting together on an empty
 * database would race in knex's creation of its own tables (knex's migration lock lives in one of
 * them), so a PostgreSQL advisory lock, taken on a connection of its own before knex looks,
 * lets one node migrate while the others wait and then find nothing to do.
 */
export async function migrateLatest(knex: Knex, directory?: string, opts: MigrateOptions = {}): Promise<string[]> {
  const config = connectionOf(knex);
  return withSessionLock(config, MIGRATION_LOCK, async () => {
    // A connection of their own, without the pool's statement timeout (an index build may take long).
    const migrator = knexFactory({ client: 'pg', connection: { ...config, statement_timeout: 0 } as Knex.PgConnectionConfig, pool: { min: 0, max: 1 } });
    try {
      const [, applied] = (await migrator.migrate.latest(migrationConfig(directory))) as [number, string[]];
      if (opts.runtimeRole) await grantRuntimeRole(migrator, opts.runtimeRole);
      return applied;
    } finally {
      await migrator.destroy();
    }
  });
}

/** The connection settings a knex was made with, as the driver takes them. */
function connectionOf(knex: Knex): pg.ClientConfig {
  const connection = (knex.client as Knex.Client & { config: Knex.Config }).config.connection;
  if (typeof connection === 'string') return { connectionString: connection };
  // knex hides the password of the settings it parsed (not enumerable): it is copied by name.
  const settings = connection as pg.ClientConfig;
  return { ...settings, password: settings.password };
}

/** Runs `work` holding a session advisory lock on a dedicated connection (not one of a pool's). */
async function withSessionLock<T>(config: pg.ClientConfig, key: number, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...config, statement_timeout: 0 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return await work();
  } finally {
    // Ending the session releases the lock, also when the unlock cannot be sent.
    await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
    await client.end().catch(() => {});
  }
}

export interface MigrateOptions {
  /**
   * The role the app runs as, when it is not the one migrating: after the migrations it is given
   * what the app needs on every table (again after each run, so later tables are covered too).
   */
  runtimeRole?: string;
}

/** Tables the runtime role may only read and append to: the audit trail and the change log. */
export const APPEND_ONLY_TABLES = ['audit_logs', 'change_events'] as const;
/** The migrator's own bookkeeping, which the runtime role has no business with. */
const MIGRATION_TABLES = ['knex_migrations', 'knex_migrations_lock'];

/**
 * Grants `role` SELECT, INSERT, UPDATE and DELETE on the tables of the public schema and the use
 * of its sequences, but only SELECT and INSERT on the append-only tables and nothing on the
 * migrator's tables. Not owning anything, the role can neither alter nor drop a table or its
 * triggers; not a superuser, it cannot turn triggers off with session_replication_role either.
 */
export async function grantRuntimeRole(knex: Knex, role: string): Promise<void> {
  const existing = new Set<string>(await knex('pg_tables').where({ schemaname: 'public' }).pluck('tablename'));
  const only = (names: readonly string[]) => names.filter((n) => existing.has(n));
  await knex.transaction(async (trx) => {
    await trx.raw('GRANT USAGE ON SCHEMA public TO ??', [role]);
    await trx.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ??', [role]);
    await trx.raw('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ??', [role]);
    for (const table of only(APPEND_ONLY_TABLES)) {
      await trx.raw('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ?? FROM ??', [table, role]);
    }
    for (const table of only(MIGRATION_TABLES)) await trx.raw('REVOKE ALL ON ?? FROM ??', [table, role]);
    const sequences = await trx('pg_sequences')
      .where({ schemaname: 'public' })
      .whereIn(
        'sequencename',
        MIGRATION_TABLES.map((t) => `${t}_${t.endsWith('lock') ? 'index' : 'id'}_seq`),
      )
      .pluck('sequencename');
    for (const sequence of sequences) await trx.raw('REVOKE ALL ON SEQUENCE ?? FROM ??', [sequence, role]);
  });
}

/** Rolls back every applied migration; returns the names rolled back. */
export async function rollbackAll(knex: Knex, directory?: string): Promise<string[]> {
  const [, reverted] = (await knex.migrate.rollback(migrationConfig(directory), true)) as [number, string[]];
  return reverted;
}

/** For /readyz: true when `select 1` answers within the timeout. */
export async function isDatabaseReachable(knex: Knex, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([
      knex.raw('select 1').then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A statement with named parameters (`:id`, as knex.raw takes them) turned once into PostgreSQL's
 * positional form (`$1`), so running it again builds nothing: see runNamed.
 */
interface PositionalStatement extends Statement {
  /** The binding each `$n` takes, in order. */
  names: string[];
}

/**
 * A statement in PostgreSQL's positional form. With a `name`, each connection parses and plans it
 * once (a prepared statement) and then only executes it: for the fixed statements of the hot paths.
 */
export interface Statement {
  text: string;
  name?: string;
}

/** A fixed statement's text with the name it is prepared under (the same on every node). */
export function prepared(text: string): Statement {
  return { text, name: `s_${createHash('sha1').update(text).digest('hex').slice(0, 20)}` };
}

const positional = new Map<string, PositionalStatement>();
// knex.raw's named-binding grammar: `:name` is a value, `:name:` an identifier (refused here), and
// `::type` a cast. A name that is not among the bindings stays as written (to_char's `HH24:MI`).
const NAMED = /\\?(:(\w+):(?=::)|:(\w+):(?!:)|:(\w+))/g;

function toPositional(sql: string, names: string[]): PositionalStatement {
  const order: string[] = [];
  const text = sql.replace(NAMED, (match, whole: string, ident1?: string, ident2?: string, value?: string) => {
    if (match !== whole) return whole; // an escaped colon
    if (ident1 || ident2) {
      if (names.includes((ident1 ?? ident2)!)) throw new Error(`identifier bindings are not supported (:${ident1 ?? ident2}:)`);
      return match;
    }
    if (!names.includes(value!)) return match;
    let index = order.indexOf(value!);
    if (index < 0) index = order.push(value!) - 1;
    return `$${index + 1}`;
  });
  return { ...prepared(text), names: order };
}

/**
 * Runs a statement with named bindings the way knex.raw would, without rebuilding its text on
 * every call: the positional text is built on first use (see runPositional).
 */
export function runNamed(db: Knex, sql: string, bindings: Record<string, unknown>, opts: RunOptions = {}): Promise<QueryRows> {
  let statement = positional.get(sql);
  if (!statement || statement.names.some((n) => !(n in bindings))) {
    statement = toPositional(sql, Object.keys(bindings));
    positional.set(sql, statement);
  }
  return runPositional(
    db,
    statement,
    statement.names.map((n) => bindings[n]),
    opts,
  );
}

export interface QueryRows {
  rows: Record<string, unknown>[];
}

type ConnectionClient = Omit<Knex.Client, 'acquireConnection' | 'releaseConnection'> & {
  acquireConnection(): Promise<pg.Client & { __knexUid?: string; __knexTxId?: string }>;
  releaseConnection(connection: unknown): Promise<void>;
};

/**
 * Runs a statement in PostgreSQL's positional form (`$1`) on the connection knex would use: one
 * of the pool's, or the transaction's own when `db` is a transaction (whose client hands out its
 * connection and releases nothing). Nothing is built per call; the statement still announces
 * itself with knex's `query` event, where statement counters listen.
 */
export function runPositional(db: Knex, statement: string | Statement, values: unknown[], opts: RunOptions = {}): Promise<QueryRows> {
  const { text, name } = typeof statement === 'string' ? { text: statement, name: undefined } : statement;
  const types = opts.isoTimestamps ? ISO_TIMESTAMP_TYPES : undefined;
  return onKnexConnection(db, text, values, async (connection, inTransaction) => {
    try {
      return (await connection.query({ text, values, ...(name ? { name } : {}), ...(types ? { types } : {}) })) as QueryRows;
    } catch (err) {
      if (!name || !isStalePlan(err)) throw err;
      // A migration changed a table this prepared statement reads: the connection forgets it and,
      // outside a transaction, runs it afresh; a transaction has failed and goes back to its caller.
      await forget(connection as PgConnection, name, inTransaction);
      if (inTransaction) throw err;
      return (await connection.query({ text, values, name, ...(types ? { types } : {}) })) as QueryRows;
    }
  });
}

/** The connection knex would use for `db`, with the statement announced on knex's `query` event. */
async function onKnexConnection<T>(db: Knex, text: string, values: unknown[], run: (connection: pg.Client, inTransaction: boolean) => Promise<T>): Promise<T> {
  const trx = db as unknown as Partial<Knex.Transaction>;
  if (trx.isTransaction && trx.isCompleted?.()) throw new Error('The transaction this statement joins has already ended.');
  const client = db.client as ConnectionClient;
  const connection = await client.acquireConnection();
  try {
    const { __knexUid, __knexTxId } = connection;
    client.emit('query', { method: 'raw', sql: text, bindings: values, __knexUid, __knexTxId });
    return await run(connection, Boolean(trx.isTransaction));
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * The statement with its named values written in as literals, for PostgreSQL's simple protocol,
 * which takes several statements in one message (and no parameters). Strings are quoted by the
 * driver's escapeLiteral; numbers must be finite; null is NULL.
 */
export function inlineNamed(sql: string, bindings: Record<string, string | number | null>): string {
  const names = Object.keys(bindings);
  const { text, names: order } = toPositional(sql, names);
  return text.replace(/\$(\d+)\b/g, (_match, index: string) => {
    const value = bindings[order[Number(index) - 1]];
    if (value === null) return 'NULL';
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
      return String(value);
    }
    return pg.escapeLiteral(value);
  });
}

/**
 * Runs statements separated by semicolons in one round trip (the simple protocol) on the
 * connection knex would use, announced on knex's `query` event like runPositional; the result of
 * each statement, in order.
 */
export function runScript(db: Knex, text: string): Promise<QueryRows[]> {
  return onKnexConnection(db, text, [], async (connection) => {
    const result = (await connection.query(text)) as unknown as QueryRows | QueryRows[];
    return Array.isArray(result) ? result : [result];
  });
}

type PgConnection = pg.Client & { connection: { parsedStatements: Record<string, string> }; __knex__disposed?: unknown };

async function forget(connection: PgConnection, name: string, inTransaction: boolean): Promise<void> {
  if (inTransaction) {
    // The transaction is aborted, so nothing more can run on it: the pool drops the connection.
    connection.__knex__disposed = 'a prepared statement outlived a schema change';
    return;
  }
  await connection.query(`DEALLOCATE ${name}`);
  delete connection.connection.parsedStatements[name];
}
