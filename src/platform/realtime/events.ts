// The live-event protocol: the typed Socket.IO event maps, the zod schemas of what
// clients send (handshake auth, subscribe/unsubscribe) and how a subscription matches an event.
import type { Server, Socket } from 'socket.io';
import { z } from 'zod';
import { changeEnvelope, type ChangeEnvelope } from '../bus.js';
import { zodIssues } from '../errors.js';
import { uuid } from '../schema-kit.js';

/** A socket's narrowing filter; every given dimension must match (AND), lists match any member. */
export interface SubscriptionFilter {
  entity_types?: string[];
  entity_ids?: string[];
  types?: string[];
}

const seqInput = z.union([
  z.number().int().refine(Number.isSafeInteger, 'must be a safe integer'),
  z
    .string()
    .regex(/^-?\d{1,15}$/, 'must be an integer')
    .transform(Number),
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

export const subscribeInput = z.strictObject(filterShape).refine((f) => f.entity_types || f.entity_ids || f.types, {
  message: 'give at least one of entity_types, entity_ids, types',
});

export const unsubscribeInput = z.strictObject(filterShape);

export const refreshTokenInput = z.strictObject({ token: z.string().min(1).max(4096) });

const fieldIssue = z.object({ path: z.string(), message: z.string() });

/** An event refused: why, and what in the payload (`errors[].path`). */
const refusal = z.object({
  ok: z.literal(false),
  error: z.object({ title: z.string(), errors: z.array(fieldIssue) }),
});

/** The ack of `subscribe` and `unsubscribe`. */
export const ackSchema = z.union([z.object({ ok: z.literal(true) }), refusal]);
export type Ack = z.infer<typeof ackSchema>;

export const resyncInfoSchema = z.object({
  since: z.number().int().describe('The `since` the client sent'),
  latest_seq: z.number().int().min(0).describe("The tenant's latest seq: refetch state over REST, then continue from here"),
  reason: z.enum(['ahead_of_log', 'before_retained_log']),
});
export type ResyncInfo = z.infer<typeof resyncInfoSchema>;

export const caughtUpSchema = z.object({
  seq: z.number().int().min(0).describe('The seq the socket is now at: every event up to it was sent (the ones its filters match), and live events follow'),
  replayed: z.number().int().min(0).describe('How many events the replay from `since` sent (0 without `since`)'),
});

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
export const REVOKED_REASONS = [
  'api_key_revoked',
  'user_deactivated',
  'role_changed',
  'session_ended',
  'token_expired',
  'tenant_deactivated',
  'token_revoked',
] as const;
export type RevokedReason = (typeof REVOKED_REASONS)[number];

/** The answer to `refresh_token`: the socket's new expiry, or why the token was not taken. */
export const refreshAckSchema = z.union([
  z.object({ ok: z.literal(true), expires_at: z.iso.datetime().nullable().describe('The new expiry; null: never (not a login token)') }),
  refusal,
]);
export type RefreshAck = z.infer<typeof refreshAckSchema>;

/**
 * Every event the server emits, with its payload's schema: the typed event map below and the
 * AsyncAPI document are both built from it, so an event cannot be emitted undocumented.
 */
export const SERVER_EVENTS = {
  change: {
    payload: changeEnvelope,
    summary: 'A committed change of the tenant (replayed from `since`, then live), in seq order, once each',
  },
  resync_required: {
    payload: resyncInfoSchema,
    summary:
      "The handshake's `since` is not in the change log (ahead of it, or before what is kept): refetch over REST, then events continue after `latest_seq`",
  },
  caught_up: {
    payload: caughtUpSchema,
    summary:
      'Once per connection, when the socket goes live: the replay from `since` (if any) is complete, so a client can show that it is up to date; every later `change` is live',
  },
  revoked: {
    payload: z.object({ reason: z.enum(REVOKED_REASONS) }),
    summary: "The socket's access ended; the server disconnects it next (`io server disconnect`: no automatic reconnect)",
  },
  server_shutdown: {
    payload: z.object({ reconnect: z.literal(true) }),
    summary: 'This node is stopping: the transport closes next; reconnect (elsewhere) with `since` = the last seq received',
  },
} as const;

/** Every event a client may send, with its payload's and its ack's schemas. */
export const CLIENT_EVENTS = {
  subscribe: {
    payload: subscribeInput,
    ack: ackSchema,
    summary:
      'Adds a subscription: the socket then receives only events matching one of its subscriptions (every given list must match; a list matches any member)',
  },
  unsubscribe: {
    payload: unsubscribeInput,
    ack: ackSchema,
    summary: 'Removes the subscription with the same filter; `{}` removes every subscription (the whole tenant stream again)',
  },
  refresh_token: {
    payload: refreshTokenInput,
    ack: refreshAckSchema,
    summary: "A renewed login token of the same principal (POST /api/v1/auth/refresh): the socket's expiry moves to its exp, without a reconnect",
  },
} as const;

/** The messages of a refused handshake (`connect_error`); `err.data` is set for some. */
export const CONNECT_ERRORS = {
  unauthorized: 'No token, or one that does not sign in (bad, expired, revoked)',
  invalid_handshake: 'The handshake `auth` is malformed (`since` not an integer); `data: {title, errors}`',
  too_many_sockets: 'Over SOCKETS_PER_USER or SOCKETS_PER_TENANT; `data: {title, errors, scope, limit}`',
  unavailable: 'The node cannot reach its database; retry',
  server_shutting_down: 'The node is stopping; connect to another',
} as const;
export type ConnectErrorMessage = keyof typeof CONNECT_ERRORS;

export const connectErrorSchema = z.object({
  message: z.enum(Object.keys(CONNECT_ERRORS) as [ConnectErrorMessage, ...ConnectErrorMessage[]]),
  data: z
    .object({
      title: z.string(),
      errors: z.array(fieldIssue),
      scope: z.enum(['user', 'tenant']).optional(),
      limit: z.number().int().optional(),
    })
    .optional(),
});

type ServerEvents = typeof SERVER_EVENTS;
type ClientEvents = typeof CLIENT_EVENTS;

export type ServerToClientEvents = {
  [E in keyof ServerEvents]: (payload: z.output<ServerEvents[E]['payload']>) => void;
};

export type ClientToServerEvents = {
  [E in keyof ClientEvents]: (payload: z.input<ClientEvents[E]['payload']>, ack?: (result: z.output<ClientEvents[E]['ack']>) => void) => void;
};

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
