// Timeline entries get a kind: 'update' (a message, with or without a status move: every entry
// so far), 'role_changed' and 'affected_changed' (written by the incident's own edits), and the
// details of the change in `data` (who got or lost which role; which entities were added or removed).
import type { Knex } from 'knex';

const KINDS = ['update', 'role_changed', 'affected_changed'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incident_timeline_entries', (t) => {
    t.string('kind', 30).notNullable().defaultTo('update').checkIn(KINDS, 'incident_timeline_entries_kind_check');
    t.jsonb('data').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incident_timeline_entries', (t) => {
    t.dropColumn('data');
    t.dropColumn('kind');
  });
}
