// Per-entity impact: each affected entity may have its own impact (null: the incident's) and
// records when it became affected (started_at, kept while it stays on the list; the rows there
// are backfilled with their incident's creation time).
import type { Knex } from 'knex';

const IMPACT_TYPES = ['outage', 'degraded'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incident_affected_entities', (t) => {
    t.string('impact_type', 20).nullable().checkIn(IMPACT_TYPES, 'incident_affected_entities_impact_type_check');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`UPDATE incident_affected_entities a SET started_at = i.created_at FROM incidents i WHERE i.id = a.incident_id`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incident_affected_entities', (t) => {
    t.dropColumn('started_at');
    t.dropColumn('impact_type');
  });
}
