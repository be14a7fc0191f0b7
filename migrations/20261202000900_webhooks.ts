// Outbound webhooks: one row per endpoint, which is also its delivery cursor (last_delivered_seq)
// and the row its one worker locks (FOR UPDATE SKIP LOCKED) while a request is in flight.
import type { Knex } from 'knex';
import { rowVersion, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhooks', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'webhooks');
    t.string('url', 2048).notNullable();
    t.jsonb('entity_types').nullable();
    t.jsonb('types').nullable();
    t.string('secret', 128).notNullable();
    t.bigInteger('last_delivered_seq').notNullable().defaultTo(0);
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).nullable();
    t.timestamp('disabled_at', { useTz: true }).nullable();
    t.uuid('created_by').nullable();
    timestamps(knex, t);
    rowVersion(t);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhooks');
}
