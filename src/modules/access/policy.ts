// The one access policy: `can(ctx, action, resource)`. REST services, live events and co-editing
// all ask it; no transport or service keeps its own copy of the rules. The rules, in one place:
// - A read-scoped API key reads what its owner reads and never writes.
// - Every member of a tenant reads its catalog, incidents, scorecards, dashboards and comments;
//   users, API keys, grants and the audit log are read by admins only (a user also reads themselves).
// - Writers by role: catalog kinds, scorecards and dashboards: admin, editor; incidents: admin,
//   editor, incident_commander; users, API keys, grants and the tenant's name and settings: admin.
// - A per-record EDIT grant (to the user, or to everyone) lets anyone write that catalog record or
//   dashboard; incidents and scorecards ignore grants.
// - Comments: admins, editors and incident commanders comment on any record, anyone else needs a
//   COMMENT (or EDIT) grant on it; a comment is edited or deleted by its author (while they may
//   still comment there) or an admin, and resolved by its author, an admin or an editor.
// - Soft-deleted rows are listed for admins only.
// - A user signed in with a login token ends their own sessions (logout); an API key cannot.
import type { Actor, ServiceContext, UserRole } from '../../platform/context.js';
import { Forbidden } from '../../platform/errors.js';
import { uuid } from '../../platform/schema-kit.js';
import { scoped } from '../../platform/tenancy.js';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { EntityPermission, type PermissionLevel } from '../permissions/model.js';

export type Action =
  /** Read records of the type (admin-only types), or include soft-deleted rows in a list. */
  | 'read'
  | 'read_deleted'
  /** Create, update, delete or restore. */
  | 'write'
  /** Comment on the record; for a comment: resolve or reopen it. */
  | 'comment'
  | 'resolve'
  /** End every session of a user (logout): a user signed in with a login token, for themselves. */
  | 'end_sessions';

/** What an action is about: a type, and the record when there is one. */
export interface Resource {
  type: string;
  id?: string;
  /** Comments: who wrote it and the record it is on. */
  authorId?: string | null;
  on?: { type: string; id: string };
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** Record types only admins read; others see that they changed (their id), never how. */
export const ADMIN_ONLY_TYPES: ReadonlySet<string> = new Set(['users', 'api_keys', 'entity_permissions', 'audit_logs', 'webhooks']);

/** Whether the actor reads admin-only records in full (and so their events, unredacted). */
export function readsAdminOnly(actor: Pick<Actor, 'role'>): boolean {
  return actor.role === 'admin';
}

const CATALOG_WRITERS: readonly UserRole[] = ['admin', 'editor'];
const WRITERS: Record<string, readonly UserRole[]> = {
  ...Object.fromEntries(CATALOG_TYPES.map((t) => [t, CATALOG_WRITERS])),
  incidents: ['admin', 'editor', 'incident_commander'],
  scorecards: CATALOG_WRITERS,
  dashboards: CATALOG_WRITERS,
  widgets: CATALOG_WRITERS,
  users: ['admin'],
  api_keys: ['admin'],
  webhooks: ['admin'],
  entity_permissions: ['admin'],
  tenants: ['admin'],
};
/** Types whose records take per-record grants that widen who may write them. */
const GRANT_WRITABLE: ReadonlySet<string> = new Set([...CATALOG_TYPES, 'dashboards']);
const COMMENTERS: readonly UserRole[] = ['admin', 'editor', 'incident_commander'];
const RESOLVERS: readonly UserRole[] = ['admin', 'editor'];
const READ_ONLY_KEY = 'This API key is read-only.';

const RANK: Record<PermissionLevel, number> = { VIEW: 1, COMMENT: 2, EDIT: 3 };

const allow: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

/** The highest grant the actor holds on a record, personally or through an everyone-grant. */
export async function grantLevel(ctx: ServiceContext, entityType: string, entityId: string): Promise<PermissionLevel | null> {
  if (!uuid.safeParse(entityId).success) return null;
  const userId = ctx.actor.userId;
  const rows = await scoped(EntityPermission, ctx)
    .where({ entity_type: entityType, entity_id: entityId })
    .where((q) => {
      q.whereNull('user_id');
      if (userId) q.orWhere('user_id', userId);
    })
    .select('level');
  let best: PermissionLevel | null = null;
  for (const r of rows) if (!best || RANK[r.level] > RANK[best]) best = r.level;
  return best;
}

function levelAtLeast(level: PermissionLevel | null, needed: PermissionLevel): boolean {
  return level !== null && RANK[level] >= RANK[needed];
}

async function decide(ctx: ServiceContext, action: Action, resource: Resource): Promise<Decision> {
  const { role, canWrite } = ctx.actor;
  switch (action) {
    case 'read':
      if (resource.type === 'users' && resource.id !== undefined && resource.id === ctx.actor.userId) return allow;
      return !ADMIN_ONLY_TYPES.has(resource.type) || readsAdminOnly(ctx.actor) ? allow : deny(`Only admins may read ${label(resource.type)}.`);
    case 'read_deleted':
      return role === 'admin' ? allow : deny('include_deleted is for admins.');
    case 'write':
      if (!canWrite) return deny(READ_ONLY_KEY);
      if (resource.type === 'comments') return decideOnComment(ctx, resource, ['admin']);
      if ((WRITERS[resource.type] ?? []).includes(role)) return allow;
      if (resource.id && GRANT_WRITABLE.has(resource.type) && levelAtLeast(await grantLevel(ctx, resource.type, resource.id), 'EDIT')) {
        return allow;
      }
      return deny(ADMIN_ONLY_TYPES.has(resource.type) ? `Only admins may manage ${label(resource.type)}.` : `Role '${role}' may not change ${resource.type}.`);
    case 'comment':
      if (!canWrite) return deny(READ_ONLY_KEY);
      if (COMMENTERS.includes(role)) return allow;
      if (resource.id && levelAtLeast(await grantLevel(ctx, resource.type, resource.id), 'COMMENT')) return allow;
      return deny(`Role '${role}' without a COMMENT grant may not comment on this record.`);
    case 'resolve':
      if (!canWrite) return deny(READ_ONLY_KEY);
      return decideOnComment(ctx, resource, RESOLVERS);
    case 'end_sessions':
      return ctx.actor.type === 'user' && resource.id === ctx.actor.userId
        ? allow
        : deny('Only a login session ends its own sessions; an API key is revoked instead.');
  }
}

/** One of `roles`, or the comment's author who may still comment on its record. */
async function decideOnComment(ctx: ServiceContext, comment: Resource, roles: readonly UserRole[]): Promise<Decision> {
  if (roles.includes(ctx.actor.role)) return allow;
  const isAuthor = ctx.actor.userId !== null && comment.authorId === ctx.actor.userId;
  if (isAuthor && comment.on && (await decide(ctx, 'comment', comment.on)).allowed) return allow;
  return deny(isAuthor ? 'You may no longer comment on this record.' : `Only the author or ${roles.join(' or ')} may do this to a comment.`);
}

/**
 * The record types the actor may write by role and key scope alone (`write` without a record):
 * what a client offers to create or edit. A per-record EDIT grant widens it for that record.
 */
export function writableTypes(actor: Pick<Actor, 'role' | 'canWrite'>): string[] {
  if (!actor.canWrite) return [];
  return Object.entries(WRITERS)
    .filter(([, roles]) => roles.includes(actor.role))
    .map(([type]) => type);
}

export async function can(ctx: ServiceContext, action: Action, resource: Resource): Promise<boolean> {
  return (await decide(ctx, action, resource)).allowed;
}

/** Refuses a read-scoped API key before anything is read (writes whose record is looked up later). */
export function authorizeWriter(ctx: ServiceContext): void {
  if (!ctx.actor.canWrite) throw Forbidden(READ_ONLY_KEY);
}

/** The same question, as a 403 when the answer is no. */
export async function authorize(ctx: ServiceContext, action: Action, resource: Resource): Promise<void> {
  const decision = await decide(ctx, action, resource);
  if (!decision.allowed) throw Forbidden(decision.reason);
}

function label(type: string): string {
  return type === 'api_keys' ? 'API keys' : type === 'entity_permissions' ? 'grants' : type.replace(/_/g, ' ');
}
