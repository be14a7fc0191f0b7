// The co-editing engine's extension points, after Hocuspocus: a feature is a plain object of async
// hooks, each taking one payload object. The engine knows connections, documents, rooms and bytes;
// what a document means (its layout, who may open or write it, how it maps to a record, what a
// committed change does to it) belongs to the feature that implements these hooks.
import type { IncomingMessage } from 'node:http';
import type { Knex } from 'knex';
import type { Awareness } from 'y-protocols/awareness';
import type * as Y from 'yjs';
import type { ChangeEvent } from '../bus.js';

/** Where a document is stored and relayed (the `collab_documents` key): opaque strings to the engine. */
export interface DocumentAddress {
  tenantId: string;
  entityType: string;
  entityId: string;
}

/**
 * Who a connection's accepted edits are attributed to: `id` is stored with each update
 * (`collab_updates.actor_id`, a uuid or null), `tag` travels with it over the Redis relay.
 * Both come back to the feature in `afterTransaction` as the edit's `author`.
 */
export interface EditAuthor {
  id: string | null;
  tag: string | null;
}

/** onAuthenticate's answer: the connection is admitted to a document, or refused with a close code. */
export type Admission<C> =
  | {
      ok: true;
      address: DocumentAddress;
      readOnly: boolean;
      author: EditAuthor;
      context: C;
      /** Who is connecting, as the connection's log lines name them. */
      actor?: { type: string; id: string | null };
      /** Called once when the connection's socket closes, upgraded or not (what the admission holds). */
      release?: () => void;
    }
  | { ok: false; code: number; reason: string };

/** An open connection as a feature sees it. */
export interface ConnectionHandle<C> {
  readonly address: DocumentAddress;
  /** A read-only connection's document updates are dropped before anything applies them. */
  readonly readOnly: boolean;
  /** The feature's data from onAuthenticate; the feature may replace it (e.g. after a re-check). */
  context: C;
  readonly open: boolean;
  close(code: number, reason: string): void;
}

/** A per-document lease among the nodes (Redis, cluster mode): at most one holder at a time. */
export interface DocumentLease {
  /** True when this token holds the lease now (taken or renewed); false when another does or Redis is away. */
  claim(token: string, ttlMs: number): Promise<boolean>;
  release(token: string): Promise<void>;
}

/** A loaded document as a feature sees it. */
export interface DocumentHandle {
  readonly key: string;
  readonly address: DocumentAddress;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  /** True while the document may still change: loaded, or unloading and flushing. */
  isLive(): boolean;
  closeClients(code: number, reason: string): void;
  /**
   * Resolves once every edit so far, the feature's own included, is in PostgreSQL; rejects when
   * storing failed (the document is closing and stores nothing more).
   */
  whenStored(): Promise<void>;
  /** Applies whatever other nodes stored that this node has not seen (re-read from PostgreSQL). */
  catchUp(): Promise<void>;
  /** Cluster mode only; null on a single node (which is the only holder there is). */
  readonly lease: DocumentLease | null;
}

/**
 * Where a transaction came from: a local client, another node (relayed, or re-read after an
 * outage), the stored log (at load or catch-up), or the server itself (any transaction origin the
 * engine does not own, such as the feature's own edits: stored and relayed like a client's).
 */
export type EditSource = 'client' | 'remote' | 'stored' | 'server';

/** Per-document feature state, created by the feature when a document starts loading. */
export interface DocumentHooks {
  /** The document has loaded (snapshot and log applied). `created`: just built by onCreateDocument, nothing else arrived. */
  onReady?(payload: { created: boolean }): Promise<void>;
  /** After every transaction that changed the document; `author` as given in the connection's EditAuthor. */
  afterTransaction?(payload: { transaction: Y.Transaction; source: EditSource; author: string | null }): void;
  /** An edit from a local client or another node was applied (not the server's own). */
  onChange?(payload: { source: 'client' | 'remote' }): void;
  /** A committed change event about this document's address, from any node (bus). */
  onBusEvent?(payload: { event: ChangeEvent }): void;
  /** Cluster mode, every `lockRenewMs`: renew or take leases. */
  onTick?(): Promise<void>;
  /** Before unloading, after every accepted edit is stored: finish pending work, give leases up. */
  onStop?(): Promise<void>;
  /** The document failed (load or storage): let go at once, store nothing. */
  onAbandon?(): Promise<void>;
  /** Extra facts for CollabHandle.documentInfo (tests, metrics). */
  describe?(): Record<string, unknown>;
}

/** A co-editing feature: what the engine asks of it. Only onAuthenticate and onCreateDocument are required. */
export interface CollabExtension<C = unknown> {
  /**
   * Before the WebSocket upgrade: who is connecting to which document. `segments` are the decoded
   * path segments after `/collab/`. A refusal completes the upgrade only to close with its code.
   */
  onAuthenticate(payload: { request: IncomingMessage; url: URL; segments: string[] }): Promise<Admission<C>>;
  /**
   * A document with no stored state: its first state as one update, inside the transaction holding
   * the storage row lock (so nodes opening it at once agree). Throw when there is nothing to build from.
   */
  onCreateDocument(payload: { address: DocumentAddress; trx: Knex.Transaction }): Promise<Uint8Array>;
  /** Per-document state (called once per load, before it starts). */
  createDocumentState?(payload: { document: DocumentHandle }): DocumentHooks;
  /**
   * Idle and unload compaction fold the update log into the snapshot only when this says the merged
   * state holds nothing the feature still needs the log (its authors) for. Default: always.
   */
  canCompact?(payload: { doc: Y.Doc }): boolean;
  /**
   * The names of the top-level shared types a document may hold (its layout). An update from a
   * client that creates or writes any other is refused: not applied, stored or relayed, and the
   * connection closed with 4422. Called once per load. Default (or null): any name.
   */
  documentTypes?(payload: { address: DocumentAddress }): readonly string[] | null;
  /**
   * A client's awareness state as it will be applied and relayed (the engine has already kept it
   * to the connection's one client id and bounded its size): the feature says who is present,
   * whatever the client claims. Default: as sent.
   */
  awarenessState?(payload: { state: Record<string, unknown>; context: C }): Record<string, unknown>;
  /** Every committed change event (any node), after the document of its address got it. */
  onBusEvent?(payload: { event: ChangeEvent; connections: ReadonlySet<ConnectionHandle<C>> }): void;
  /** Every `recheckMs`: re-check open connections (access lost while an event was lost, say). */
  onRecheck?(payload: { connections: ConnectionHandle<C>[] }): Promise<void>;
}
