// One real PostgreSQL per test run: DATABASE_URL when set, else an embedded server in a fresh temp
// dir (removed at the end). Each suite gets its own database, cloned from a template migrated once.
// On the embedded server, as in the app, a migrated database is used as the runtime role and an
// unmigrated one (its test migrates it) as the owner; DATABASE_URL is used as it is for both.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createKnex, migrateLatest } from '../../src/platform/db.js';
import { isProcessAlive, startEmbeddedPostgres, stopStalePostgres, type EmbeddedPostgres } from '../../src/platform/embedded-postgres.js';

export interface TestDatabase {
  /** The URL `knex` connects with: the runtime role's for a migrated database, else the owner's. */
  url: string;
  knex: Knex;
  /** The URL of the owner role, which runs migrations. */
  ownerUrl: string;
  /** The URL of the runtime role, which the app runs as. */
  runtimeUrl: string;
  /** A pool of the owner's (opened on first use, closed by drop()). */
  owner(): Knex;
  /** Destroys the knex pool and drops the database. */
  drop(): Promise<void>;
}

interface SharedServer {
  /** Connection used for CREATE/DROP DATABASE. */
  admin: Knex;
  adminUrl: string;
  /** URLs of the owner and runtime roles (any database: withDatabase picks one). */
  ownerUrl: string;
  runtimeUrl: string;
  /** The owner role's name, when the databases are to be made the owner's; the runtime role's. */
  ownerRole?: string;
  runtimeRole?: string;
  embedded?: { server: EmbeddedPostgres; dir: string };
}

const TEMP_PREFIX = 'appinventory-test-pg-';
const runTag = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
let shared: Promise<SharedServer> | undefined;
let template: Promise<string> | undefined;
let counter = 0;
const liveDatabases = new Set<string>();
// CREATE DATABASE … TEMPLATE needs the template free of connections: run the clones one at a time.
let cloneQueue: Promise<unknown> = Promise.resolve();

/** Starts (once) the run's PostgreSQL server. */
export function startTestPostgres(): Promise<SharedServer> {
  shared ??= (async () => {
    const external = process.env.DATABASE_URL?.trim();
    if (external) return { admin: createKnex(external, { poolMax: 2 }), adminUrl: external, ownerUrl: external, runtimeUrl: external };
    await sweepStaleTestServers();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
    try {
      await fs.chmod(dir, 0o755); // as root the server runs as `postgres` and must reach it
      writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
      const server = await startEmbeddedPostgres({ dataDir: dir });
      const admin = createKnex(server.adminConnectionString, { poolMax: 2 });
      return {
        admin,
        adminUrl: server.adminConnectionString,
        ownerUrl: server.migrationConnectionString,
        runtimeUrl: server.connectionString,
        ownerRole: server.ownerRole,
        runtimeRole: server.runtimeRole,
        embedded: { server, dir },
      };
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  })();
  return shared;
}

/**
 * A fresh, fully migrated database with its own knex (pool max 5). `as` picks the role of `knex`
 * and `url`: by default the runtime role's for a migrated database and the owner's for an
 * unmigrated one; 'owner' for a test of schema changes.
 */
export async function createTestDatabase(opts: { migrated?: boolean; as?: 'owner' | 'runtime' } = {}): Promise<TestDatabase> {
  const server = await startTestPostgres();
  const name = `appinv_test_${runTag}_${++counter}`;
  if (opts.migrated === false) {
    await createDatabase(server, name);
  } else {
    const tpl = await ensureTemplate(server);
    const clone = cloneQueue.then(() => createDatabase(server, name, tpl));
    cloneQueue = clone.catch(() => {});
    await clone;
  }
  liveDatabases.add(name);
  const ownerUrl = withDatabase(server.ownerUrl, name);
  const runtimeUrl = withDatabase(server.runtimeUrl, name);
  const url = (opts.as ?? (opts.migrated === false ? 'owner' : 'runtime')) === 'owner' ? ownerUrl : runtimeUrl;
  const knex = createKnex(url, { poolMax: 5 });
  let owner: Knex | undefined;
  let dropping: Promise<void> | undefined;
  return {
    url,
    knex,
    ownerUrl,
    runtimeUrl,
    owner: () => (owner ??= createKnex(ownerUrl, { poolMax: 2 })),
    drop: () =>
      (dropping ??= (async () => {
        await knex.destroy();
        await owner?.destroy();
        await dropDatabase(server.admin, name);
      })()),
  };
}

function ensureTemplate(server: SharedServer): Promise<string> {
  template ??= (async () => {
    const name = `appinv_tpl_${runTag}`;
    await createDatabase(server, name);
    liveDatabases.add(name);
    const knex = createKnex(withDatabase(server.ownerUrl, name), { poolMax: 1 });
    try {
      await migrateLatest(knex, undefined, { runtimeRole: server.runtimeRole });
    } finally {
      await knex.destroy(); // no connection to the template may stay open
    }
    return name;
  })();
  return template;
}

function createDatabase(server: SharedServer, name: string, template?: string) {
  const owner = server.ownerRole ? (['OWNER ??', [server.ownerRole]] as const) : (['', []] as const);
  const from = template ? (['TEMPLATE ??', [template]] as const) : (['', []] as const);
  return server.admin.raw(`CREATE DATABASE ?? ${from[0]} ${owner[0]}`, [name, ...from[1], ...owner[1]]);
}

async function dropDatabase(admin: Knex, name: string): Promise<void> {
  // FORCE (PG 13+) ends sessions a test left open (sockets, listeners) instead of failing.
  await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
  liveDatabases.delete(name);
}

/** Drops what this run created and stops the embedded server. Safe to call when never started. */
export async function stopTestPostgres(): Promise<void> {
  if (!shared) return;
  const server = await shared.catch(() => undefined);
  shared = undefined;
  template = undefined;
  if (!server) return;
  try {
    // On an embedded server everything goes with the temp dir; on DATABASE_URL clean up after us.
    if (!server.embedded) for (const name of [...liveDatabases]) await dropDatabase(server.admin, name);
  } finally {
    liveDatabases.clear();
    await server.admin.destroy();
    if (server.embedded) {
      await server.embedded.server.stop();
      await fs.rm(server.embedded.dir, { recursive: true, force: true });
    }
  }
}

// A run killed before its after-hook leaves a temp dir, maybe with a server (the server itself is
// SIGINTed by embedded-postgres.ts's exit hook, but not after SIGKILL): stop it, remove the dir.
async function sweepStaleTestServers(): Promise<void> {
  const tmp = os.tmpdir();
  for (const entry of await fs.readdir(tmp)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(tmp, entry);
    const ownerFile = path.join(dir, 'owner.pid');
    if (!existsSync(ownerFile)) {
      // Another run may have just created it and not yet written its owner file.
      const { mtimeMs } = await fs.stat(dir).catch(() => ({ mtimeMs: 0 }));
      if (Date.now() - mtimeMs < 60_000) continue;
    } else if (isProcessAlive(Number(readFileSync(ownerFile, 'utf8')))) {
      continue; // another run in progress
    }
    try {
      await stopStalePostgres(path.join(dir, 'pg'));
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Leave it; the next sweep tries again.
    }
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
