// The co-editing WebSocket (y-websocket protocol on y-protocols) as an AsyncAPI part: the
// binary messages of protocol.ts, the upgrade's path and query, and every close code — the
// engine's own here, the feature's (access, caps) given by the app.
import { channelMessages, operation, type AsyncApiPart, type JsonObject } from '../asyncapi.js';
import { CLOSE_OUTSIDE_LAYOUT, CLOSE_TOO_LARGE } from './limits.js';
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from './protocol.js';

export const COLLAB_CHANNEL = 'coediting';

/** Close codes the engine itself sends, and when. */
export const ENGINE_CLOSE_CODES: Readonly<Record<number, string>> = {
  1001: 'the node is shutting down (the client reconnects, to another node in a cluster)',
  1007: 'a malformed message (bad varints; a state vector, update or awareness update that does not decode)',
  1008: 'more than 256 messages before the document loaded',
  1009: 'a frame above twice COLLAB_MAX_UPDATE_BYTES, or more than 4 MiB sent before the document loaded',
  1011: 'the document could not be loaded, or storing updates kept failing (the client retries)',
  1013: 'the client reads so slowly that 32 MiB are waiting to be sent to it',
  [CLOSE_TOO_LARGE]:
    'an update above COLLAB_MAX_UPDATE_BYTES (`update too large`), or one taking the document past COLLAB_MAX_DOC_BYTES (`document too large`); nothing of it is applied, stored or relayed',
  [CLOSE_OUTSIDE_LAYOUT]: 'an update that creates or writes a top-level type outside the document layout; nothing of it is applied, stored or relayed',
};

export interface CollabContractOptions {
  /** The entity types that are co-edited, and what each document holds. */
  documents: Readonly<Record<string, string>>;
  /** What the document layout is (top-level types), in prose. */
  layout: string;
  /** The feature's close codes (access, caps), beside the engine's. */
  closeCodes: Readonly<Record<number, string>>;
  security: readonly JsonObject[];
}

const binary = (description: string): JsonObject => ({ type: 'string', format: 'binary', description });

/** lib0 encoding: varUint (7 bits a byte, little-endian, high bit = more), varUint8Array (varUint length, bytes). */
const MESSAGES: Record<string, { title: string; summary: string; layout: string; from: 'both' | 'client' | 'server' }> = {
  'sync-step-1': {
    title: 'Sync step 1',
    from: 'both',
    summary: 'The sender\'s state vector: "send me what I lack". Each side sends one on connect; the server answers with sync step 2',
    layout: `varUint ${MESSAGE_SYNC} (sync), varUint 0 (step 1), varUint8Array state vector`,
  },
  'sync-step-2': {
    title: 'Sync step 2',
    from: 'both',
    summary: "The updates the other side lacks, answering its step 1. A read-only connection's step 2 is dropped",
    layout: `varUint ${MESSAGE_SYNC}, varUint 1 (step 2), varUint8Array Yjs update (v1 encoding)`,
  },
  update: {
    title: 'Update',
    from: 'both',
    summary: "An edit (a Yjs update). From a writer: stored in PostgreSQL, then relayed to every other client; a read-only connection's updates are dropped",
    layout: `varUint ${MESSAGE_SYNC}, varUint 2 (update), varUint8Array Yjs update (v1 encoding)`,
  },
  awareness: {
    title: 'Awareness',
    from: 'both',
    summary:
      'Presence (y-protocols awareness). A connection speaks for one client id (its first); each state is JSON, at most ' +
      'COLLAB_MAX_AWARENESS_BYTES, at most COLLAB_AWARENESS_PER_SECOND messages a second; the server sets `user` to the ' +
      "connection's own `{id, name, role}` and removes `server` and `projection`. The projector's own state carries " +
      '`{server: true, projection: {status: ok | invalid | forbidden | conflict, detail, errors: [{path, message}], at}}`',
    layout: `varUint ${MESSAGE_AWARENESS}, varUint8Array awareness update (varUint count; per entry varUint client id, varUint clock, varString JSON state or "null")`,
  },
  'query-awareness': {
    title: 'Query awareness',
    from: 'client',
    summary: 'Asks for every current awareness state; the server answers with one awareness message',
    layout: `varUint ${MESSAGE_QUERY_AWARENESS}`,
  },
};

export function coeditingPart(opts: CollabContractOptions): AsyncApiPart {
  const closeCodes = { ...ENGINE_CLOSE_CODES, ...opts.closeCodes };
  const codes = Object.keys(closeCodes)
    .map(Number)
    .sort((a, b) => a - b);
  const messages = Object.fromEntries(
    Object.entries(MESSAGES).map(([id, m]) => [
      `collab.${id}`,
      { name: id, title: m.title, summary: m.summary, contentType: 'application/octet-stream', payload: binary(`One binary WebSocket frame: ${m.layout}`) },
    ]),
  );
  const fromClient = Object.entries(MESSAGES)
    .filter(([, m]) => m.from !== 'server')
    .map(([id]) => `collab.${id}`);
  const fromServer = Object.entries(MESSAGES)
    .filter(([, m]) => m.from !== 'client')
    .map(([id]) => `collab.${id}`);
  const description = [
    'A stock y-websocket client works: `new WebsocketProvider(baseUrl.replace(/^http/, "ws") + "/collab", "services/<id>", doc, {params: {token}})`',
    '(on Node, pass `WebSocketPolyfill: WebSocket` from `ws`). Authentication and authorization happen before the upgrade;',
    'a refusal completes the upgrade only to close with its code (a y-websocket client stops reconnecting on 44xx).',
    'A browser page from an origin not allowed by CORS_ORIGINS is refused with HTTP 403 before any upgrade.',
    `Writers are who may PATCH the record over REST; every other member is read-only (their updates are dropped).\n\n${opts.layout}`,
    '\n\nClose codes:\n' + codes.map((code) => `- ${code}: ${closeCodes[code]}`).join('\n'),
  ].join(' ');
  return {
    channels: {
      [COLLAB_CHANNEL]: {
        address: '/collab/{entity_type}/{entity_id}',
        title: 'Co-editing',
        description,
        parameters: {
          entity_type: {
            enum: Object.keys(opts.documents),
            description: Object.entries(opts.documents)
              .map(([type, holds]) => `- \`${type}\`: ${holds}`)
              .join('\n'),
          },
          entity_id: { description: "The record's id (a UUID); another tenant's, an unknown or a deleted record closes with 4404" },
        },
        messages: channelMessages(Object.keys(messages)),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: { token: { type: 'string', description: 'A login token or an API key (or send `Authorization: Bearer <token>`)' } },
            },
            bindingVersion: '0.1.0',
          },
        },
        'x-close-codes': codes.map((code) => ({ code, when: closeCodes[code] })),
      },
    },
    operations: {
      'collab.receive': operation('receive', COLLAB_CHANNEL, fromClient, {
        summary: 'What a co-editing client sends',
        security: opts.security,
      }),
      'collab.send': operation('send', COLLAB_CHANNEL, fromServer, { summary: 'What the server sends a co-editing client' }),
    },
    messages,
  };
}
