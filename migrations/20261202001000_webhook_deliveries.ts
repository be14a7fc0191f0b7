// Every delivery attempt of a webhook: which event (seq), how it went, when the next try is due.
import type { Knex } from 'knex';
import { tenantColumn, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_deliveries', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'webhook_deliveries');
    t.uuid('webhook_id').notNullable().references('id').inTable('webhooks').onDelete('CASCADE');
    t.bigInteger('seq').notNullable();
    t.string('status', 20).notNullable().checkIn(['succeeded', 'failed'], 'webhook_deliveries_status_check');
    t.integer('response_code').nullable();
    t.integer('attempt').notNullable();
    t.text('error').nullable();
    t.timestamp('next_attempt_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['webhook_id', 'created_at', 'id'], 'webhook_deliveries_webhook_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
}
