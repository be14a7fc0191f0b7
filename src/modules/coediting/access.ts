// Who may open a co-editing document, decided before the WebSocket upgrade. Which committed events
// take that access away again is the visibility module's rule, asked through the ports.
import type { IncomingMessage } from 'node:http';
import type { Admission } from '../../platform/collab/hooks.js';
import { bearerToken } from '../../platform/bearer.js';
import type { Actor } from '../../platform/context.js';
import { uuid } from '../../platform/schema-kit.js';
import { contributorKey } from './attribution.js';
import type { Asker, CoeditingPorts } from './ports.js';

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;
/** A connection over a cap per user or tenant (like HTTP's 429, as 4401/4403 mirror 401/403); counted by the app. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;

/** Records that exist but are not co-edited: opening one is forbidden rather than not found. */
const NOT_CO_EDITED = ['incidents', 'scorecards', 'dashboards'];

/** A connection's principal (the engine keeps it as the connection's context). */
export interface CollabPrincipal {
  /** The bearer token the connection was opened with: re-authenticated while it stays open. */
  token: string;
  tenantId: string;
  actor: Actor;
  /** The user's display name, shown in presence (refreshed by the re-check). */
  name: string;
  type: string;
  entityId: string;
  writable: boolean;
}

/** `?token=` (browsers cannot set headers on a WebSocket), else the Authorization header as on every transport. */
function bearer(req: IncomingMessage, url: URL): string | undefined {
  return url.searchParams.get('token') || bearerToken(req.headers.authorization);
}

export function apiKeyOf(actor: Actor): string | null {
  return actor.type === 'api_key' ? actor.id : null;
}

/** onAuthenticate: `/collab/<entity_type>/<entity_id>?token=…` → the principal, or a close code. */
export async function decideAccess(ports: CoeditingPorts, request: IncomingMessage, url: URL, segments: string[]): Promise<Admission<CollabPrincipal>> {
  const [type, entityId, ...rest] = segments;
  const token = bearer(request, url);
  const principal = await ports.authenticate(token);
  if (!principal) return { ok: false, code: CLOSE_UNAUTHENTICATED, reason: 'unauthorized' };
  const asker: Asker = { tenantId: principal.tenantId, actor: principal.actor };
  const notFound = { ok: false as const, code: CLOSE_NOT_FOUND, reason: 'no such record' };
  if (rest.length > 0 || !type || !entityId || !uuid.safeParse(entityId).success) return notFound;
  if (!ports.layoutOf(type)) {
    if (NOT_CO_EDITED.includes(type) && (await ports.recordExists(asker, type, entityId))) {
      return { ok: false, code: CLOSE_FORBIDDEN, reason: `${type} are not co-edited` };
    }
    return notFound;
  }
  if (!(await ports.recordExists(asker, type, entityId))) return notFound;
  // Every member of a tenant reads its catalog (docs/DECISIONS.md); writing is the service's rule.
  const writable = await ports.canWrite(asker, type, entityId);
  const { actor, tenantId } = principal;
  return {
    ok: true,
    address: { tenantId, entityType: type, entityId },
    readOnly: !writable,
    // The log stores the user; the relay carries the key too, so attribution knows a key's edits.
    author: { id: actor.userId, tag: actor.userId ? contributorKey(actor.userId, apiKeyOf(actor)) : null },
    context: { token: token!, tenantId, actor, name: principal.name, type, entityId, writable },
    actor: { type: actor.type, id: actor.id },
  };
}
