// Incident roles: a commander and a lead (one user each, or none) and the responders (users, in
// the order given). Each id must be a live user of the tenant (else a 422 at the field); every
// change becomes a `role_changed` timeline entry naming who got or lost which role.
import { scoped } from '../../platform/tenancy.js';
import { UnprocessableEntity, type FieldIssue } from '../../platform/errors.js';
import type { WriteScope } from '../../platform/write.js';
import { User } from '../users/model.js';
import type { IncidentRole } from './model.js';

export interface Roles {
  commander_id: string | null;
  lead_id: string | null;
  responder_ids: string[];
}

export interface RoleInput {
  commander_id?: string | null;
  lead_id?: string | null;
  responder_ids?: string[];
}

/** What a role_changed entry carries in `data`. */
export interface RoleChange {
  role: IncidentRole;
  added: string[];
  removed: string[];
}

/** A timeline entry the service is about to write (kind, message, data). */
export interface PlannedEntry {
  kind: 'role_changed' | 'affected_changed';
  message: string;
  data: Record<string, unknown>;
}

/** The roles after the input is applied to `current` (responders deduplicated, order kept). */
export function nextRoles(current: Roles, input: RoleInput): Roles {
  return {
    commander_id: input.commander_id === undefined ? current.commander_id : input.commander_id,
    lead_id: input.lead_id === undefined ? current.lead_id : input.lead_id,
    responder_ids: input.responder_ids === undefined ? current.responder_ids : [...new Set(input.responder_ids)],
  };
}

export const NO_ROLES: Roles = { commander_id: null, lead_id: null, responder_ids: [] };

/** Who got or lost which role between `before` and `after` (one change per role that moved). */
export function roleChanges(before: Roles, after: Roles): RoleChange[] {
  const changes: RoleChange[] = [];
  const single = (role: IncidentRole, a: string | null, b: string | null) => {
    if (a !== b) changes.push({ role, added: b ? [b] : [], removed: a ? [a] : [] });
  };
  single('commander', before.commander_id, after.commander_id);
  single('lead', before.lead_id, after.lead_id);
  const added = after.responder_ids.filter((id) => !before.responder_ids.includes(id));
  const removed = before.responder_ids.filter((id) => !after.responder_ids.includes(id));
  if (added.length || removed.length) changes.push({ role: 'responder', added, removed });
  return changes;
}

/**
 * Checks that the ids the input names are live users of this tenant (422 at `commander_id`,
 * `lead_id`, `responder_ids.<i>`) and plans one role_changed entry per changed role; one query
 * reads the names of everyone involved (a user who is gone since is named by id).
 */
export async function planRoleEntries(w: WriteScope, input: RoleInput, before: Roles, after: Roles): Promise<PlannedEntry[]> {
  const changes = roleChanges(before, after);
  const named = [input.commander_id, input.lead_id, ...(input.responder_ids ?? [])].filter((id): id is string => !!id);
  const involved = [...new Set([...named, ...changes.flatMap((c) => [...c.added, ...c.removed])])];
  if (involved.length === 0) return [];
  const rows = await scoped(User, w).whereIn('id', involved).select('id', 'display_name');
  const names = new Map(rows.map((r) => [r.id, r.display_name]));
  const issues: FieldIssue[] = [];
  const check = (path: string, id: string | null | undefined) => {
    if (id && !names.has(id)) issues.push({ path, message: `no user with id ${id} in this tenant` });
  };
  check('commander_id', input.commander_id);
  check('lead_id', input.lead_id);
  input.responder_ids?.forEach((id, i) => check(`responder_ids.${i}`, id));
  if (issues.length) throw UnprocessableEntity('The request refers to users that do not exist.', issues);
  const nameOf = (id: string) => names.get(id) ?? `user ${id}`;
  return changes.map((c) => ({ kind: 'role_changed', message: roleMessage(c, nameOf), data: { ...c } }));
}

function roleMessage(c: RoleChange, nameOf: (id: string) => string): string {
  const list = (ids: string[]) => ids.map(nameOf).join(', ');
  if (c.role !== 'responder') {
    if (c.added.length && c.removed.length) return `${nameOf(c.added[0]!)} replaces ${nameOf(c.removed[0]!)} as ${c.role}`;
    return c.added.length ? `${nameOf(c.added[0]!)} is now ${c.role}` : `${nameOf(c.removed[0]!)} is no longer ${c.role}`;
  }
  const parts = [];
  if (c.added.length) parts.push(`responders added: ${list(c.added)}`);
  if (c.removed.length) parts.push(`responders removed: ${list(c.removed)}`);
  const text = parts.join('; ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
