// The live-event protocol: the typed Socket.IO event maps, the zod schemas of what
// clients send (handshake auth, subscribe/unsubscribe) and how a subscription matches an event.
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { ChangeEnvelope } from '../bus.js';
import { zodIssues, type FieldIssue } from '../errors.js';
import { uuid } from '../schema-kit.js';

/** A socket's narrowing filter; every given dimension must match (AND), lists match any member. */
export interface SubscriptionFilter {
  entity_types?: string[];
  entity_ids?: string[];
  types?: string[];
}

export type Ack = { ok: true } | { ok: false; error: { title: string; errors: FieldIssue[] } };

export interface ResyncInfo {
  /** The `since` the client sent. */
  since: number;
  /** The tenant's latest seq: refetch state over REST, then continue from here. */
  latest_seq: number;
  reason: 'ahead_of_log' | 'before_retained_log';
}

/**
 * Why a socket's access ended (the `revoked` event, then the server disconnects it):
 * - `api_key_revoked`: its API key was revoked;
 * - `user_deactivated`: its user was deactivated or deleted;
 * - `role_changed`: its user's role changed (reconnect: what it sees follows the new role);
 * - `session_ended`: its login token's session ended (logout, a password change);
 * - `token_expired`: its login token expired (renew it with `refresh_token` before then);
 * - `tenant_deactivated`: its tenant was deactivated;
 * - `token_revoked`: its token stopped signing in between the handshake and joining the stream.
 */
export type RevokedReason =
  | 'api_key_revoked' | 'user_deactivated' | 'role_changed' | 'session_ended' | 'token_expired'
  | 'tenant_deactivated' | 'token_revoked';

/** The answer to `refresh_token`: the socket's new expiry, or why the token was not taken. */
export type RefreshAck = { ok: true; expires_at: string | null } | Extract<Ack, { ok: false }>;

export interface ServerToClientEvents {
  change: (event: ChangeEnvelope) => void;
  resync_required: (info: ResyncInfo) => void;
  /** The socket's access ended (see RevokedReason): the server disconnects next. */
  revoked: (info: { reason: RevokedReason }) => void;
  /** This node is stopping: reconnect (elsewhere) with `since` = the last seq received. */
  server_shutdown: (info: { reconnect: true }) => void;
}

export interface ClientToServerEvents {
  subscribe: (filter: SubscriptionFilter, ack?: (result: Ack) => void) => void;
  /** The same filter as a previous subscribe removes it; `{}` removes every subscription. */
  unsubscribe: (filter: SubscriptionFilter, ack?: (result: Ack) => void) => void;
  /** A renewed login token of the same principal (POST /auth/refresh): the socket's expiry moves to its exp. */
  refresh_token: (payload: { token: string }, ack?: (result: RefreshAck) => void) => void;
}

// Nodes talk through the change log and the event bus, never through socket.io server-side emits.
export type InterServerEvents = Record<string, never>;

export interface SocketData {
  tenantId: string;
  actor: { type: string; id: string | null };
  userId: string | null;
  /** Admins see admin-only records (users, keys, grants) in full; others see their ids only. */
  admin: boolean;
  /** A login token's session version (null for API keys): a revocation names the versions it ends. */
  tokenVersion: number | null;
  /** When the token expires (ms since the epoch; null: never, an API key): the socket is disconnected then. */
  expiresAt: number | null;
  /** Resume point from the handshake; undefined = live events from now on. */
  since?: number;
}

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

const seqInput = z.union([
  z.number().int().refine(Number.isSafeInteger, 'must be a safe integer'),
  z.string().regex(/^-?\d{1,15}$/, 'must be an integer').transform(Number),
]);

/** Handshake `auth`; other keys are tolerated (client libraries add their own). */
export const handshakeAuth = z.object({
  token: z.string().min(1).max(4096).optional(),
  since: seqInput.nullable().optional(),
});

const entityType = z.string().regex(/^[a-z][a-z_]{0,49}$/, 'must be an entity type such as services');
const eventType = z.string().regex(/^[a-z][a-z_]{0,49}\.[a-z_]{1,30}$/, 'must be an event type such as services.updated');
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(100);

export const MAX_SUBSCRIPTIONS = 50;

const filterShape = {
  entity_types: list(entityType).optional(),
  entity_ids: list(uuid).optional(),
  types: list(eventType).optional(),
};

export const subscribeInput = z
  .strictObject(filterShape)
  .refine((f) => f.entity_types || f.entity_ids || f.types, {
    message: 'give at least one of entity_types, entity_ids, types',
  });

export const unsubscribeInput = z.strictObject(filterShape);

export const refreshTokenInput = z.strictObject({ token: z.string().min(1).max(4096) });

export function invalidPayload(err: z.ZodError, title = 'Invalid subscription'): Extract<Ack, { ok: false }> {
  return { ok: false, error: { title, errors: zodIssues(err) } };
}

/** Sorted, de-duplicated lists: two filters naming the same things compare equal. */
export function normalizeFilter(f: SubscriptionFilter): SubscriptionFilter {
  const norm = (xs?: string[]) => (xs ? [...new Set(xs)].sort() : undefined);
  const out: SubscriptionFilter = {};
  if (f.entity_types) out.entity_types = norm(f.entity_types);
  if (f.entity_ids) out.entity_ids = norm(f.entity_ids?.map((id) => id.toLowerCase()));
  if (f.types) out.types = norm(f.types);
  return out;
}

export function sameFilter(a: SubscriptionFilter, b: SubscriptionFilter): boolean {
  return JSON.stringify(normalizeFilter(a)) === JSON.stringify(normalizeFilter(b));
}

function filterMatches(f: SubscriptionFilter, e: ChangeEnvelope): boolean {
  if (f.entity_types && !f.entity_types.includes(e.entity_type)) return false;
  if (f.entity_ids && (e.entity_id === null || !f.entity_ids.includes(e.entity_id.toLowerCase()))) return false;
  if (f.types && !f.types.includes(e.type)) return false;
  return true;
}

/** No subscriptions: the whole tenant stream. Otherwise any subscription may match (OR). */
export function wants(filters: readonly SubscriptionFilter[], e: ChangeEnvelope): boolean {
  return filters.length === 0 || filters.some((f) => filterMatches(f, e));
}
