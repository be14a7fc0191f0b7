// Who may connect to the database and what each role may do, through real clients: the embedded
// server's random passwords and unix socket, the owner that migrates, and the runtime role the app
// runs as, which can read and append to the audit trail and the change log but never rewrite them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServer } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/platform/config.js';
import { openDatabase, type DatabaseRuntime } from '../src/platform/database-runtime.js';
import { startEmbeddedPostgres, stopStalePostgres } from '../src/platform/embedded-postgres.js';
import { createLogger } from '../src/platform/logger.js';
import { createTestDatabase } from './support/postgres.js';
import { ApiClient, testConfig } from './support/server.js';

const quiet = () => createLogger('error', {}, { stdout: () => {}, stderr: () => {} });
const CREDENTIALS = 'pg-credentials.json';

async function tempDir(label: string, parent = os.tmpdir()): Promise<string> {
  const dir = await fs.mkdtemp(path.join(parent, `appinventory-test-pg-${label}-`));
  await fs.chmod(dir, 0o755); // as root the server runs as `postgres` and must reach it
  await fs.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  return dir;
}

async function connect(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** The connection string with another user and password (same host, port and database). */
function as(connectionString: string, user: string, password: string): string {
  const url = new URL(connectionString);
  url.username = user;
  url.password = password;
  return url.toString();
}

async function refusedLogin(connectionString: string): Promise<void> {
  await assert.rejects(connect(connectionString), (err: Error & { code?: string }) => {
    assert.equal(err.code, '28P01', `password refused (${String(err)})`);
    return true;
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function denied(client: pg.Client, sql: string): Promise<void> {
  await assert.rejects(
    client.query(sql),
    (err: { code?: string; message?: string }) => {
      assert.equal(err.code, '42501', `${sql}: expected insufficient_privilege, got ${err.code} ${err.message}`);
      return true;
    },
    sql,
  );
}

function credentialsOf(dataDir: string): Record<string, string> {
  return JSON.parse(readFileSync(path.join(dataDir, CREDENTIALS), 'utf8')) as Record<string, string>;
}

describe('database roles', function () {
  this.timeout(120_000);
  const dirs: string[] = [];

  after(async () => {
    for (const dir of dirs) {
      await stopStalePostgres(path.join(dir, 'pg')).catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  describe('embedded mode (npm start)', () => {
    let dataDir: string;
    let runtime: DatabaseRuntime;
    let admin: ApiClient;
    let serviceId: string;
    let closeApp: () => Promise<void>;

    before(async () => {
      dataDir = await tempDir('roles');
      dirs.push(dataDir);
      runtime = await openDatabase(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' }), quiet());
      await runtime.migrate();
      const app = await startServer({ config: testConfig(), knex: runtime.knex, logger: quiet() });
      closeApp = () => app.close();
      // A write and a read end to end, through HTTP, on the runtime role's pool.
      const slug = `roles-${randomBytes(3).toString('hex')}`;
      const signup = await new ApiClient(app.url).post('/api/v1/auth/signup', {
        tenant_name: `Tenant ${slug}`,
        tenant_slug: slug,
        email: `admin@${slug}.example`,
        password: 'correct horse battery',
        display_name: 'Admin',
      });
      assert.equal(signup.status, 201, JSON.stringify(signup.body));
      admin = new ApiClient(app.url, signup.body.data.access_token as string);
      const created = await admin.post('/api/v1/services', { name: `svc-${slug}`, type: 'api' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      serviceId = created.body.data.id as string;
    });

    after(async () => {
      await closeApp?.();
      await runtime?.stop();
    });

    it('keeps random passwords in a file of mode 0600 and refuses the old fixed password', async () => {
      const file = path.join(dataDir, CREDENTIALS);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const credentials = Object.values(credentialsOf(dataDir));
      assert.equal(credentials.length, 3, 'superuser, owner and runtime role');
      for (const password of credentials) {
        assert.notEqual(password, 'postgres');
        assert.ok(password.length >= 32, 'a long random password');
      }
      assert.equal(new Set(credentials).size, 3, 'each role its own');
      await refusedLogin(as(runtime.connectionString, 'postgres', 'postgres'));
      await refusedLogin(as(runtime.connectionString, 'appinventory_app', 'postgres'));
    });

    it('listens on a unix socket inside the data directory and on no TCP port', async () => {
      const host = new pg.Client({ connectionString: runtime.connectionString }).host;
      assert.ok(host.startsWith(path.join(dataDir, 'pg')), `socket directory ${host} inside the data directory`);
      const { port } = JSON.parse(readFileSync(path.join(dataDir, 'embedded-postgres.json'), 'utf8')) as { port: number };
      assert.ok(Number.isInteger(port));
      assert.equal(await tcpAccepts(port), false, `nothing accepts on 127.0.0.1:${port}`);
      const client = await connect(runtime.connectionString);
      try {
        const { rows } = await client.query("SELECT setting FROM pg_settings WHERE name = 'listen_addresses'");
        assert.deepEqual(rows, [{ setting: '' }]);
      } finally {
        await client.end();
      }
    });

    it('runs the app as a runtime role that is no superuser and owns nothing; the owner owns the schema', async () => {
      const { rows } = await runtime.knex.raw<{ rows: { user: string; rolsuper: boolean; owned: number }[] }>(`
        SELECT current_user AS user, r.rolsuper,
               (SELECT count(*) FROM pg_class WHERE relowner = r.oid AND relnamespace = 'public'::regnamespace) AS owned
        FROM pg_roles r WHERE r.rolname = current_user`);
      assert.deepEqual(rows, [{ user: 'appinventory_app', rolsuper: false, owned: 0 }]);
      const owners = await runtime.knex('pg_tables').where({ schemaname: 'public' }).distinct('tableowner').pluck('tableowner');
      assert.deepEqual(owners, ['appinventory_owner']);
      const read = await admin.get(`/api/v1/services/${serviceId}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.data.id, serviceId);
      assert.ok(
        Number(
          await runtime
            .knex('audit_logs')
            .where({ entity_id: serviceId })
            .count('* as n')
            .first()
            .then((r) => r?.n),
        ) >= 1,
      );
      assert.ok(
        Number(
          await runtime
            .knex('change_events')
            .where({ entity_id: serviceId })
            .count('* as n')
            .first()
            .then((r) => r?.n),
        ) >= 1,
      );
    });

    it('the runtime role cannot rewrite the audit trail or the change log, switch their triggers off, or reach the server', async () => {
      const client = await connect(runtime.connectionString);
      try {
        const before = (await client.query('SELECT (SELECT count(*) FROM audit_logs) AS audit, (SELECT count(*) FROM change_events) AS events')).rows[0];
        for (const table of ['audit_logs', 'change_events']) {
          await denied(client, `UPDATE ${table} SET action = 'tampered'`);
          await denied(client, `DELETE FROM ${table}`);
          await denied(client, `TRUNCATE ${table}`);
          await denied(client, `ALTER TABLE ${table} DISABLE TRIGGER ALL`);
          await denied(client, `DROP TABLE ${table}`);
          await denied(client, `COPY ${table} FROM PROGRAM 'true'`);
        }
        await denied(client, 'ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete');
        await denied(client, 'DROP TRIGGER audit_logs_no_update_delete ON audit_logs');
        await denied(client, 'DROP TRIGGER audit_logs_no_truncate ON audit_logs');
        await denied(client, 'DROP FUNCTION audit_logs_append_only()');
        await denied(client, 'SET session_replication_role = replica');
        await denied(client, "COPY (SELECT 1) TO PROGRAM 'true'");
        await denied(client, 'CREATE TABLE squatter (id int)');
        await denied(client, 'DELETE FROM knex_migrations');
        await denied(client, 'ALTER ROLE appinventory_app SUPERUSER');
        const after = (await client.query('SELECT (SELECT count(*) FROM audit_logs) AS audit, (SELECT count(*) FROM change_events) AS events')).rows[0];
        assert.deepEqual(after, before, 'nothing was removed');
      } finally {
        await client.end();
      }
      // and the app goes on writing: an update bumps the tenant's event counter and appends.
      const patched = await admin.patch(`/api/v1/services/${serviceId}`, { description: 'still writable' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
    });
  });

  describe('an embedded data directory', () => {
    it('made with the old fixed password keeps working: the password is rotated and its objects handed to the owner', async () => {
      const dataDir = await tempDir('roles-legacy');
      dirs.push(dataDir);
      // Put the directory back as the old code left it: superuser postgres/postgres owning everything.
      const first = await startEmbeddedPostgres({ dataDir });
      const su = await connect(first.adminConnectionString);
      await su.query("ALTER ROLE postgres PASSWORD 'postgres'");
      await su.query('ALTER DATABASE appinventory OWNER TO postgres');
      await su.end();
      const legacy = await connect(as(first.adminConnectionString.replace(/\/postgres$/, '/appinventory'), 'postgres', 'postgres'));
      await legacy.query("CREATE TABLE legacy_rows (v text); INSERT INTO legacy_rows VALUES ('kept')");
      await legacy.query('CREATE FUNCTION legacy_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$');
      await legacy.end();
      await first.stop();
      await fs.rm(path.join(dataDir, CREDENTIALS));

      const notices: string[] = [];
      const second = await startEmbeddedPostgres({ dataDir, notice: (m) => notices.push(m) });
      try {
        assert.equal(statSync(path.join(dataDir, CREDENTIALS)).mode & 0o777, 0o600);
        assert.notEqual(credentialsOf(dataDir).superuser, 'postgres');
        await refusedLogin(as(second.adminConnectionString, 'postgres', 'postgres'));
        assert.match(notices.join('\n'), /old fixed password/);
        const owner = await connect(second.migrationConnectionString);
        try {
          const { rows } = await owner.query(`
            SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 'legacy_rows') AS table_owner,
                   (SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'legacy_fn') AS function_owner,
                   (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS database_owner,
                   (SELECT v FROM legacy_rows) AS v`);
          assert.deepEqual(rows, [
            { table_owner: 'appinventory_owner', function_owner: 'appinventory_owner', database_owner: 'appinventory_owner', v: 'kept' },
          ]);
        } finally {
          await owner.end();
        }
      } finally {
        await second.stop();
      }
    });

    it('whose socket path would be too long listens on 127.0.0.1, with the random password all the same', async () => {
      const parent = await tempDir('roles-long');
      dirs.push(parent);
      const dataDir = path.join(parent, 'd'.repeat(Math.max(1, 100 - parent.length)));
      const server = await startEmbeddedPostgres({ dataDir });
      try {
        assert.ok(Buffer.byteLength(path.join(dataDir, 'pg', `.s.PGSQL.${server.port}`)) > 103);
        assert.equal(new URL(server.connectionString).hostname, '127.0.0.1');
        assert.equal(await tcpAccepts(server.port), true);
        await refusedLogin(as(server.adminConnectionString, 'postgres', 'postgres'));
        assert.notEqual(credentialsOf(dataDir).superuser, 'postgres');
        const client = await connect(server.connectionString);
        const { rows } = await client.query('SELECT current_user AS user');
        await client.end();
        assert.deepEqual(rows, [{ user: 'appinventory_app' }]);
      } finally {
        await server.stop();
      }
    });
  });

  describe('cluster mode', () => {
    it('migrates as MIGRATION_DATABASE_URL and runs as DATABASE_URL, which may only append to the audit trail', async function () {
      const fresh = await createTestDatabase({ migrated: false });
      if (fresh.ownerUrl === fresh.runtimeUrl) {
        await fresh.drop();
        this.skip(); // a DATABASE_URL test run has one role only
      }
      const database = await openDatabase(loadConfig({ DATABASE_URL: fresh.runtimeUrl, MIGRATION_DATABASE_URL: fresh.ownerUrl, LOG_LEVEL: 'error' }), quiet());
      try {
        assert.ok((await database.migrate()).length > 0);
        const [tenant] = await database
          .knex('tenants')
          .insert({ name: 'Cluster', slug: `c-${randomBytes(3).toString('hex')}` })
          .returning('id');
        await database.knex('audit_logs').insert({ tenant_id: tenant.id, action: 'create', entity_type: 'services' });
        await database.knex('tenant_event_counters').insert({ tenant_id: tenant.id });
        await database.knex('tenant_event_counters').where({ tenant_id: tenant.id }).increment('last_seq', 1);
        const client = await connect(fresh.runtimeUrl);
        try {
          await denied(client, "UPDATE audit_logs SET action = 'tampered'");
          await denied(client, 'DELETE FROM change_events');
          await denied(client, 'DROP TRIGGER audit_logs_no_update_delete ON audit_logs');
        } finally {
          await client.end();
        }
      } finally {
        await database.stop();
        await fresh.drop();
      }
    });

    it('refuses MIGRATION_DATABASE_URL without DATABASE_URL (the embedded database makes its own roles)', () => {
      assert.throws(
        () => loadConfig({ MIGRATION_DATABASE_URL: 'postgres://owner:pw@db.example/app' }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.deepEqual(
            err.issues.map((i) => i.variable),
            ['MIGRATION_DATABASE_URL'],
          );
          return true;
        },
      );
    });

    it('warns loudly when MIGRATION_DATABASE_URL is not set', async () => {
      const fresh = await createTestDatabase({ migrated: false });
      const lines: string[] = [];
      const logger = createLogger('warn', {}, { stdout: (l) => lines.push(l), stderr: (l) => lines.push(l) });
      const database = await openDatabase(loadConfig({ DATABASE_URL: fresh.ownerUrl, LOG_LEVEL: 'warn' }), logger);
      try {
        assert.match(lines.join(''), /MIGRATION_DATABASE_URL is not set/);
        assert.ok((await database.migrate()).length > 0, 'and migrates all the same');
        assert.match(lines.join(''), /same role/);
      } finally {
        await database.stop();
        await fresh.drop();
      }
    });

    it("runs the test suite's app databases as the runtime role too", async function () {
      const db = await createTestDatabase();
      try {
        if (db.ownerUrl === db.runtimeUrl) this.skip(); // a DATABASE_URL test run has one role only
        const { rows } = await db.knex.raw<{ rows: { rolsuper: boolean }[] }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
        assert.deepEqual(rows, [{ rolsuper: false }]);
        await assert.rejects(db.knex('audit_logs').delete(), /permission denied/);
      } finally {
        await db.drop();
      }
    });
  });
});
