// Who is acting, for which tenant, inside which transaction: the argument every service call takes.
import type { Knex } from 'knex';

export const USER_ROLES = ['admin', 'editor', 'incident_commander', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export type ActorType = 'user' | 'api_key' | 'system';

export interface Actor {
  type: ActorType;
  /** users.id for users, api_keys.id for keys, null for the system. */
  id: string | null;
  /** The user the actor speaks for (a key's owner); used for grants and created_by. */
  userId: string | null;
  role: UserRole;
  /** False for read-scoped API keys: they may read whatever the role reads, never write. */
  canWrite: boolean;
  /** Co-editing projections are attributed to every editor who contributed. */
  coActors?: string[];
}

/**
 * Where a change comes from, stored on its change-log row and carried on the bus (never in the public
 * envelope): co-editing tells its own write-back's echo from a new change by it.
 */
export const CHANGE_ORIGINS = ['rest', 'coediting', 'system', 'seed'] as const;
export type ChangeOrigin = (typeof CHANGE_ORIGINS)[number];

export interface ServiceContext {
  tenantId: string;
  actor: Actor;
  /** Where the write comes from; 'rest' when absent (an HTTP request). */
  origin?: ChangeOrigin;
  /** This node's database: reads outside a transaction go here (several nodes may share a process). */
  db: Knex;
  requestId?: string;
  ip?: string;
  /** The client's User-Agent header (bounded), kept in audit entries beside the address. */
  userAgent?: string;
  /** Set inside WriteRunner.run: every query of the write joins this transaction. */
  trx?: Knex.Transaction;
}

/** The connection a query of this context runs on: the open transaction, else the node's pool. */
export function dbOf(ctx: Pick<ServiceContext, 'db' | 'trx'>): Knex {
  return ctx.trx ?? ctx.db;
}

function systemActor(): Actor {
  return { type: 'system', id: null, userId: null, role: 'admin', canWrite: true };
}

export function userActor(user: { id: string; role: UserRole }): Actor {
  return { type: 'user', id: user.id, userId: user.id, role: user.role, canWrite: true };
}

export function systemContext(tenantId: string, db: Knex): ServiceContext {
  return { tenantId, actor: systemActor(), db, origin: 'system' };
}
