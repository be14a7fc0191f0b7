// The AsyncAPI 3 document of the live events (Socket.IO) and co-editing (y-websocket) protocols,
// served at GET /api/v1/asyncapi.json: each engine describes its part from its own zod schemas and
// constants; the domain supplies what it adds (event types per entity type, documents, close codes).
import { CHANGE_EVENT_TYPES } from './modules/changelog/event-types.js';
import { CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_TOO_MANY_CONNECTIONS, CLOSE_UNAUTHENTICATED } from './modules/coediting/access.js';
import type { AsyncApiPart, JsonObject } from './platform/asyncapi.js';
import { coeditingPart } from './platform/collab/contract.js';
import { liveEventsPart } from './platform/realtime/contract.js';
import { CO_EDITED_LAYOUTS } from './ports.js';

export interface AsyncApiOptions {
  /** host[:port] clients connect to (the request's Host when served). */
  host?: string;
  /** `wss` behind TLS. */
  protocol?: 'ws' | 'wss';
}

const SECURITY_SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A login token (`POST /api/v1/auth/login`) or an API key. Live events: `auth.token` in the handshake, or ' +
      '`Authorization: Bearer <token>`; co-editing: `Authorization: Bearer <token>`, or the `token` query parameter.',
  },
  tokenQuery: {
    type: 'httpApiKey',
    name: 'token',
    in: 'query',
    description: "Co-editing: the token as `?token=` (what y-websocket's `params: {token}` sends).",
  },
} as const;

const security = (...names: Array<keyof typeof SECURITY_SCHEMES>): JsonObject[] => names.map((name) => ({ $ref: `#/components/securitySchemes/${name}` }));

/** The feature's close codes on /collab (access and caps); the engine documents its own. */
const FEATURE_CLOSE_CODES: Record<number, string> = {
  [CLOSE_UNAUTHENTICATED]:
    'no token, a bad or expired token, a revoked key, an inactive user; later: the user deactivated or deleted, the key revoked, ' +
    "the user's sessions ended (logout, password change), the tenant deactivated, the login token expired",
  [CLOSE_FORBIDDEN]: 'the record exists but is not co-edited (incidents, scorecards, dashboards); later: a writer lost write access',
  [CLOSE_NOT_FOUND]: "a malformed path or id, an unknown type, no such record, another tenant's, a soft-deleted one; later: the record is deleted",
  [CLOSE_TOO_MANY_CONNECTIONS]:
    '`too_many_sockets: at most <n> per user` (or `per tenant`): SOCKETS_PER_USER or SOCKETS_PER_TENANT co-editing connections are open across the cluster',
};

const LAYOUT =
  'Document layout: `doc.getMap("fields")` the editable scalar fields (`tags` is one JSON value), `doc.getText("description")` ' +
  'the description (`""` for null), `doc.getMap("attributes")` the attributes, and `meta` (the server\'s: `row_version` and ' +
  'the merge base; read, do not write). Edits are written back to the row through the REST write path (validation, version, ' +
  'audit, a `change` event); a REST change is merged into the open document.';

function documents(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(CO_EDITED_LAYOUTS).map(([type, layout]) => [
      type,
      `fields ${layout.fields.map((f) => `\`${f}\``).join(', ')}${layout.description ? '; description' : ''}${layout.attributes ? '; attributes' : ''}`,
    ]),
  );
}

function merge(parts: AsyncApiPart[]): AsyncApiPart {
  const out: AsyncApiPart = { channels: {}, operations: {}, messages: {} };
  for (const part of parts) {
    Object.assign(out.channels, part.channels);
    Object.assign(out.operations, part.operations);
    Object.assign(out.messages, part.messages);
  }
  return out;
}

/** A Host header as a server's host (name or IP, optional port); anything else is not echoed. */
const HOST = /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/i;

let built: JsonObject | undefined;

/** The document, built once per process (it only depends on the code); `servers` names the given host. */
export function asyncApiDocument({ host, protocol = 'ws' }: AsyncApiOptions = {}): JsonObject {
  built ??= buildDocument();
  const node = (built.servers as { node: JsonObject }).node;
  return { ...built, servers: { node: { ...node, host: host && HOST.test(host) ? host : node.host, protocol } } };
}

function buildDocument(): JsonObject {
  const { channels, operations, messages } = merge([
    liveEventsPart(CHANGE_EVENT_TYPES, security('bearer')),
    coeditingPart({ documents: documents(), layout: LAYOUT, closeCodes: FEATURE_CLOSE_CODES, security: security('tokenQuery', 'bearer') }),
  ]);
  return {
    asyncapi: '3.0.0',
    id: 'urn:appinventory-live:realtime',
    info: {
      title: 'AppInventory Live — live events and co-editing',
      version: '1',
      description:
        "Every committed change is pushed to the tenant's live sockets (Socket.IO) as a `change` event, the same envelope as " +
        '`GET /api/v1/events`; entity records are co-edited as Yjs documents over the y-websocket protocol. The REST API is ' +
        'described at `/api/v1/openapi.json`.',
    },
    defaultContentType: 'application/json',
    servers: {
      node: {
        host: 'localhost:3000',
        protocol: 'ws',
        description: 'Any app node (in a cluster, every node serves both protocols; Redis carries events and edits between them).',
        security: security('bearer'),
      },
    },
    channels,
    operations,
    components: { messages, securitySchemes: SECURITY_SCHEMES },
  };
}
