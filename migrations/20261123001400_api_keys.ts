// API keys: only a hash of the key is stored, with a short prefix to recognise it;
// revoked_at takes effect at once, last_used_at is bookkeeping.
import type { Knex } from 'knex';
import { rowVersion, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

const SCOPES = ['read', 'read_write'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'api_keys');
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('key_prefix', 16).notNullable();
    t.string('key_hash', 128).notNullable().unique({ indexName: 'api_keys_key_hash_unique' });
    t.string('scope', 20).notNullable().checkIn(SCOPES, 'api_keys_scope_check');
    timestamps(knex, t);
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.uuid('created_by').nullable();
    rowVersion(t);
    t.index(['user_id'], 'api_keys_user_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_keys');
}
