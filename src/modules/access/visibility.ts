// The one visibility module: what a reader of the change log may see of an event (and of an audit
// entry, in a record's history), and which committed events take access away (sockets
// disconnected, co-editing connections closed or re-checked). GET /events, record histories, the
// live-event stream and co-editing all ask these, never a copy.
import type { ChangeEnvelope } from '../../platform/bus.js';
import type { Revocation } from '../../platform/realtime/tenant-stream.js';
import { ADMIN_ONLY_TYPES } from './policy.js';

/** Events of records only admins read (users, API keys, grants): others see that they changed, not how. */
export function needsRedaction(event: ChangeEnvelope): boolean {
  return ADMIN_ONLY_TYPES.has(event.entity_type);
}

/**
 * The event as a reader may see it (`isAdmin`: the policy's readsAdminOnly for the reader). The envelope (and so the gapless seq) stays;
 * the data of admin-only records is reduced to their id for everyone else.
 */
export function visibleTo<E extends ChangeEnvelope>(isAdmin: boolean, event: E): E {
  if (isAdmin || !needsRedaction(event)) return event;
  return { ...event, data: { id: event.entity_id }, changes: null };
}

/** What of an audit entry the visibility rule looks at: the record it is about and what only the audit log adds. */
export interface VisibleAuditEntry {
  target: { entity_type: string };
  changes: unknown;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
}

/**
 * An audit entry as a reader of a record's history may see it (`isAdmin` as for events): for
 * everyone else, what the audit log adds to the change log (the request id, the caller's
 * address and User-Agent) is left out, and an entry about an admin-only record (a grant on the record) keeps
 * who did what and when but not the change, as its event does.
 */
export function auditEntryVisibleTo<E extends VisibleAuditEntry>(isAdmin: boolean, entry: E): E {
  if (isAdmin) return entry;
  const changes = ADMIN_ONLY_TYPES.has(entry.target.entity_type) ? null : entry.changes;
  return { ...entry, changes, request_id: null, ip: null, user_agent: null };
}

/** A tenant turned off (TenantService.setActive): every principal of it loses access. */
function tenantDeactivated(event: ChangeEnvelope): boolean {
  return event.entity_type === 'tenants' && (event.data as { is_active?: unknown } | null)?.is_active === false;
}

/** An update of a user with its changes: only those move a role or a session (a create lists every field it set). */
function roleOrSessionsMayChange(event: ChangeEnvelope): event is ChangeEnvelope & { changes: object } {
  return event.entity_type === 'users' && event.action === 'updated' && !!event.changes;
}

function roleChanged(event: ChangeEnvelope): boolean {
  return roleOrSessionsMayChange(event) && 'role' in event.changes;
}

/**
 * Whether an event ended a user's sessions: logout (its `changes` carry the new `token_version`,
 * so only older tokens are hit) or a password change (every login token of the user before it).
 */
function endedSessions(event: ChangeEnvelope): { versionBelow?: number } | null {
  if (!roleOrSessionsMayChange(event)) return null;
  const changes = event.changes as Record<string, { new?: unknown }>;
  if (typeof changes.token_version?.new === 'number') return { versionBelow: changes.token_version.new };
  return 'password' in changes ? {} : null;
}

/**
 * Live events: events that end a principal's socket: an API key revoked, a user deleted or
 * deactivated, a user's role changed (what a socket may see is decided at its handshake, so it
 * reconnects with the access the new role gives), a user's sessions ended (logout, password
 * change: their login tokens of older sessions; API keys stay), or the tenant deactivated.
 */
export function revocationOf(event: ChangeEnvelope): Revocation | null {
  if (!event.entity_id) return null;
  if (tenantDeactivated(event)) return { everyone: true, reason: 'tenant_deactivated' };
  const data = (event.data ?? {}) as { is_active?: unknown; deleted_at?: unknown; revoked_at?: unknown };
  if (event.entity_type === 'api_keys' && (event.action === 'deleted' || data.revoked_at)) {
    return { apiKeyId: event.entity_id, reason: 'api_key_revoked' };
  }
  if (event.entity_type === 'users' && (event.action === 'deleted' || data.is_active === false || data.deleted_at)) {
    return { userId: event.entity_id, reason: 'user_deactivated' };
  }
  if (roleChanged(event)) {
    return { userId: event.entity_id, reason: 'role_changed' };
  }
  const sessions = endedSessions(event);
  if (sessions) return { userId: event.entity_id, sessions, reason: 'session_ended' };
  return null;
}

/** Whose access an event changes, in which tenant. */
type Affected = { tenantId: string; userId?: string };

/** What an event means for open co-editing connections: a revoked principal, or access to re-check. */
export type AccessChange =
  (Affected & { kind: 'revoked'; apiKeyId?: string; reason: string }) | (Affected & { kind: 'recheck'; entityType?: string; entityId?: string });

/** Co-editing: revocations close connections; role and grant changes re-check the connections they may affect. */
export function accessChangeOf(event: ChangeEnvelope): AccessChange | null {
  if (!event.entity_id) return null;
  const data = (event.data ?? {}) as Record<string, unknown>;
  const tenantId = event.tenant_id;
  if (tenantDeactivated(event)) return { kind: 'revoked', tenantId, reason: 'tenant deactivated' };
  if (event.entity_type === 'api_keys' && (event.action === 'deleted' || data.revoked_at)) {
    return { kind: 'revoked', tenantId, apiKeyId: event.entity_id, reason: 'API key revoked' };
  }
  if (event.entity_type === 'users') {
    if (event.action === 'deleted' || data.is_active === false || data.deleted_at) {
      return { kind: 'revoked', tenantId, userId: event.entity_id, reason: 'user deactivated' };
    }
    // A role change may lower write access; ended sessions refuse the user's older login tokens.
    if (roleChanged(event) || endedSessions(event) !== null) {
      return { kind: 'recheck', tenantId, userId: event.entity_id };
    }
    return null;
  }
  if (event.entity_type === 'entity_permissions' && (event.action === 'deleted' || event.action === 'updated')) {
    return {
      kind: 'recheck',
      tenantId,
      userId: typeof data.user_id === 'string' ? data.user_id : undefined,
      entityType: String(data.entity_type),
      entityId: String(data.entity_id),
    };
  }
  return null;
}
