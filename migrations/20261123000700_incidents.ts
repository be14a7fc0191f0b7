// Incidents, their timeline and the entities they affect.
// Timeline entries carry tenant_id too, so the one tenant-scoping mechanism covers them.
import type { Knex } from 'knex';
import { authorship, rowVersion, softDelete, tenantColumn, timestamps, uuidPrimaryKey } from './lib/columns.js';

const SEVERITIES = ['critical', 'major', 'minor'];
const INCIDENT_STATUS = ['investigating', 'identified', 'monitoring', 'resolved'];
const IMPACT_TYPES = ['outage', 'degraded'];
const AFFECTABLE_ENTITY_TYPES = ['services', 'components', 'resources'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('incidents', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'incidents');
    t.string('title', 500).notNullable();
    t.text('description').nullable();
    t.string('severity', 20).notNullable().checkIn(SEVERITIES, 'incidents_severity_check');
    t.string('status', 20).notNullable().defaultTo('investigating').checkIn(INCIDENT_STATUS, 'incidents_status_check');
    t.string('impact_type', 20).notNullable().defaultTo('degraded').checkIn(IMPACT_TYPES, 'incidents_impact_type_check');
    timestamps(knex, t);
    t.timestamp('resolved_at', { useTz: true }).nullable();
    authorship(t);
    softDelete(t);
    rowVersion(t);
    t.index(['severity'], 'incidents_severity_index');
    t.index(['status'], 'incidents_status_index');
    t.index(['impact_type'], 'incidents_impact_type_index');
  });

  await knex.schema.createTable('incident_timeline_entries', (t) => {
    uuidPrimaryKey(knex, t);
    tenantColumn(t, 'incident_timeline_entries');
    t.uuid('incident_id').notNullable().references('id').inTable('incidents').onDelete('CASCADE');
    t.timestamp('timestamp', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('status', 20).notNullable().checkIn(INCIDENT_STATUS, 'incident_timeline_entries_status_check');
    t.text('message').notNullable();
    t.uuid('created_by').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Serves both "entries of an incident" and reading them oldest first.
    t.index(['incident_id', 'timestamp'], 'incident_timeline_entries_incident_id_timestamp_index');
    t.index(['timestamp'], 'incident_timeline_entries_timestamp_index');
  });

  await knex.schema.createTable('incident_affected_entities', (t) => {
    t.uuid('incident_id').notNullable().references('id').inTable('incidents').onDelete('CASCADE');
    t.string('entity_type', 20).notNullable().checkIn(AFFECTABLE_ENTITY_TYPES, 'incident_affected_entities_entity_type_check');
    t.uuid('entity_id').notNullable(); // polymorphic, no foreign key
    t.primary(['incident_id', 'entity_type', 'entity_id'], {
      constraintName: 'incident_affected_entities_pkey',
    });
    t.index(['entity_type', 'entity_id'], 'incident_affected_entities_entity_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('incident_affected_entities');
  await knex.schema.dropTable('incident_timeline_entries');
  await knex.schema.dropTable('incidents');
}
