// Every change event the services record, by entity type: what the change log, GET /events and
// the live `change` event can carry. The AsyncAPI document lists exactly these, and
// test/asyncapi.test.ts checks that every `record()` call in src/ names one of them.
import type { ChangeAction } from '../../platform/write.js';
import { CATALOG_TYPES } from '../catalog/kinds.js';

export interface EventTypeEntry {
  actions: readonly ChangeAction[];
  /** What `data` holds (per action where it differs). */
  data: string;
}

const LIFECYCLE = ['created', 'updated', 'deleted', 'restored'] as const;
const restRecord = (path: string) => `The record as \`GET /api/v1/${path}/{id}\` returns it, after the change`;
const ADMIN_ONLY = ' Readers who are not admins receive `{id}` only, and `changes: null`.';

export const CHANGE_EVENT_TYPES: Readonly<Record<string, EventTypeEntry>> = {
  ...Object.fromEntries(CATALOG_TYPES.map((type) => [type, { actions: LIFECYCLE, data: restRecord(type) }])),
  incidents: {
    actions: [...LIFECYCLE, 'status_changed', 'timeline_entry'],
    data:
      `${restRecord('incidents')}; for \`incidents.timeline_entry\` the new timeline entry ` +
      '(`POST /api/v1/incidents/{id}/updates`), recorded after the `incidents.status_changed` it may cause',
  },
  scorecards: {
    actions: [...LIFECYCLE, 'score_changed'],
    data:
      `${restRecord('scorecards')}; for \`scorecards.score_changed\` (appended after commit, when a change of an entity or of an incident ` +
      'affecting it moves its score or level on the scorecard) `{scorecard_id, scorecard_name, entity_type, entity_id, entity_name, score, level, ' +
      'previous_score, previous_level}`, previous ones null when the entity had no score there before (created or restored); a change to the ' +
      'scorecard itself re-scores its entities without an event each: its own `scorecards.updated` says so, and `/scorecards/{id}/results` has them',
  },
  dashboards: {
    actions: [...LIFECYCLE, 'data_changed'],
    data:
      `${restRecord('dashboards')}, with its widgets and filters; for \`dashboards.data_changed\` (appended after commit, when a change ` +
      'moves the data of some of its widgets) `{dashboard_id, dashboard_name, row_version, widgets}`, `widgets` being those whose data changed, ' +
      'each as `GET /api/v1/dashboards/{id}/data` returns it; an edit of the dashboard itself is announced by its own `dashboards.updated`',
  },
  comments: { actions: ['created', 'updated', 'deleted'], data: restRecord('comments') },
  users: { actions: ['created', 'updated', 'deleted'], data: `${restRecord('users')}.${ADMIN_ONLY}` },
  api_keys: { actions: ['created', 'deleted'], data: `The key as \`GET /api/v1/api-keys\` lists it (never the key itself).${ADMIN_ONLY}` },
  entity_permissions: {
    actions: ['created', 'updated', 'deleted'],
    data: `The grant as \`GET /api/v1/<collection>/{id}/permissions\` lists it.${ADMIN_ONLY}`,
  },
  webhooks: {
    actions: ['created', 'updated', 'deleted', 'disabled'],
    data: `The webhook as \`GET /api/v1/webhooks/{id}\` returns it (never its secret); \`webhooks.disabled\` when delivery stopped after the configured number of consecutive failures.${ADMIN_ONLY}`,
  },
  tenants: { actions: ['updated'], data: 'The tenant (`id`, `name`, `slug`, `is_active`): its activation changed' },
};

/** Every `<entity_type>.<action>` the change log can hold. */
export function changeEventTypeNames(): string[] {
  return Object.entries(CHANGE_EVENT_TYPES).flatMap(([type, entry]) => entry.actions.map((action) => `${type}.${action}`));
}
