// Knex and Objection wiring: one place that builds the connection pool, runs migrations and binds
// the models, for the server, the CLIs and the tests alike.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from './logger.js';

// int8 (bigint) comes back as a string by default; our int8 values are counts and sequence numbers,
// far below 2^53, so they are parsed as numbers.
pg.types.setTypeParser(20, (value) => Number(value));

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Absolute path of the migrations folder (src/platform → ../../migrations, also from dist/). */
export const migrationsDir = path.join(repoRoot, 'migrations');

export interface CreateKnexOptions {
  poolMax?: number;
  /** Receives knex's own warnings (e.g. failed connection attempts) instead of the console. */
  logger?: Logger;
}

export function createKnex(connectionString: string, opts: CreateKnexOptions = {}): Knex {
  const log = opts.logger?.child({ component: 'knex' });
  return knexFactory({
    client: 'pg',
    connection: connectionString,
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
    const files = (await fs.readdir(this.directory))
      .filter((f) => /\.(ts|js)$/.test(f) && !/\.d\.ts$/.test(f))
      .sort();
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
export async function migrateLatest(knex: Knex, directory?: string): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(migrationConfig(directory))) as [number, string[]];
  return applied;
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
    return await Promise.race([knex.raw('select 1').then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
