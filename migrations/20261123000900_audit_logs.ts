// The audit log. It is append-only at the database: a trigger refuses UPDATE,
// DELETE and TRUNCATE, so not even a buggy service or a hand-written query can rewrite history.
// tenant_id deliberately has no foreign key: the trail outlives what it describes.
import type { Knex } from 'knex';

const ACTOR_TYPES = ['user', 'api_key', 'system'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_logs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('tenant_id').notNullable();
    t.uuid('user_id').nullable(); // NULL for system actions
    t.string('actor_type', 20).notNullable().defaultTo('user').checkIn(ACTOR_TYPES, 'audit_logs_actor_type_check');
    t.string('action', 50).notNullable();
    t.string('entity_type', 50).notNullable();
    t.uuid('entity_id').nullable();
    t.string('entity_name', 255).nullable(); // denormalized for display
    t.jsonb('changes').nullable(); // {field: {old, new}}
    t.jsonb('metadata').defaultTo(knex.raw(`'{}'::jsonb`)); // request id, ip, user agent
    t.timestamp('timestamp', { useTz: true }).notNullable().defaultTo(knex.fn.now());

    t.index(['tenant_id'], 'audit_logs_tenant_id_index');
    t.index(['user_id'], 'audit_logs_user_id_index');
    t.index(['action'], 'audit_logs_action_index');
    t.index(['entity_type'], 'audit_logs_entity_type_index');
    t.index(['entity_id'], 'audit_logs_entity_id_index');
    t.index(['timestamp'], 'audit_logs_timestamp_index');
    t.index(['tenant_id', 'entity_type', 'entity_id'], 'audit_logs_tenant_entity_index');
  });
  // Recent events first, per tenant.
  await knex.raw('CREATE INDEX audit_logs_tenant_timestamp_index ON audit_logs (tenant_id, "timestamp" DESC)');

  await knex.raw(`
    CREATE FUNCTION audit_logs_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = 'P0001';
    END;
    $$
  `);
  await knex.raw(`
    CREATE TRIGGER audit_logs_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()
  `);
  await knex.raw(`
    CREATE TRIGGER audit_logs_no_truncate
    BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs');
  await knex.raw('DROP TRIGGER IF EXISTS audit_logs_no_update_delete ON audit_logs');
  await knex.schema.dropTable('audit_logs');
  await knex.raw('DROP FUNCTION IF EXISTS audit_logs_append_only()');
}
