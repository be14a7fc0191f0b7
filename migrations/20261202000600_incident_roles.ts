// Incident roles: a commander and a lead (one user each, or none) and the responders (users).
// Like created_by they are user ids without a foreign key (users may go); the incidents service
// checks on every write that each id is a live user of the incident's tenant.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incidents', (t) => {
    t.uuid('commander_id').nullable();
    t.uuid('lead_id').nullable();
    t.specificType('responder_ids', 'uuid[]').notNullable().defaultTo(knex.raw(`'{}'::uuid[]`));
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incidents', (t) => {
    t.dropColumn('responder_ids');
    t.dropColumn('lead_id');
    t.dropColumn('commander_id');
  });
}
