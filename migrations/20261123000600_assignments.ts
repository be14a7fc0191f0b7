// People assigned to catalog entities with a free-text role.
// entity_id is polymorphic, so it has no foreign key; the person link cascades.
import type { Knex } from 'knex';
import { tenantColumn, uuidPrimaryKey } from './lib/columns.js';

const ASSIGNABLE_ENTITY_TYPES = ['products', 'services', 'components', 'resources', 'repositories'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('entity_assignments', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'entity_assignments');
    t.string('entity_type', 30).notNullable().checkIn(ASSIGNABLE_ENTITY_TYPES, 'entity_assignments_entity_type_check');
    t.uuid('entity_id').notNullable();
    t.uuid('person_id').notNullable().references('id').inTable('people').onDelete('CASCADE');
    t.string('role', 50).notNullable(); // Lead, Engineer, Architect, On-Call, …
    t.unique(['entity_type', 'entity_id', 'person_id', 'role'], {
      indexName: 'entity_assignments_entity_person_role_unique',
    });
    t.index(['entity_type', 'entity_id'], 'entity_assignments_entity_index');
    t.index(['person_id'], 'entity_assignments_person_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('entity_assignments');
}
