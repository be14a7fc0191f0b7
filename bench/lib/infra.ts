// What the suites run against, started on first use and stopped by the runner at the end (also on
// errors and Ctrl-C): one embedded PostgreSQL in a temp dir (a database per suite), an optional
// redis-server on a free port, and app nodes as child processes. Everything listens on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { createKnex, migrateLatest } from '../../src/platform/db.js';
import { findFreePort, isProcessAlive, startEmbeddedPostgres, stopStalePostgres, type EmbeddedPostgres } from '../../src/platform/embedded-postgres.js';
import { startReaper } from './reaper.js';
import { startAppNode, type AppNode, type AppNodeOptions } from './node-process.js';
import type { Log } from './types.js';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Pool for seeding and inspection (not the app node's, which lives in its own process). */
  knex: Knex;
}

type Cleanup = { label: string; run: () => Promise<void> };

const CLEANUP_TIMEOUT_MS = 45_000;
const TEMP_PREFIX = 'appinventory-bench-pg-';
/** bench/results/: latest.json and profiles; kept out of git. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export class BenchInfra {
  private readonly cleanups: Cleanup[] = [];
  private postgresStart?: Promise<{ server: EmbeddedPostgres; admin: Knex }>;
  private redisStart?: Promise<string | undefined>;
  private closing?: Promise<void>;
  /** PostgreSQL's version string, once it runs. */
  postgresVersion?: string;
  redisVersion?: string;

  constructor(private readonly log: Log) {}

  /** Registers a cleanup; cleanups run last-in first-out. */
  defer(label: string, run: () => Promise<void> | void): void {
    this.cleanups.push({ label, run: async () => run() });
  }

  /** The embedded server, started once per run in a fresh temp dir removed at the end. */
  postgres(): Promise<{ server: EmbeddedPostgres; admin: Knex }> {
    this.postgresStart ??= (async () => {
      await sweepStaleRuns(this.log);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
      writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
      this.defer(`remove ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
      // Last resort when the process ends without the cleanups (a crash, a second fatal signal).
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      // As root the server runs as the `postgres` user, which must be able to enter the dir.
      await fs.chmod(dir, 0o755);
      const started = Date.now();
      const server = await startEmbeddedPostgres({ dataDir: dir });
      const reaper = startReaper({ pids: [server.pid], dirs: [dir] });
      this.defer('disarm the PostgreSQL reaper', () => reaper.disarm());
      this.defer('stop PostgreSQL', () => server.stop());
      const admin = createKnex(server.adminConnectionString, { poolMax: 2 });
      this.defer('close admin pool', () => admin.destroy());
      const { rows } = await admin.raw('SHOW server_version');
      this.postgresVersion = String(rows[0].server_version);
      this.log(`PostgreSQL ${this.postgresVersion} up on 127.0.0.1:${server.port} in ${Date.now() - started} ms (data in ${dir})`);
      return { server, admin };
    })();
    return this.postgresStart;
  }

  /** A fresh, migrated database of its own for one suite. */
  async database(name: string): Promise<BenchDatabase> {
    const { server, admin } = await this.postgres();
    const dbName = `bench_${name.replace(/\W/g, '_')}`;
    await admin.raw('DROP DATABASE IF EXISTS ??', [dbName]);
    await admin.raw('CREATE DATABASE ??', [dbName]);
    const url = new URL(server.adminConnectionString);
    url.pathname = `/${dbName}`;
    const knex = createKnex(url.toString(), { poolMax: 4 });
    this.defer(`close pool of ${dbName}`, () => knex.destroy());
    const started = Date.now();
    await migrateLatest(knex);
    this.log(`database ${dbName} migrated in ${Date.now() - started} ms`);
    return { name: dbName, url: url.toString(), knex };
  }

  /**
   * A throwaway redis-server (no persistence) on a free port, if one is on PATH; undefined
   * otherwise, so a suite that needs Redis can report itself as skipped.
   */
  redis(): Promise<string | undefined> {
    this.redisStart ??= (async () => {
      const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
      if (which.error || which.status !== 0) {
        this.log('redis-server is not on PATH');
        return undefined;
      }
      this.redisVersion = /v=(\S+)/.exec(which.stdout)?.[1];
      const port = await findFreePort();
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const reaper = startReaper({ pids: [child.pid!], signal: 'TERM' });
      this.defer('disarm the redis reaper', () => reaper.disarm());
      this.defer('stop redis-server', () => stopChild(child, 'SIGTERM', 5_000));
      await waitForPort(port, 10_000, child);
      this.log(`redis-server ${this.redisVersion ?? ''} up on 127.0.0.1:${port}`);
      return `redis://127.0.0.1:${port}`;
    })();
    return this.redisStart;
  }

  /** An app node (src/app.ts startServer) in its own process, closed at the end. */
  async appNode(opts: AppNodeOptions): Promise<AppNode> {
    const node = await startAppNode(opts, this.log);
    this.defer(`close app node ${opts.name}`, () => node.close());
    return node;
  }

  /** Runs every cleanup (LIFO), each bounded in time; errors are logged, never thrown. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.cleanups.length) {
        const { label, run } = this.cleanups.pop()!;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([run(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), CLEANUP_TIMEOUT_MS)))]);
        } catch (err) {
          this.log(`cleanup "${label}" failed: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.closing;
  }
}

/** Signals a child and waits for it to exit; SIGKILL after the grace period. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/**
 * A run killed outright (SIGKILL, e.g. by the tsx CLI when Ctrl-C is not acknowledged within 30 ms)
 * leaves its temp dir and maybe its PostgreSQL behind: stop and remove those whose owner is gone.
 */
async function sweepStaleRuns(log: Log): Promise<void> {
  const tmp = os.tmpdir();
  for (const entry of await fs.readdir(tmp)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(tmp, entry);
    const ownerFile = path.join(dir, 'owner.pid');
    if (existsSync(ownerFile) && isProcessAlive(Number(readFileSync(ownerFile, 'utf8')))) continue;
    if (!existsSync(ownerFile)) {
      const { mtimeMs } = await fs.stat(dir).catch(() => ({ mtimeMs: 0 }));
      if (Date.now() - mtimeMs < 60_000) continue; // being created right now
    }
    try {
      if (await stopStalePostgres(path.join(dir, 'pg'), { log })) log(`stopped the PostgreSQL of an earlier run in ${dir}`);
      await fs.rm(dir, { recursive: true, force: true });
      log(`removed ${dir}, left by an earlier run`);
    } catch (err) {
      log(`could not clean up ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
