// The migrations go up and down cleanly and the schema enforces what the services rely on:
// append-only audit log, name uniqueness among live rows, cascades, search index usability.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { migrateLatest, rollbackAll } from '../src/platform/db.js';
import { createTestDatabase } from './support/postgres.js';

interface MigrationsDatabase {
  knex: Knex;
  stop(): Promise<void>;
}

/** An empty database from the run's PostgreSQL; the tests migrate it with the app's own loader. */
async function startTestDatabase(): Promise<MigrationsDatabase> {
  const db = await createTestDatabase({ migrated: false });
  return { knex: db.knex, stop: () => db.drop() };
}

const EXPECTED_TABLES = [
  'tenants',
  'users',
  'teams',
  'people',
  'products',
  'services',
  'components',
  'resources',
  'repositories',
  'product_services',
  'service_components',
  'service_resources',
  'service_dependencies',
  'component_dependencies',
  'component_service_dependencies',
  'service_repositories',
  'component_repositories',
  'entity_assignments',
  'incidents',
  'incident_timeline_entries',
  'incident_affected_entities',
  'scorecards',
  'scorecard_criteria',
  'audit_logs',
  'tenant_event_counters',
  'change_events',
  'collab_documents',
  'collab_updates',
  'entity_permissions',
  'comments',
  'dashboards',
  'widgets',
  'dashboard_filters',
  'api_keys',
  'idempotency_keys',
  'webhooks',
  'webhook_deliveries',
  'change_log_cursors',
  'scorecard_scores',
  'dashboard_data_digests',
].sort();

const KNEX_TABLES = ['knex_migrations', 'knex_migrations_lock'];

async function publicTables(knex: Knex): Promise<string[]> {
  const rows = await knex('pg_tables').where({ schemaname: 'public' }).select('tablename');
  return rows.map((r: { tablename: string }) => r.tablename).sort();
}

async function expectPgError(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (err: { code?: string; message: string }) => {
    assert.equal(err.code, code, `expected SQLSTATE ${code}, got ${err.code}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function createTenant(knex: Knex): Promise<string> {
  const slug = `t-${randomUUID().slice(0, 8)}`;
  const [row] = await knex('tenants').insert({ name: slug, slug }).returning('id');
  return row.id;
}

describe('migrations', function () {
  this.timeout(120_000);
  let db: MigrationsDatabase;
  let knex: Knex;

  before(async () => {
    db = await startTestDatabase();
    knex = db.knex;
  });

  after(async () => {
    await db?.stop();
  });

  describe('up and down', () => {
    it('latest creates every table', async () => {
      await migrateLatest(knex);
      assert.deepEqual(await publicTables(knex), [...EXPECTED_TABLES, ...KNEX_TABLES].sort());
    });

    it('rolling back all migrations leaves only knex’s own tables', async () => {
      await rollbackAll(knex);
      assert.deepEqual(await publicTables(knex), KNEX_TABLES);
      const leftovers = await knex.raw(`
        SELECT proname FROM pg_proc WHERE proname = 'audit_logs_append_only'
        UNION ALL SELECT extname FROM pg_extension WHERE extname IN ('pg_trgm', 'uuid-ossp')
      `);
      assert.deepEqual(leftovers.rows, []);
    });

    it('latest works again after a full rollback', async () => {
      const applied = await migrateLatest(knex);
      assert.ok(applied.length > 0);
      assert.deepEqual(await publicTables(knex), [...EXPECTED_TABLES, ...KNEX_TABLES].sort());
    });
  });

  describe('constraints', () => {
    let tenantId: string;

    before(async () => {
      await migrateLatest(knex);
      tenantId = await createTenant(knex);
    });

    it('audit_logs refuses UPDATE, DELETE and TRUNCATE', async () => {
      const [entry] = await knex('audit_logs').insert({ tenant_id: tenantId, action: 'create', entity_type: 'services' }).returning('*');
      assert.equal(entry.actor_type, 'user');
      assert.deepEqual(entry.metadata, {});

      await expectPgError(knex('audit_logs').where({ id: entry.id }).update({ action: 'tampered' }), 'P0001', /audit_logs is append-only/);
      await expectPgError(knex('audit_logs').where({ id: entry.id }).delete(), 'P0001');
      await expectPgError(knex.raw('TRUNCATE audit_logs'), 'P0001');
      const [row] = await knex('audit_logs').where({ id: entry.id });
      assert.equal(row.action, 'create');
    });

    it('a name is unique among live rows and reusable after a soft delete', async () => {
      const service = { tenant_id: tenantId, name: 'payments-api', type: 'api' };
      const [first] = await knex('services').insert(service).returning('*');
      assert.equal(first.row_version, 1);
      assert.equal(first.status, 'active');
      assert.equal(first.operational_status, 'operational');

      await expectPgError(knex('services').insert(service), '23505');

      await knex('services').where({ id: first.id }).update({ deleted_at: knex.fn.now() });
      const [second] = await knex('services').insert(service).returning('id');
      assert.notEqual(second.id, first.id);

      // Restoring the first one would now clash with the live second one.
      await expectPgError(knex('services').where({ id: first.id }).update({ deleted_at: null }), '23505');

      // Another tenant may use the same name.
      const otherTenant = await createTenant(knex);
      await knex('services').insert({ ...service, tenant_id: otherTenant });
    });

    it('enum values are CHECK constraints', async () => {
      await expectPgError(knex('services').insert({ tenant_id: tenantId, name: 'bad-type', type: 'mainframe' }), '23514');
      await expectPgError(knex('incidents').insert({ tenant_id: tenantId, title: 'x', severity: 'catastrophic' }), '23514');
    });

    it('deleting a scorecard deletes its criteria', async () => {
      const [scorecard] = await knex('scorecards')
        .insert({ tenant_id: tenantId, name: 'Production readiness', entity_types: JSON.stringify(['services']) })
        .returning('id');
      await knex('scorecard_criteria').insert([
        { tenant_id: tenantId, scorecard_id: scorecard.id, name: 'Has team', check_type: 'has_field', check_config: { field: 'team_id' } },
        { tenant_id: tenantId, scorecard_id: scorecard.id, name: 'Has lead', check_type: 'has_assignment', check_config: { value: 'Lead' }, weight: 3 },
      ]);
      assert.equal((await knex('scorecard_criteria').where({ scorecard_id: scorecard.id })).length, 2);

      await knex('scorecards').where({ id: scorecard.id }).delete();
      assert.equal((await knex('scorecard_criteria').where({ scorecard_id: scorecard.id })).length, 0);
    });

    it('a tenant-wide grant (user_id NULL) is unique per record', async () => {
      const grant = { tenant_id: tenantId, entity_type: 'services', entity_id: randomUUID(), user_id: null, level: 'VIEW' };
      await knex('entity_permissions').insert(grant);
      await expectPgError(knex('entity_permissions').insert({ ...grant, level: 'EDIT' }), '23505');
    });

    it('text search written with the indexed expression can use the trigram index', async () => {
      await knex.transaction(async (trx) => {
        // Tables are tiny here; forbid the sequential scan so the plan shows what is usable.
        await trx.raw('SET LOCAL enable_seqscan = off');
        const plan = await trx.raw(`EXPLAIN SELECT id FROM services WHERE (name || ' ' || coalesce(description, '')) ILIKE ?`, ['%payment%']);
        const text = plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
        assert.match(text, /services_search_trgm_index/);
      });
    });

    it("one record's events are read in seq order from the entity index, not the tenant's log", async () => {
      await knex.transaction(async (trx) => {
        await trx.raw('SET LOCAL enable_seqscan = off');
        const plan = await trx.raw(
          `EXPLAIN SELECT * FROM change_events WHERE tenant_id = ? AND entity_type = 'services' AND entity_id = ? AND seq > 0 ORDER BY seq LIMIT 101`,
          [tenantId, randomUUID()],
        );
        const text = plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
        assert.match(text, /change_events_entity_index/);
        assert.doesNotMatch(text, /\bSort\b/, 'the index gives the seq order');
      });
    });

    it('each searched kind has a trigram index on its name over live rows (the cross-kind search)', async () => {
      for (const table of ['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories', 'incidents']) {
        const column = table === 'incidents' ? 'title' : 'name';
        const rows = (await knex('pg_indexes')
          .where({ schemaname: 'public', indexname: `${table}_name_trgm_index` })
          .select('indexdef')) as { indexdef: string }[];
        assert.equal(rows.length, 1, `${table}_name_trgm_index exists`);
        assert.match(rows[0]!.indexdef, new RegExp(`USING gin \\(${column} gin_trgm_ops\\) WHERE \\(deleted_at IS NULL\\)`));
      }
    });
  });
});
