// Dashboards with their widgets (grid layout {x,y,w,h} plus config) and filters.
// Widgets and filters carry tenant_id for uniform tenant scoping and go with their dashboard.
import type { Knex } from 'knex';
import { authorship, liveUniqueIndexSql, rowVersion, softDelete, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('dashboards', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'dashboards');
    t.string('name', 255).notNullable();
    t.text('description').nullable();
    authorship(t);
    timestamps(knex, t);
    softDelete(t);
    rowVersion(t);
  });
  await knex.raw(liveUniqueIndexSql('dashboards', 'name'));

  await knex.schema.createTable('widgets', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'widgets');
    t.uuid('dashboard_id').notNullable().references('id').inTable('dashboards').onDelete('CASCADE');
    t.string('title', 255).notNullable();
    t.string('widget_type', 50).notNullable();
    t.string('source_entity_type', 30).nullable();
    t.uuid('source_entity_id').nullable();
    t.jsonb('layout').notNullable().defaultTo(knex.raw(`'{"x":0,"y":0,"w":4,"h":3}'::jsonb`));
    t.jsonb('config').notNullable().defaultTo(knex.raw(`'{}'::jsonb`));
    timestamps(knex, t);
    rowVersion(t);
    t.index(['dashboard_id'], 'widgets_dashboard_id_index');
  });

  await knex.schema.createTable('dashboard_filters', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'dashboard_filters');
    t.uuid('dashboard_id').notNullable().references('id').inTable('dashboards').onDelete('CASCADE');
    t.string('filter_type', 50).notNullable();
    t.string('target_column', 100).notNullable();
    t.jsonb('config').notNullable().defaultTo(knex.raw(`'{}'::jsonb`));
    t.integer('position').notNullable().defaultTo(0);
    timestamps(knex, t);
    t.index(['dashboard_id', 'position'], 'dashboard_filters_dashboard_id_position_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dashboard_filters');
  await knex.schema.dropTable('widgets');
  await knex.schema.dropTable('dashboards');
}
