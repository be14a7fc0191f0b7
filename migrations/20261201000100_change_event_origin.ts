// Every change-log row says where the change came from (rest, coediting, system, seed), so readers
// such as co-editing can tell their own write-back's echo from a new change. Internal only: the
// public envelope (sockets, GET /events) never carries it.
import type { Knex } from 'knex';

export const CHANGE_ORIGINS = ['rest', 'coediting', 'system', 'seed'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('change_events', (t) => {
    t.text('origin').notNullable().defaultTo('rest');
    t.check(`origin IN (${CHANGE_ORIGINS.map((o) => `'${o}'`).join(', ')})`, [], 'change_events_origin_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('change_events', (t) => {
    t.dropChecks('change_events_origin_check');
    t.dropColumn('origin');
  });
}
