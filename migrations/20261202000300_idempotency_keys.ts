// Idempotency keys: the first response to a POST that carried an Idempotency-Key, kept per tenant,
// actor and key until it expires, so a retry gets that response again instead of a second write.
// A row is 'in_flight' while its first request runs (held by `owner` until `locked_until`), then
// 'done' with the response. Only a hash of the request body is kept, never the body itself.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    // users.id or api_keys.id: one actor's key never answers another actor's request.
    t.uuid('actor_id').notNullable();
    t.string('key', 255).notNullable();
    t.string('actor_type', 20).notNullable();
    t.string('method', 10).notNullable();
    t.text('path').notNullable();
    // sha256 (hex) of the canonical JSON of the request body.
    t.string('request_hash', 64).notNullable();
    t.string('state', 20).notNullable().checkIn(['in_flight', 'done'], 'idempotency_keys_state_check');
    t.uuid('owner').nullable();
    t.timestamp('locked_until', { useTz: true }).nullable();
    t.integer('status_code').nullable();
    t.jsonb('response_headers').nullable();
    // json, not jsonb: the replay sends the body byte for byte as it was first sent.
    t.json('response_body').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['tenant_id', 'actor_id', 'key'], { constraintName: 'idempotency_keys_pkey' });
    t.index(['expires_at'], 'idempotency_keys_expires_at_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
