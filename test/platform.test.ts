// Run-mode plumbing (embedded and cluster): config validation, the embedded PostgreSQL lifecycle (data kept
// across restarts, a server orphaned by a SIGKILLed run stopped first), db helpers, test support.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/platform/config.js';
import { openDatabase } from '../src/platform/database-runtime.js';
import { startServer } from '../src/app.js';
import { testConfig } from './support/server.js';
import type { Knex } from 'knex';
import { createKnex, isDatabaseReachable, isoTimestamp, migrateLatest, migrationsDir, MigrationFolder, runNamed } from '../src/platform/db.js';
import { findFreePort, isProcessAlive, startEmbeddedPostgres, stopStalePostgres, type EmbeddedPostgres } from '../src/platform/embedded-postgres.js';
import { toAppError } from '../src/platform/errors.js';
import { createLogger } from '../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';

const embeddedModule = fileURLToPath(new URL('../src/platform/embedded-postgres.ts', import.meta.url));

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

// Named and owned like test/support/postgres.ts's run dirs, so an interrupted run's leftovers
// (a server under <dir>/pg included) are swept by the next run.
async function tempDir(label: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `appinventory-test-pg-${label}-`));
  await fs.chmod(dir, 0o755);
  await fs.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  return dir;
}

describe('platform', () => {
  describe('config', () => {
    it('applies the defaults to an empty environment (embedded mode)', () => {
      const config = loadConfig({});
      assert.equal(config.port, 3000);
      assert.equal(config.host, '0.0.0.0');
      assert.equal(config.dataDir, path.resolve('data'));
      assert.equal(config.logLevel, 'info');
      assert.equal(config.dbPoolMax, 10);
      assert.equal(config.nodeId, `${os.hostname()}-${process.pid}`);
      assert.equal(config.mode, 'embedded');
      assert.equal(config.databaseUrl, undefined);
      assert.equal(config.redisUrl, undefined);
      assert.equal(config.jwtSecret, undefined);
      assert.deepEqual(config.http, {
        bodyMaxBytes: 262144,
        bodyMaxDepth: 32,
        hstsMaxAge: 0,
        trustProxy: false,
        idempotency: { ttlSeconds: 86400, waitMs: 10000, leaseMs: 60000 },
        graphMaxNodes: 1000,
      });
      assert.deepEqual(config.collab, { maxUpdateBytes: 1048576, maxDocumentBytes: 8388608, maxAwarenessBytes: 8192, awarenessPerSecond: 20 });
      assert.deepEqual(config.rateLimits, { loginFailuresPerAccountIp: 10, loginAttemptsPerIp: 100, signupsPerIp: 20 });
      assert.deepEqual(config.live, { socketsPerUser: 200, socketsPerTenant: 10_000, maxBufferedBytes: 8 * 1024 * 1024 });
    });

    it('reads TRUST_PROXY as express takes it', () => {
      assert.equal(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy, true);
      assert.equal(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy, false);
      assert.equal(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy, 2);
      assert.equal(loadConfig({ TRUST_PROXY: '127.0.0.1, ::1' }).http.trustProxy, '127.0.0.1,::1');
    });

    it('reads a full cluster environment', () => {
      const config = loadConfig({
        PORT: '8080',
        HOST: '127.0.0.1',
        DATABASE_URL: 'postgres://app:secret@db:5432/appinventory',
        REDIS_URL: 'redis://redis:6379',
        DATA_DIR: 'var/lib/app',
        JWT_SECRET: 'x'.repeat(32),
        LOG_LEVEL: 'debug',
        NODE_ID: 'app1',
        DB_POOL_MAX: '25',
        BODY_MAX_BYTES: '1048576',
        BODY_MAX_DEPTH: '20',
        HSTS_MAX_AGE: '31536000',
        GRAPH_MAX_NODES: '500',
        METRICS_TOKEN: 'metrics-token-0123456789',
        COLLAB_MAX_UPDATE_BYTES: '2097152',
        COLLAB_MAX_DOC_BYTES: '16777216',
        COLLAB_MAX_AWARENESS_BYTES: '4096',
        COLLAB_AWARENESS_PER_SECOND: '10',
        TRUST_PROXY: 'loopback, 10.0.0.0/8',
        LOGIN_FAILURES_PER_ACCOUNT_IP: '5',
        LOGIN_ATTEMPTS_PER_IP: '50',
        SIGNUPS_PER_IP: '3',
        SOCKETS_PER_USER: '20',
        SOCKETS_PER_TENANT: '500',
        SOCKET_MAX_BUFFERED_BYTES: '1048576',
        WEBHOOK_RETRY_BASE_MS: '500',
        WEBHOOK_RETRY_CAP_MS: '60000',
        WEBHOOK_MAX_FAILURES: '7',
        WEBHOOK_TIMEOUT_MS: '3000',
        WEBHOOK_POLL_MS: '1000',
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_DELIVERY: 'false',
        DERIVED_EVENTS: 'false',
        DERIVED_EVENTS_POLL_MS: '500',
        IDEMPOTENCY_TTL_SECONDS: '3600',
        IDEMPOTENCY_WAIT_MS: '5000',
        IDEMPOTENCY_LEASE_MS: '30000',
      });
      assert.deepEqual(config, {
        port: 8080,
        host: '127.0.0.1',
        databaseUrl: 'postgres://app:secret@db:5432/appinventory',
        redisUrl: 'redis://redis:6379',
        dataDir: path.resolve('var/lib/app'),
        jwtSecret: 'x'.repeat(32),
        logLevel: 'debug',
        nodeId: 'app1',
        dbPoolMax: 25,
        http: {
          bodyMaxBytes: 1048576,
          bodyMaxDepth: 20,
          hstsMaxAge: 31536000,
          metricsToken: 'metrics-token-0123456789',
          trustProxy: 'loopback,10.0.0.0/8',
          idempotency: { ttlSeconds: 3600, waitMs: 5000, leaseMs: 30000 },
          graphMaxNodes: 500,
        },
        collab: { maxUpdateBytes: 2097152, maxDocumentBytes: 16777216, maxAwarenessBytes: 4096, awarenessPerSecond: 10 },
        rateLimits: { loginFailuresPerAccountIp: 5, loginAttemptsPerIp: 50, signupsPerIp: 3 },
        live: { socketsPerUser: 20, socketsPerTenant: 500, maxBufferedBytes: 1048576 },
        webhooks: { retryBaseMs: 500, retryCapMs: 60_000, maxFailures: 7, timeoutMs: 3000, pollMs: 1000, allowPrivate: true, deliver: false },
        derivedEvents: { run: false, pollMs: 500 },
        mode: 'cluster',
        seedSampleData: false,
        statementTimeoutMs: 30_000,
      });
    });

    it('loads the demo tenant by default in embedded mode only, and as SEED_SAMPLE_DATA says', () => {
      const cluster = { DATABASE_URL: 'postgres://db/app', JWT_SECRET: 'x'.repeat(32) };
      assert.equal(loadConfig({}).seedSampleData, true);
      assert.equal(loadConfig(cluster).seedSampleData, false, 'a production database never gets the published demo password unasked');
      assert.equal(loadConfig({ ...cluster, SEED_SAMPLE_DATA: 'true' }).seedSampleData, true);
      assert.equal(loadConfig({ SEED_SAMPLE_DATA: 'false' }).seedSampleData, false);
    });

    it('refuses to serve in cluster mode without JWT_SECRET, before anything starts', () => {
      const cluster = { DATABASE_URL: 'postgres://db/app' };
      assert.equal(loadConfig(cluster).mode, 'cluster', 'a CLI (migrate) needs no secret');
      const err = (() => {
        try {
          loadConfig(cluster, { serve: true });
        } catch (e) {
          return e as ConfigError;
        }
        return assert.fail('expected a ConfigError');
      })();
      assert.deepEqual(
        err.issues.map((i) => i.variable),
        ['JWT_SECRET'],
      );
      assert.equal(loadConfig({}, { serve: true }).mode, 'embedded', 'embedded mode keeps a generated secret');
    });

    it('treats empty variables as unset', () => {
      const config = loadConfig({ PORT: '', DATABASE_URL: '', REDIS_URL: ' ', LOG_LEVEL: '' });
      assert.equal(config.port, 3000);
      assert.equal(config.mode, 'embedded');
    });

    const bad: Array<[string, NodeJS.ProcessEnv, string]> = [
      ['PORT', { PORT: 'abc' }, 'PORT: expected an integer 0-65535'],
      ['PORT', { PORT: '70000' }, 'PORT: expected an integer 0-65535'],
      ['PORT', { PORT: '-1' }, 'PORT: expected an integer 0-65535'],
      ['DATABASE_URL', { DATABASE_URL: 'mysql://db/app' }, 'DATABASE_URL: expected a PostgreSQL URL'],
      ['DATABASE_URL', { DATABASE_URL: 'not a url' }, 'DATABASE_URL: expected a PostgreSQL URL'],
      ['REDIS_URL', { DATABASE_URL: 'postgres://db/app', REDIS_URL: 'http://redis' }, 'REDIS_URL: expected a Redis URL'],
      ['REDIS_URL', { REDIS_URL: 'redis://redis:6379' }, 'REDIS_URL: requires DATABASE_URL'],
      ['JWT_SECRET', { JWT_SECRET: 'too-short' }, 'JWT_SECRET: expected at least 32 characters'],
      ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent'],
      ['NODE_ID', { NODE_ID: 'has space' }, 'NODE_ID: expected 1-128 characters'],
      ['DB_POOL_MAX', { DB_POOL_MAX: '0' }, 'DB_POOL_MAX: expected an integer 1-1000'],
      ['DB_POOL_MAX', { DB_POOL_MAX: '2.5' }, 'DB_POOL_MAX: expected an integer 1-1000'],
      ['SEED_SAMPLE_DATA', { SEED_SAMPLE_DATA: 'yes' }, 'SEED_SAMPLE_DATA: expected true or false'],
      ['STATEMENT_TIMEOUT_MS', { STATEMENT_TIMEOUT_MS: '-5' }, 'STATEMENT_TIMEOUT_MS: expected an integer 0-3600000'],
      ['BODY_MAX_BYTES', { BODY_MAX_BYTES: '10' }, 'BODY_MAX_BYTES: expected an integer 1024-67108864'],
      ['BODY_MAX_DEPTH', { BODY_MAX_DEPTH: '1' }, 'BODY_MAX_DEPTH: expected an integer 2-256'],
      ['BODY_MAX_DEPTH', { BODY_MAX_DEPTH: '5000' }, 'BODY_MAX_DEPTH: expected an integer 2-256'],
      ['HSTS_MAX_AGE', { HSTS_MAX_AGE: '1y' }, 'HSTS_MAX_AGE: expected an integer 0-63072000'],
      ['GRAPH_MAX_NODES', { GRAPH_MAX_NODES: '0' }, 'GRAPH_MAX_NODES: expected an integer 1-10000'],
      ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }, 'METRICS_TOKEN: expected 16-256 printable characters'],
      ['METRICS_TOKEN', { METRICS_TOKEN: 'has a space in the middle' }, 'METRICS_TOKEN: expected 16-256 printable characters'],
      ['COLLAB_MAX_UPDATE_BYTES', { COLLAB_MAX_UPDATE_BYTES: '100' }, 'COLLAB_MAX_UPDATE_BYTES: expected an integer 1024-268435456'],
      [
        'COLLAB_MAX_UPDATE_BYTES',
        { COLLAB_MAX_DOC_BYTES: '65536', COLLAB_MAX_UPDATE_BYTES: '131072' },
        'COLLAB_MAX_UPDATE_BYTES: must not exceed COLLAB_MAX_DOC_BYTES',
      ],
      ['COLLAB_MAX_DOC_BYTES', { COLLAB_MAX_DOC_BYTES: '8M' }, 'COLLAB_MAX_DOC_BYTES: expected an integer 4096-1073741824'],
      ['COLLAB_MAX_AWARENESS_BYTES', { COLLAB_MAX_AWARENESS_BYTES: '2000000' }, 'COLLAB_MAX_AWARENESS_BYTES: expected an integer 256-1048576'],
      ['COLLAB_AWARENESS_PER_SECOND', { COLLAB_AWARENESS_PER_SECOND: '0' }, 'COLLAB_AWARENESS_PER_SECOND: expected an integer 1-10000'],
      ['TRUST_PROXY', { TRUST_PROXY: 'yes please' }, 'TRUST_PROXY: expected true, false, a hop count'],
      ['LOGIN_FAILURES_PER_ACCOUNT_IP', { LOGIN_FAILURES_PER_ACCOUNT_IP: '0' }, 'LOGIN_FAILURES_PER_ACCOUNT_IP: expected an integer 1-1000000'],
      ['LOGIN_ATTEMPTS_PER_IP', { LOGIN_ATTEMPTS_PER_IP: 'many' }, 'LOGIN_ATTEMPTS_PER_IP: expected an integer 1-1000000'],
      ['SIGNUPS_PER_IP', { SIGNUPS_PER_IP: '-1' }, 'SIGNUPS_PER_IP: expected an integer 1-1000000'],
      ['SOCKETS_PER_USER', { SOCKETS_PER_USER: '0' }, 'SOCKETS_PER_USER: expected an integer 1-1000000'],
      ['SOCKETS_PER_TENANT', { SOCKETS_PER_TENANT: '1.5' }, 'SOCKETS_PER_TENANT: expected an integer 1-10000000'],
      ['SOCKET_MAX_BUFFERED_BYTES', { SOCKET_MAX_BUFFERED_BYTES: '10' }, 'SOCKET_MAX_BUFFERED_BYTES: expected an integer 1024-1073741824'],
      ['IDEMPOTENCY_TTL_SECONDS', { IDEMPOTENCY_TTL_SECONDS: '10' }, 'IDEMPOTENCY_TTL_SECONDS: expected an integer 60-2592000'],
      ['IDEMPOTENCY_WAIT_MS', { IDEMPOTENCY_WAIT_MS: '1s' }, 'IDEMPOTENCY_WAIT_MS: expected an integer 0-600000'],
      ['IDEMPOTENCY_LEASE_MS', { IDEMPOTENCY_LEASE_MS: '0' }, 'IDEMPOTENCY_LEASE_MS: expected an integer 1000-3600000'],
    ];
    for (const [variable, env, expected] of bad) {
      it(`names ${variable} when it is ${JSON.stringify(Object.values(env).at(-1))}`, () => {
        const err = configError(env);
        assert.match(err.message, /^Invalid configuration: /);
        assert.ok(err.message.includes(expected), err.message);
        assert.deepEqual(
          err.issues.map((i) => i.variable),
          [variable],
        );
      });
    }

    it('reports every bad variable at once', () => {
      const err = configError({ PORT: 'x', LOG_LEVEL: 'loud', REDIS_URL: 'redis://r' });
      assert.deepEqual(err.issues.map((i) => i.variable).sort(), ['LOG_LEVEL', 'PORT', 'REDIS_URL']);
    });

    it('never echoes a secret value', () => {
      const err = configError({ DATABASE_URL: 'mysql://app:hunter2-secret@db/app', JWT_SECRET: 'short-secret-value', METRICS_TOKEN: 'short-metrics' });
      assert.ok(!err.message.includes('hunter2-secret'), err.message);
      assert.ok(!err.message.includes('short-secret-value'), err.message);
      assert.ok(!err.message.includes('short-metrics'), err.message);
    });
  });

  describe('logger', () => {
    it('writes JSON lines at or above its level, warn and error to stderr, with child bindings', () => {
      const out: string[] = [];
      const err: string[] = [];
      const logger = createLogger('info', { node: 'n1' }, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
      logger.debug('hidden');
      logger.child({ requestId: 'r1' }).info('hello', { n: 1 });
      logger.error('boom', { err: new Error('bad') });
      assert.equal(out.length, 1);
      assert.equal(err.length, 1);
      const line = JSON.parse(out[0]!) as Record<string, unknown>;
      assert.equal(line.level, 'info');
      assert.equal(line.msg, 'hello');
      assert.equal(line.node, 'n1');
      assert.equal(line.requestId, 'r1');
      assert.equal(line.n, 1);
      assert.equal((JSON.parse(err[0]!) as { err: { message: string } }).err.message, 'bad');
    });
  });

  describe('db helpers', () => {
    let db: TestDatabase;
    before(async () => {
      // These tests change the schema and read the migrator's table: the owner's work.
      db = await createTestDatabase({ as: 'owner' });
    });
    after(async () => {
      await db?.drop();
    });

    it('parses int8 as a number', async () => {
      const { rows } = await db.knex.raw<{ rows: Array<{ n: unknown; big: unknown }> }>('select count(*) as n, 9007199254740991::int8 as big from pg_class');
      assert.equal(typeof rows[0]!.n, 'number');
      assert.equal(rows[0]!.big, Number.MAX_SAFE_INTEGER);
    });

    it('reads timestamptz as the ISO strings a Date parse would give, whatever the fraction, zone or era', async () => {
      // Every number of fraction digits (PostgreSQL drops trailing zeros), days across the years,
      // and the forms the fast path hands to the driver's parse: another session time zone, BC, infinity.
      const sql = `select (timestamptz '1970-01-01 00:00:00+00' + (i * interval '37 days 1 hour 3 minutes 7.123457 seconds')
                      + (i % 7) * interval '0.1 seconds') as t from generate_series(0, 400) i`;
      const positional = (zone: string) =>
        db.knex.transaction(async (trx) => {
          await trx.raw(`set local time zone '${zone}'`);
          const iso = await runNamed(
            trx,
            `${sql} union all select timestamptz '0044-03-15 12:00:00+00 BC' union all select 'infinity'::timestamptz`,
            {},
            { isoTimestamps: true },
          );
          const dates = await runNamed(trx, `${sql} union all select timestamptz '0044-03-15 12:00:00+00 BC' union all select 'infinity'::timestamptz`, {});
          return { iso: iso.rows.map((r) => r.t), dates: dates.rows.map((r) => r.t) };
        });
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
        const { iso, dates } = await positional(zone);
        assert.equal(iso.length, 403);
        assert.deepEqual(
          iso,
          dates.map((d) => (d instanceof Date ? d.toISOString() : d)),
          `in ${zone}`,
        );
      }
      assert.equal(isoTimestamp('2026-12-03 15:49:28.291456+00'), '2026-12-03T15:49:28.291Z');
      assert.equal(isoTimestamp('2026-12-03 15:49:28.5+00'), '2026-12-03T15:49:28.500Z');
      assert.equal(isoTimestamp('2026-12-03 15:49:28+00'), '2026-12-03T15:49:28.000Z');
      assert.equal(isoTimestamp('2026-12-03 21:19:28.5+05:30'), '2026-12-03T15:49:28.500Z');
    });

    it('gives every test database the migrations, named without their extension', async () => {
      const expected = (await new MigrationFolder().getMigrations()).map((m) => m.name);
      const applied = (await db.knex('knex_migrations').orderBy('id').pluck('name')) as string[];
      assert.deepEqual(applied, expected);
      assert.ok(applied.every((name) => !/\.(ts|js)$/.test(name)));
    });

    it('keeps test databases apart', async () => {
      const other = await createTestDatabase();
      try {
        await db.knex.raw('create table only_here (id int)');
        const { rows } = await other.knex.raw<{ rows: unknown[] }>("select 1 from pg_tables where tablename = 'only_here'");
        assert.equal(rows.length, 0);
      } finally {
        await other.drop();
      }
      const { rows } = await db.knex.raw<{ rows: unknown[] }>('select 1 from pg_database where datname = ?', [new URL(other.url).pathname.slice(1)]);
      assert.equal(rows.length, 0, 'drop() removes the database');
    });

    it('reports whether the database is reachable', async () => {
      assert.equal(await isDatabaseReachable(db.knex), true);
      const warnings: string[] = [];
      const logger = createLogger('warn', {}, { stdout: () => {}, stderr: (l) => warnings.push(l) });
      const nowhere = createKnex(`postgres://u:p@127.0.0.1:${await findFreePort()}/x`, { logger });
      try {
        assert.equal(await isDatabaseReachable(nowhere, 1_000), false);
        assert.match(warnings.join(''), /ECONNREFUSED/, 'knex warnings go to our logger');
      } finally {
        await nowhere.destroy();
      }
    });

    it('runs named statements positionally, on the pool or inside a transaction, announcing each', async () => {
      await db.knex.raw('create table named_rows (id int, at timestamptz)');
      const seen: string[] = [];
      const onQuery = (q: { sql: string }) => seen.push(q.sql);
      db.knex.on('query', onQuery);
      try {
        // A name used twice is one parameter; a name that is no binding (to_char's MI) and casts stay as written.
        const sql = `SELECT :a::int + :a::int AS twice, :b::text AS b, to_char(timestamptz '2026-12-01 10:20:30Z' AT TIME ZONE 'UTC', 'HH24:MI') AS hm`;
        const { rows } = await runNamed(db.knex, sql, { a: 2, b: 'x' });
        assert.deepEqual(rows, [{ twice: 4, b: 'x', hm: '10:20' }]);
        assert.equal(
          seen.at(-1),
          `SELECT $1::int + $1::int AS twice, $2::text AS b, to_char(timestamptz '2026-12-01 10:20:30Z' AT TIME ZONE 'UTC', 'HH24:MI') AS hm`,
        );
        assert.deepEqual((await runNamed(db.knex, sql, { a: 5, b: 'y' })).rows, [{ twice: 10, b: 'y', hm: '10:20' }]);

        const rolledBack = new Error('rolled back on purpose');
        await assert.rejects(
          db.knex.transaction(async (trx) => {
            await trx('named_rows').insert({ id: 1 });
            const inside = await runNamed(trx, 'SELECT count(*) AS n FROM named_rows WHERE id = :id', { id: 1 });
            assert.deepEqual(inside.rows, [{ n: 1 }], 'the transaction sees its own uncommitted row');
            const outside = await runNamed(db.knex, 'SELECT count(*) AS n FROM named_rows WHERE id = :id', { id: 1 });
            assert.deepEqual(outside.rows, [{ n: 0 }], 'the pool does not');
            throw rolledBack;
          }),
          (err) => err === rolledBack,
        );
        let ended: Knex.Transaction | undefined;
        await db.knex.transaction(async (trx) => {
          ended = trx;
        });
        await assert.rejects(runNamed(ended!, 'SELECT 1 AS one', {}), /already ended/);
        assert.ok(seen.some((q) => q === 'SELECT count(*) AS n FROM named_rows WHERE id = $1'));
      } finally {
        db.knex.off('query', onQuery);
      }
    });

    it('prepares named statements once per connection and survives a schema change under them', async () => {
      const warnings: string[] = [];
      const logger = createLogger('warn', {}, { stdout: () => {}, stderr: (l) => warnings.push(l) });
      const one = createKnex(db.url, { poolMax: 1, logger }); // one connection: the second run reuses its prepared statement
      try {
        await one.raw('create table prepared_rows (id int)');
        await one.raw('insert into prepared_rows values (1)');
        const sql = 'SELECT * FROM prepared_rows WHERE id = :id';
        assert.deepEqual((await runNamed(one, sql, { id: 1 })).rows, [{ id: 1 }]);
        const { rows: prepared } = await one.raw<{ rows: { statement: string }[] }>('SELECT statement FROM pg_prepared_statements');
        assert.deepEqual(
          prepared.map((p) => p.statement),
          ['SELECT * FROM prepared_rows WHERE id = $1'],
        );
        // A migration adds a column: the prepared statement's result type changed under it.
        await one.raw("alter table prepared_rows add column label text default 'x'");
        assert.deepEqual((await runNamed(one, sql, { id: 1 })).rows, [{ id: 1, label: 'x' }], 'outside a transaction it runs afresh');
        await one.raw('alter table prepared_rows add column more int default 2');
        await assert.rejects(
          one.transaction((trx) => runNamed(trx, sql, { id: 1 })),
          (err: unknown) => toAppError(err)?.status === 503,
        );
        assert.deepEqual((await runNamed(one, sql, { id: 1 })).rows, [{ id: 1, label: 'x', more: 2 }], 'a new connection prepares it again');
        assert.match(warnings.join(''), /outlived a schema change/, 'the pool dropped the connection');
      } finally {
        await one.destroy();
      }
    });

    it('a connection cut under a transaction (no SQLSTATE: PostgreSQL went away) is a 503, not a 500', async () => {
      // A TCP relay in front of the real server, so the connection can be cut without PostgreSQL
      // saying why: what a restarted or crashed server looks like to node-postgres.
      const target = new URL(db.url);
      const links = new Set<net.Socket>();
      // The server listens on a unix socket (its directory is the URL's host) or on TCP.
      const socketDir = decodeURIComponent(target.hostname);
      const relay = net.createServer((client) => {
        const upstream = socketDir.startsWith('/')
          ? net.connect(path.join(socketDir, `.s.PGSQL.${target.port}`))
          : net.connect(Number(target.port), target.hostname);
        for (const [a, b] of [
          [client, upstream],
          [upstream, client],
        ]) {
          links.add(a);
          a.on('error', () => {});
          a.pipe(b);
          a.on('close', () => b.destroy());
        }
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
      const relayed = new URL(db.url);
      relayed.hostname = '127.0.0.1';
      relayed.port = String((relay.address() as net.AddressInfo).port);
      const cut = createKnex(relayed.toString(), { poolMax: 1 });
      try {
        const inTransaction = await cut
          .transaction(async (trx) => {
            await trx.raw('select 1');
            for (const link of links) link.destroy();
            await trx.raw('select 1');
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(inTransaction, 'the transaction failed');
        assert.equal(toAppError(inTransaction)?.status, 503, String(inTransaction as Error));
        const next = await cut.raw('select 1').then(
          () => undefined,
          (e: unknown) => e,
        );
        if (next) assert.equal(toAppError(next)?.status, 503, String(next as Error));
      } finally {
        await cut.destroy();
        for (const link of links) link.destroy();
        await new Promise((resolve) => relay.close(resolve));
      }
    });

    it('migrates an empty database from several nodes at once: one runs the migrations, the others wait', async () => {
      for (let round = 0; round < 3; round += 1) {
        const fresh = await createTestDatabase({ migrated: false });
        const nodes = [createKnex(fresh.url, { poolMax: 2 }), createKnex(fresh.url, { poolMax: 2 }), createKnex(fresh.url, { poolMax: 2 })];
        try {
          const applied = await Promise.all(nodes.map((k) => migrateLatest(k)));
          const expected = (await new MigrationFolder().getMigrations()).map((m) => m.name);
          assert.deepEqual(applied.flat().sort(), [...expected].sort(), 'every migration applied exactly once');
          assert.deepEqual(await fresh.knex('knex_migrations').orderBy('id').pluck('name'), expected);
        } finally {
          await Promise.all(nodes.map((k) => k.destroy()));
          await fresh.drop();
        }
      }
    });

    it('gives the runtime pool a statement timeout (a 503), but not the migrations', async () => {
      const runtime = await openDatabase(loadConfig({ DATABASE_URL: db.url, STATEMENT_TIMEOUT_MS: '200', LOG_LEVEL: 'error' }), createLogger('error'));
      const dir = await tempDir('slow-migrations');
      try {
        const err = await runtime.knex.raw('select pg_sleep(1)').then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err, 'the slow statement was cancelled');
        assert.equal(toAppError(err)?.status, 503);
        assert.deepEqual((await runtime.knex.raw('select 1 as one')).rows, [{ one: 1 }], 'the pool goes on');
      } finally {
        await runtime.stop();
      }
      // A migration slower than the request timeout still runs to the end.
      const fresh = await createTestDatabase({ migrated: false });
      const slow = await openDatabase(loadConfig({ DATABASE_URL: fresh.url, STATEMENT_TIMEOUT_MS: '200', LOG_LEVEL: 'error' }), createLogger('error'));
      try {
        await fs.writeFile(path.join(dir, '001_slow.js'), "export const up = (k) => k.raw('select pg_sleep(0.5)'); export const down = async () => {};");
        assert.deepEqual(await migrateLatest(slow.knex, dir), ['001_slow']);
      } finally {
        await slow.stop();
        await fresh.drop();
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('loads .ts and .js migrations but never .d.ts files', async () => {
      assert.ok(path.isAbsolute(migrationsDir));
      const dir = await tempDir('migrations');
      try {
        for (const f of ['002_b.js', '001_a.ts', '001_a.d.ts', '002_b.d.ts', '003_c.js.map', 'README.md']) {
          await fs.writeFile(path.join(dir, f), '');
        }
        await fs.mkdir(path.join(dir, 'lib'));
        const found = await new MigrationFolder(dir).getMigrations();
        assert.deepEqual(found, [
          { name: '001_a', file: '001_a.ts' },
          { name: '002_b', file: '002_b.js' },
        ]);
        await fs.writeFile(path.join(dir, '001_a.js'), '');
        await assert.rejects(new MigrationFolder(dir).getMigrations(), /same name/);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });

  const root = fileURLToPath(new URL('..', import.meta.url));
  /** Runs src/main.ts with `env` until it prints its banner (then `stop`, by default SIGTERM) or exits; its output and exit code. */
  function runMain(
    env: NodeJS.ProcessEnv,
    stop: (child: ChildProcess) => void = (child) => void child.kill('SIGTERM'),
  ): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let stopped = false;
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('is running at') && !stopped) {
          stopped = true;
          stop(child);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  }

  describe('start-up (npm start, cluster mode)', function () {
    this.timeout(60_000);
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase({ migrated: false });
    });
    after(async () => {
      await db?.drop();
    });

    it('stops on a missing JWT_SECRET before it touches the database', async () => {
      const { code, out } = await runMain({ DATABASE_URL: db.url });
      assert.equal(code, 1);
      assert.match(out, /JWT_SECRET: is required in cluster mode/);
      const { rows } = await query(db.url, "select count(*)::int as n from pg_tables where schemaname = 'public'");
      assert.equal(rows[0].n, 0, 'no migration ran');
    });

    it('migrates but loads no demo tenant into an empty cluster database unless SEED_SAMPLE_DATA=true', async () => {
      const first = await runMain({ DATABASE_URL: db.url, JWT_SECRET: 'x'.repeat(40) });
      assert.match(first.out, /is running at/);
      assert.doesNotMatch(first.out, /demo tenant/);
      assert.equal((await query(db.url, 'select count(*)::int as n from tenants')).rows[0].n, 0);
      const seeded = await runMain({ DATABASE_URL: db.url, JWT_SECRET: 'x'.repeat(40), SEED_SAMPLE_DATA: 'true' });
      assert.match(seeded.out, /demo tenant/);
      assert.equal((await query(db.url, 'select count(*)::int as n from tenants')).rows[0].n, 1);
    });
  });

  describe('embedded PostgreSQL', function () {
    this.timeout(120_000);
    const dirs: string[] = [];
    const servers: EmbeddedPostgres[] = [];
    const children: ChildProcess[] = [];

    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      for (const server of servers) await server.stop();
      // A failed test may leave the child's server orphaned: stop it before removing its dir.
      for (const dir of dirs) {
        await stopStalePostgres(path.join(dir, 'pg')).catch(() => {});
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    async function start(dataDir: string): Promise<EmbeddedPostgres> {
      const server = await startEmbeddedPostgres({ dataDir });
      servers.push(server);
      return server;
    }

    it('shuts down gracefully (exit 0) when one Ctrl-C arrives twice, from the terminal and relayed by npm or tsx', async () => {
      const dataDir = await tempDir('pg-signal');
      dirs.push(dataDir);
      const { code, out } = await runMain({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, (child) => {
        child.kill('SIGINT');
        // The relayed copy, a moment later (two signals sent at once may merge into one).
        setTimeout(() => child.kill('SIGINT'), 10);
      });
      assert.doesNotMatch(out, /forced exit/);
      assert.equal(code, 0, out);
    });

    it('restarts its own PostgreSQL when it dies (healthz says so meanwhile), and gives up when it cannot', async () => {
      const dataDir = await tempDir('pg-watch');
      dirs.push(dataDir);
      const fatal: Error[] = [];
      const runtime = await openDatabase(
        loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' }),
        createLogger('error', {}, { stdout: () => {}, stderr: () => {} }),
        {
          onFatal: (err) => fatal.push(err),
          restartBackoffMs: [200, 200],
        },
      );
      const app = await startServer({
        config: testConfig(),
        knex: runtime.knex,
        logger: createLogger('error', {}, { stdout: () => {}, stderr: () => {} }),
        health: runtime.alive,
      });
      try {
        const healthz = async () => (await fetch(`${app.url}/healthz`)).status;
        assert.equal(await healthz(), 200);
        const postmaster = () => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
        const first = postmaster();
        process.kill(first, 'SIGKILL');
        await waitFor(async () => (await healthz()) === 503, 'healthz reports the dead database');
        await waitFor(async () => (await healthz()) === 200, 'the server is back', 30_000);
        assert.notEqual(postmaster(), first);
        assert.deepEqual((await runtime.knex.raw('select 1 as one')).rows, [{ one: 1 }], 'the pool reconnects');
        // Its configuration unreadable meanwhile, the server cannot come back: the node is told to give up.
        const conf = path.join(dataDir, 'pg', 'postgresql.conf');
        process.kill(postmaster(), 'SIGKILL');
        await waitFor(() => !isProcessAlive(postmaster()), 'the postmaster is gone');
        await fs.chmod(conf, 0o000);
        try {
          await waitFor(() => fatal.length > 0, 'onFatal was called', 30_000);
          assert.match(fatal[0]!.message, /could not be restarted/);
          assert.equal(await healthz(), 503);
        } finally {
          await fs.chmod(conf, 0o600);
        }
      } finally {
        await app.close();
        await runtime.stop();
      }
    });

    it("leaves signal handling to us: the library's exit hooks are removed", async () => {
      const dataDir = await tempDir('pg-hooks');
      dirs.push(dataDir);
      await (await start(dataDir)).stop();
      const requireFromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
      const exitHook = requireFromLibrary('async-exit-hook') as { hookedEvents(): string[] };
      assert.deepEqual(exitHook.hookedEvents(), []);
    });

    it('keeps its data and its port across a stop and a start, leaving no process behind', async () => {
      const dataDir = await tempDir('pg-restart');
      dirs.push(dataDir);
      const first = await start(dataDir);
      assert.match(first.connectionString, /\/appinventory$/);
      await query(first.migrationConnectionString, "create table kept (v text); insert into kept values ('still here')");
      await first.stop();
      assert.equal(isProcessAlive(first.pid), false, 'postmaster gone after stop()');
      await first.stop(); // idempotent

      const second = await start(dataDir);
      assert.equal(second.port, first.port);
      const { rows } = await query(second.migrationConnectionString, 'select v from kept');
      assert.deepEqual(rows, [{ v: 'still here' }]);
      await second.stop();
      assert.equal(isProcessAlive(second.pid), false);
    });

    it('stops a server left running by a SIGKILLed owner, and refuses one whose owner is alive', async () => {
      const dataDir = await tempDir('pg-stale');
      dirs.push(dataDir);
      // One node process (not `npx tsx`, whose wrappers would survive a SIGKILL of the outer pid)
      // starts the server and idles, as `npm start` would.
      const script = [
        `import { startEmbeddedPostgres } from ${JSON.stringify(pathToFileURL(embeddedModule).href)};`,
        `const pg = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });`,
        `process.stdout.write(JSON.stringify({ pid: pg.pid, url: pg.migrationConnectionString }) + '\\n');`,
        'setInterval(() => {}, 1 << 30);',
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const started = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { pid: number; url: string });
        });
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      await query(started.url, "create table survived (v text); insert into survived values ('yes')");

      await assert.rejects(startEmbeddedPostgres({ dataDir }), /in use by a running process/);
      assert.ok(isProcessAlive(started.pid), 'a live owner keeps its server');

      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      assert.ok(isProcessAlive(started.pid), 'the orphaned server outlives its SIGKILLed owner');

      const server = await start(dataDir);
      assert.equal(isProcessAlive(started.pid), false, 'the stale server was stopped first');
      assert.notEqual(server.pid, started.pid);
      const { rows } = await query(server.migrationConnectionString, 'select v from survived');
      assert.deepEqual(rows, [{ v: 'yes' }]);
      await server.stop();
      assert.equal(isProcessAlive(server.pid), false);
    });
  });

  describe('test Redis', function () {
    requireRedis(this);

    it('can be killed and restarted on the same port', async function () {
      const redis = (await getRedis())!;
      if (!redis.managed) this.skip(); // REDIS_URL: not ours to kill
      const client = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      try {
        assert.equal(await client.ping(), 'PONG');
        await redis.stop();
        await redis.restart();
        assert.equal(await client.ping(), 'PONG', 'the client reconnects to the restarted server');
        assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
      } finally {
        client.disconnect();
      }
    });
  });
});
