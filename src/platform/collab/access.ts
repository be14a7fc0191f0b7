// Who may open a co-editing document, decided before the WebSocket upgrade, and which committed
// events take that access away again (on every node: the events reach every node's bus).
import type { IncomingMessage } from 'node:http';
import type { Domain } from '../../domain.js';
import { isCatalogType, type CatalogType } from '../../modules/catalog/kinds.js';
import { recordExists } from '../../modules/permissions/service.js';
import type { ChangeEvent } from '../bus.js';
import type { Actor, ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { uuid } from '../schema-kit.js';

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;

/** Records that exist but are not co-edited: opening one is forbidden rather than not found. */
const NOT_CO_EDITED = ['incidents', 'scorecards', 'dashboards'];

export interface CollabPrincipal {
  /** The bearer token the connection was opened with: re-authenticated while it stays open. */
  token: string;
  tenantId: string;
  actor: Actor;
  type: CatalogType;
  entityId: string;
  writable: boolean;
}

export type AccessDecision = ({ ok: true } & CollabPrincipal) | { ok: false; code: number; reason: string };

export function collabPath(url: string | undefined): string | null {
  if (!url) return null;
  const path = url.split('?')[0];
  return path.startsWith('/collab/') ? path : null;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return ''; // malformed escapes name nothing
  }
}

function bearer(req: IncomingMessage, url: URL): string | undefined {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) return fromQuery;
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

export async function decideAccess(domain: Domain, req: IncomingMessage): Promise<AccessDecision> {
  const url = new URL(req.url ?? '/', 'http://collab.invalid');
  const [, , type, entityId, ...rest] = url.pathname.split('/').map(safeDecode);
  const token = bearer(req, url);
  let principal;
  try {
    principal = await domain.auth.authenticate(token);
  } catch (err) {
    if (err instanceof AppError && err.status === 401) return { ok: false, code: CLOSE_UNAUTHENTICATED, reason: 'unauthorized' };
    throw err;
  }
  const ctx: ServiceContext = { tenantId: principal.tenantId, actor: principal.actor, db: domain.knex };
  const notFound = { ok: false as const, code: CLOSE_NOT_FOUND, reason: 'no such record' };
  if (rest.length > 0 || !type || !entityId || !uuid.safeParse(entityId).success) return notFound;
  if (!isCatalogType(type)) {
    if (NOT_CO_EDITED.includes(type) && (await recordExists(ctx, type, entityId))) {
      return { ok: false, code: CLOSE_FORBIDDEN, reason: `${type} are not co-edited` };
    }
    return notFound;
  }
  if (!(await recordExists(ctx, type, entityId))) return notFound;
  // Every member of a tenant reads its catalog (docs/DECISIONS.md); writing is the service's rule.
  const writable = await mayWrite(domain, ctx, type, entityId);
  return { ok: true, token: token!, tenantId: principal.tenantId, actor: principal.actor, type, entityId, writable };
}

/** The same rule as a REST write: role, or an EDIT grant; never a read-only API key. */
export async function mayWrite(domain: Domain, ctx: ServiceContext, type: CatalogType, entityId: string): Promise<boolean> {
  try {
    await domain.entities[type].authorizeWrite(ctx, entityId);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.status === 403) return false;
    throw err;
  }
}

/** What an event means for open connections: none, a revoked principal, or access to re-check. */
export type AccessChange =
  | { kind: 'revoked'; tenantId: string; userId?: string; apiKeyId?: string; reason: string }
  | { kind: 'recheck'; tenantId: string; userId?: string; entityType?: string; entityId?: string };

export function accessChangeOf(event: ChangeEvent): AccessChange | null {
  if (!event.entity_id) return null;
  const data = (event.data ?? {}) as Record<string, unknown>;
  const tenantId = event.tenant_id;
  if (event.entity_type === 'api_keys' && (event.action === 'deleted' || data.revoked_at)) {
    return { kind: 'revoked', tenantId, apiKeyId: event.entity_id, reason: 'API key revoked' };
  }
  if (event.entity_type === 'users') {
    if (event.action === 'deleted' || data.is_active === false || data.deleted_at) {
      return { kind: 'revoked', tenantId, userId: event.entity_id, reason: 'user deactivated' };
    }
    if (event.changes && 'role' in event.changes) return { kind: 'recheck', tenantId, userId: event.entity_id };
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
