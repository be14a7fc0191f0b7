// GET /events?entity_type=&entity_id= reads one record's (or one type's) events in seq order: this
// index finds them, in that order, without walking the tenant's whole change log.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('change_events', (t) => {
    t.index(['tenant_id', 'entity_type', 'entity_id', 'seq'], 'change_events_entity_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('change_events', (t) => {
    t.dropIndex(['tenant_id', 'entity_type', 'entity_id', 'seq'], 'change_events_entity_index');
  });
}
