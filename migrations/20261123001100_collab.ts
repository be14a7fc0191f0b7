// Co-editing storage: one document per entity record, an append-only log of Yjs
// updates, and a compacted snapshot covering the log up to snapshot_update_id.
import type { Knex } from 'knex';
import { tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('collab_documents', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'collab_documents');
    t.string('entity_type', 30).notNullable();
    t.uuid('entity_id').notNullable();
    t.binary('snapshot').nullable(); // Yjs state as of snapshot_update_id
    t.bigInteger('snapshot_update_id').notNullable().defaultTo(0);
    timestamps(knex, t);
    t.unique(['tenant_id', 'entity_type', 'entity_id'], {
      indexName: 'collab_documents_tenant_entity_unique',
    });
  });

  await knex.schema.createTable('collab_updates', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('document_id').notNullable().references('id').inTable('collab_documents').onDelete('CASCADE');
    t.binary('update').notNullable();
    t.uuid('actor_id').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['document_id', 'id'], 'collab_updates_document_id_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('collab_updates');
  await knex.schema.dropTable('collab_documents');
}
