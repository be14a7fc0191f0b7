// What co-editing needs from the rest of the domain, declared here and implemented by the app
// layer (src/ports.ts): authentication, the record rules (exists, may write), the row, the write
// path, the actor a contributor stands for, and which events take access away. Co-editing
// imports no other module.
import type { Knex } from 'knex';
import type { ChangeEnvelope } from '../../platform/bus.js';
import type { Actor, ServiceContext } from '../../platform/context.js';

/** Who is asking, in which tenant: enough to ask the record rules. */
export interface Asker {
  tenantId: string;
  actor: Actor;
}

/** A signed-in principal: who is asking, and the name co-editors see them by. */
export interface Authenticated extends Asker {
  /** The user's display name (an API key's owner's): shown in presence. */
  name: string;
}

/** A write on behalf of co-editors: the port adds the database; the origin is the feature's. */
export type CoeditingWriteContext = Pick<ServiceContext, 'tenantId' | 'actor' | 'requestId' | 'origin'>;

/** Which parts of a record type a document holds: `fields`, the `description` text, the `attributes` map. */
export interface RecordLayout {
  /** Scalar columns in `fields` (not description, attributes or relation lists). */
  fields: string[];
  /** Whether the type has `description` (a Y.Text) and `attributes` (a Y.Map). */
  description: boolean;
  attributes: boolean;
}

/** A contributor as recorded by attribution: a user, or an API key and the user it belongs to. */
export interface ContributorRef {
  userId: string;
  apiKeyId: string | null;
}

/**
 * What a committed event means for open connections: a revoked principal (a user, an API key, or
 * with neither named the whole tenant), or access to re-check.
 */
export type AccessChange =
  | { kind: 'revoked'; tenantId: string; userId?: string; apiKeyId?: string; reason: string }
  | { kind: 'recheck'; tenantId: string; userId?: string; entityType?: string; entityId?: string };

export interface CoeditingPorts {
  /**
   * The principal behind a bearer token, or null when it does not sign in (bad, expired, revoked).
   * Throws when it cannot tell. `fresh`: not from a cache (the periodic re-check).
   */
  authenticate(token: string | undefined, opts?: { fresh?: boolean }): Promise<Authenticated | null>;
  /** The layout of a co-edited record type, or null when records of the type are not co-edited. */
  layoutOf(type: string): RecordLayout | null;
  /** Whether a live record of the type exists in the asker's tenant. */
  recordExists(asker: Asker, type: string, id: string): Promise<boolean>;
  /** The REST write rule for this record (role, or an EDIT grant; never a read-only key). */
  canWrite(asker: Asker, type: string, id: string): Promise<boolean>;
  /** The record's columns as REST returns them, or null when it is gone; on `db` when given (a transaction). */
  readRow(tenantId: string, type: string, id: string, db?: Knex): Promise<Record<string, unknown> | null>;
  /** The record's row_version, or null when it is gone (one small query). */
  rowVersion(tenantId: string, type: string, id: string): Promise<number | null>;
  /** The REST write path (authorization, validation, version check, audit, change event); AppErrors as REST. */
  updateEntity(
    ctx: CoeditingWriteContext,
    type: string,
    id: string,
    patch: Record<string, unknown>,
    opts: { expectedVersion: number },
  ): Promise<Record<string, unknown>>;
  /** The actor the contributor writes as now: active user of an active tenant, unrevoked read-write key; else null. */
  actorFor(tenantId: string, contributor: ContributorRef): Promise<Actor | null>;
  /** Which committed events take access away (the visibility module's rule), or null for none. */
  accessChangeOf(event: ChangeEnvelope): AccessChange | null;
}
