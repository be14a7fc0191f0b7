// The live-event protocol as an AsyncAPI part, built from events.ts: every server event of
// SERVER_EVENTS (`change` once per entity type, from the change-event catalog the app passes in),
// every client event of CLIENT_EVENTS with its ack, the handshake and its refusals.
import { z } from 'zod';
import { changeEnvelope } from '../bus.js';
import { channelMessages, jsonSchemaOf, operation, type AsyncApiPart, type JsonObject } from '../asyncapi.js';
import { CLIENT_EVENTS, CONNECT_ERRORS, SERVER_EVENTS, connectErrorSchema, handshakeAuth } from './events.js';

export interface ChangeTypeCatalog {
  [entityType: string]: { actions: readonly string[]; data: string };
}

export const LIVE_CHANNEL = 'liveEvents';

const CHANNEL_DESCRIPTION = `Socket.IO 4 (engine.io protocol 4) on the node's HTTP server, path \`/socket.io/\`, namespace \`/\`;
each Socket.IO event is one message here, named by its event name (a \`change\` message per entity type).
Connect with \`io(baseUrl, {auth: {token, since}})\` (socket.io-client 4); \`transports: ['websocket']\` needs no
sticky sessions behind a load balancer. A socket joins its tenant's stream: with \`since\` it is first replayed
every event with \`seq > since\` in order, then live events, without gap or duplicate. Keep the seq of the last
\`change\` and pass it as \`since\` on every reconnect. Browsers connect from allowed origins only (CORS_ORIGINS):
a handshake from another origin is refused with HTTP 403.`;

const TENANT = '0b7f3c2e-5d1a-4c8e-9f3b-2a6d4e8c1f00';
const SERVICE = '6f1e2d3c-4b5a-4978-8c6d-5e4f3a2b1c0d';
const USER = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';

/** Example payloads by message id (the parser checks each against its message's schema). */
const EXAMPLES: Record<string, Array<{ name: string; summary: string; payload: unknown }>> = {
  handshake: [{ name: 'resume', summary: 'Resume after the last seq received', payload: { token: '<login token or API key>', since: 41 } }],
  connect_error: [
    { name: 'unauthorized', summary: 'A bad token', payload: { message: 'unauthorized' } },
    {
      name: 'too_many_sockets',
      summary: 'Over the per-user cap',
      payload: {
        message: 'too_many_sockets',
        data: { title: 'Too many sockets', errors: [{ path: '(root)', message: 'at most 200 live sockets per user' }], scope: 'user', limit: 200 },
      },
    },
  ],
  'change.services': [
    {
      name: 'updated',
      summary: "A PATCH of a service's description",
      payload: {
        seq: 42,
        type: 'services.updated',
        tenant_id: TENANT,
        entity_type: 'services',
        entity_id: SERVICE,
        action: 'updated',
        actor: { type: 'user', id: USER },
        at: '2026-12-02T04:00:00.000Z',
        data: { id: SERVICE, name: 'checkout-api', description: 'Takes payments', row_version: 3 },
        changes: { description: { old: null, new: 'Takes payments' } },
      },
    },
  ],
  resync_required: [{ name: 'ahead', summary: 'A client of a restored database', payload: { since: 900, latest_seq: 41, reason: 'ahead_of_log' } }],
  revoked: [{ name: 'logout', summary: 'The user logged out elsewhere', payload: { reason: 'session_ended' } }],
  server_shutdown: [{ name: 'stopping', summary: 'The node stops', payload: { reconnect: true } }],
  subscribe: [{ name: 'dashboard', summary: 'Only services and incidents', payload: { entity_types: ['services', 'incidents'] } }],
  'subscribe.ack': [
    { name: 'taken', summary: 'The subscription is in effect', payload: { ok: true } },
    {
      name: 'refused',
      summary: 'A bad filter (the socket stays)',
      payload: {
        ok: false,
        error: { title: 'Invalid subscription', errors: [{ path: 'entity_types', message: 'Too small: expected array to have >=1 items' }] },
      },
    },
  ],
  unsubscribe: [{ name: 'all', summary: 'Back to the whole tenant stream', payload: {} }],
  refresh_token: [{ name: 'renewed', summary: 'A token from POST /api/v1/auth/refresh', payload: { token: '<renewed login token>' } }],
  'refresh_token.ack': [{ name: 'taken', summary: 'The new expiry', payload: { ok: true, expires_at: '2026-12-02T05:00:00.000Z' } }],
};

function asSchema(values: readonly string[]) {
  return z.enum(values as [string, ...string[]]);
}

/** The `change` envelope of one entity type: its event types and actions, and what its data is. */
export function changeMessageSchema(entityType: string, entry: ChangeTypeCatalog[string]) {
  return changeEnvelope.extend({
    type: asSchema(entry.actions.map((action) => `${entityType}.${action}`)),
    entity_type: z.literal(entityType),
    action: asSchema(entry.actions),
    data: z.unknown().describe(entry.data),
  });
}

/** One `change` message per entity type. */
function changeMessages(catalog: ChangeTypeCatalog): Record<string, JsonObject> {
  const messages: Record<string, JsonObject> = {};
  for (const [entityType, entry] of Object.entries(catalog)) {
    const payload = changeMessageSchema(entityType, entry);
    messages[`change.${entityType}`] = {
      name: 'change',
      title: `change (${entityType})`,
      summary: `${SERVER_EVENTS.change.summary}: ${entityType}`,
      payload: jsonSchemaOf(payload, 'output'),
    };
  }
  return messages;
}

export function liveEventsPart(catalog: ChangeTypeCatalog, security: readonly JsonObject[]): AsyncApiPart {
  const messages: Record<string, JsonObject> = {
    handshake: {
      name: 'handshake',
      title: 'Handshake (Socket.IO CONNECT)',
      summary: "The client's `auth` in the CONNECT packet: a login token or an API key, and where to resume",
      description:
        "`token` may instead be sent as `Authorization: Bearer <token>` (a Node client's `extraHeaders`). `since` " +
        '(a number or a numeric string) resumes after that seq; without it, live events from now on. Other keys are ignored.',
      payload: jsonSchemaOf(handshakeAuth, 'input'),
    },
    connect_error: {
      name: 'connect_error',
      title: 'Handshake refused',
      summary: "The handshake was refused (socket.io-client's `connect_error`; it does not retry by itself)",
      description: Object.entries(CONNECT_ERRORS)
        .map(([message, when]) => `- \`${message}\`: ${when}`)
        .join('\n'),
      payload: jsonSchemaOf(connectErrorSchema, 'output'),
    },
  };
  const operations: Record<string, JsonObject> = {
    connect: operation('receive', LIVE_CHANNEL, ['handshake'], {
      summary: "Open a live socket; on success the socket is connected (the client's `connect`), else `connect_error`",
      reply: ['connect_error'],
      security,
    }),
  };
  for (const [event, spec] of Object.entries(SERVER_EVENTS)) {
    if (event === 'change') {
      const changes = changeMessages(catalog);
      Object.assign(messages, changes);
      operations[event] = operation('send', LIVE_CHANNEL, Object.keys(changes), { summary: spec.summary });
      continue;
    }
    messages[event] = { name: event, title: event, summary: spec.summary, payload: jsonSchemaOf(spec.payload, 'output') };
    operations[event] = operation('send', LIVE_CHANNEL, [event], { summary: spec.summary });
  }
  for (const [event, spec] of Object.entries(CLIENT_EVENTS)) {
    messages[event] = { name: event, title: event, summary: spec.summary, payload: jsonSchemaOf(spec.payload, 'input') };
    messages[`${event}.ack`] = {
      name: `${event} ack`,
      title: `${event} ack`,
      summary: `The acknowledgement of \`${event}\` (pass a callback as the last argument of \`emit\`); a refused payload never drops the socket`,
      payload: jsonSchemaOf(spec.ack, 'output'),
    };
    operations[event] = operation('receive', LIVE_CHANNEL, [event], { summary: spec.summary, reply: [`${event}.ack`] });
  }
  for (const [id, examples] of Object.entries(EXAMPLES)) if (messages[id]) messages[id].examples = examples;
  return {
    channels: {
      [LIVE_CHANNEL]: {
        address: '/socket.io/',
        title: 'Live events',
        description: CHANNEL_DESCRIPTION,
        messages: channelMessages(Object.keys(messages)),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: { EIO: { type: 'string', const: '4' }, transport: { type: 'string', enum: ['polling', 'websocket'] } },
              required: ['EIO', 'transport'],
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    messages,
  };
}
