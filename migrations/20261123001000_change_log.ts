// The per-tenant change log (outbox) behind live events. A tenant's counter row is
// locked and bumped in the writing transaction, so seq is gapless and in commit order.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenant_event_counters', (t) => {
    t.uuid('tenant_id').primary().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('last_seq').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('change_events', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigInteger('seq').notNullable();
    t.string('type', 60).notNullable(); // <entity_type>.<action>, e.g. incidents.status_changed
    t.string('entity_type', 50).notNullable();
    t.uuid('entity_id').nullable();
    t.string('action', 30).notNullable();
    t.string('actor_type', 20).notNullable();
    t.uuid('actor_id').nullable();
    t.jsonb('data').notNullable().defaultTo(knex.raw(`'{}'::jsonb`));
    t.jsonb('changes').nullable();
    t.string('request_id', 100).nullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The primary key also serves replay: WHERE tenant_id = ? AND seq > ? ORDER BY seq.
    t.primary(['tenant_id', 'seq'], { constraintName: 'change_events_pkey' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('change_events');
  await knex.schema.dropTable('tenant_event_counters');
}
