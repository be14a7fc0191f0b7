// One loaded document: its Y.Doc and awareness, the clients connected to it on this node, and the
// path every accepted edit takes: applied, appended to PostgreSQL (group commit: the edits that
// arrive while an INSERT is in flight go in the next one), and only then relayed to other clients
// and nodes. What the document means is its feature's (hooks).
import type { Knex } from 'knex';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { ChangeEvent } from '../bus.js';
import type { Logger } from '../logger.js';
import type { DocumentAddress, DocumentHandle, DocumentHooks, DocumentLease, EditAuthor, EditSource } from './hooks.js';
import { CLOSE_OUTSIDE_LAYOUT, CLOSE_TOO_LARGE, DEFAULT_COLLAB_LIMITS, typeOutside, type CollabLimits } from './limits.js';
import { awarenessMessage, updateMessage } from './protocol.js';
import { RELAY_AWARENESS, RELAY_CATCH_UP, RELAY_QUERY_AWARENESS, RELAY_UPDATE, type RedisRelay, type RelayMessage } from './redis-relay.js';
import { storedBytes, type CollabStorage, type PendingUpdate } from './storage.js';
import { SPANS, inSpanSync } from '../tracing.js';
import { UpdateLog } from './update-log.js';

export const CLIENT = Symbol('collab client');

/** A connection as the document sees it. */
export interface DocClient {
  readonly [CLIENT]: true;
  /** Who the client's edits are attributed to (stored, and relayed). */
  readonly author: EditAuthor;
  /** Awareness client ids this connection speaks for (at most its one), removed when it goes. */
  readonly awarenessIds: Set<number>;
  send(message: Uint8Array): void;
  close(code: number, reason: string): void;
}

export interface DocumentOptions {
  compactAfterUpdates: number;
  compactIdleMs: number;
  unloadDelayMs: number;
}

/** Why a client's update was refused: its connection is closed with this. */
export interface Refusal {
  code: number;
  reason: string;
}

export interface DocumentDeps {
  storage: CollabStorage;
  /** Default DEFAULT_COLLAB_LIMITS. */
  limits?: CollabLimits;
  /** The top-level types a client may write (the feature's documentTypes); absent or null: any. */
  allowedTypes?: ReadonlySet<string> | null;
  relay?: RedisRelay;
  logger: Logger;
  options: DocumentOptions;
  /** A new document's first state (the feature's onCreateDocument), inside the storage lock. */
  createInitialState(trx: Knex.Transaction): Promise<Uint8Array>;
  /** The feature's per-document state (createDocumentState). */
  createHooks?(document: DocumentHandle): DocumentHooks;
  /** Asks the registry to unload this document (no clients left). */
  requestUnload(doc: CollabDocument): void;
}

// The engine's own transaction origins; any other origin is the server's (the feature's) own edit.
const LOAD_ORIGIN = Object.freeze({ source: 'load' as const });
const CATCHUP_ORIGIN = Object.freeze({ source: 'catchup' as const });

/** A stored update re-read from the log (at load or catch-up): applied one by one, so its author is known. */
class StoredOrigin {
  constructor(
    readonly source: 'load' | 'catchup',
    readonly actorId: string | null,
  ) {}
}
/** An update relayed by another node (already stored there), with its author's tag. */
class RelayOrigin {
  constructor(readonly actorId: string | null) {}
}
const RELAY_AWARENESS_ORIGIN = Object.freeze({ source: 'redis' as const });

const isClient = (origin: unknown): origin is DocClient => typeof origin === 'object' && origin !== null && (origin as Partial<DocClient>)[CLIENT] === true;

/** Where a transaction came from, and who it is attributed to. */
function sourceOf(origin: unknown): { source: EditSource; author: string | null } {
  if (isClient(origin)) return { source: 'client', author: origin.author.tag };
  if (origin instanceof RelayOrigin) return { source: 'remote', author: origin.actorId };
  if (origin instanceof StoredOrigin) return { source: 'stored', author: origin.actorId };
  if (origin === LOAD_ORIGIN || origin === CATCHUP_ORIGIN) return { source: 'stored', author: null };
  return { source: 'server', author: null };
}

type Pending = PendingUpdate & { from: DocClient | null; tag: string | null };

const NO_HOOKS: DocumentHooks = {};

export class CollabDocument implements DocumentHandle {
  readonly doc = new Y.Doc();
  readonly awareness = new Awareness(this.doc);
  readonly clients = new Set<DocClient>();
  state: 'loading' | 'ready' | 'unloading' | 'failed' | 'closed' = 'loading';
  /** The feature's state for this document. */
  readonly hooks: DocumentHooks;
  readonly lease: DocumentLease | null;

  private readonly updates: UpdateLog<Pending>;
  private unloadTimer: NodeJS.Timeout | undefined;
  private relayBuffer: RelayMessage[] | null = [];
  private readonly log: Logger;
  private readonly limits: CollabLimits;

  constructor(
    readonly key: string,
    readonly address: DocumentAddress,
    private readonly deps: DocumentDeps,
  ) {
    this.limits = deps.limits ?? DEFAULT_COLLAB_LIMITS;
    this.log = deps.logger.child({ component: 'collab', document: `${address.entityType}/${address.entityId}` });
    // Superseded edits in the log count towards the size cap, so a log of a quarter of it is folded.
    const logOptions = { ...deps.options, compactAfterBytes: Math.ceil(this.limits.maxDocumentBytes / 4) };
    this.updates = new UpdateLog<Pending>(
      deps.storage,
      logOptions,
      this.log,
      (batch) => this.relayStored(batch),
      (err) => this.fail(err),
    );
    const relay = deps.relay;
    this.lease = relay ? { claim: (token, ttlMs) => relay.claim(key, token, ttlMs), release: (token) => relay.release(key, token) } : null;
    this.hooks = deps.createHooks?.(this) ?? NO_HOOKS;
    this.awareness.setLocalState(null);
    this.doc.on('update', this.onDocUpdate);
    this.doc.on('afterTransaction', this.onTransaction);
    this.awareness.on('update', this.onAwarenessUpdate);
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Subscribe, read snapshot + log, and (as projector) reconcile with the row. Throws on failure. */
  async load(): Promise<void> {
    const { relay, storage } = this.deps;
    if (relay) await relay.subscribe(this.key, this.onRelay);
    const { documentId, stored, created } = await storage.open(this.address, (trx) => this.deps.createInitialState(trx));
    this.updates.documentId = documentId;
    this.updates.adopt(stored.updates.length);
    this.updates.measured(stored.snapshot?.byteLength ?? 0, storedBytes(stored) - (stored.snapshot?.byteLength ?? 0));
    if (!stored.snapshot && stored.updates.length === 0) throw new Error('the stored document is empty');
    if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot, LOAD_ORIGIN);
    // One by one, so the feature knows who wrote each stored update (a crash may have kept them
    // from wherever the feature puts them).
    for (const u of stored.updates) Y.applyUpdate(this.doc, u.update, new StoredOrigin('load', u.actorId));
    this.state = 'ready';
    const buffered = this.relayBuffer ?? [];
    this.relayBuffer = null;
    for (const m of buffered) this.applyRelay(m);
    relay?.publish(this.key, { kind: RELAY_QUERY_AWARENESS, actorId: '', payload: new Uint8Array() });
    await this.hooks.onReady?.({ created: created && buffered.length === 0 });
  }

  attach(client: DocClient): void {
    clearTimeout(this.unloadTimer);
    this.unloadTimer = undefined;
    this.clients.add(client);
  }

  detach(client: DocClient): void {
    if (!this.clients.delete(client)) return;
    if (client.awarenessIds.size) removeAwarenessStates(this.awareness, [...client.awarenessIds], client);
    if (this.clients.size === 0 && this.state === 'ready') {
      clearTimeout(this.unloadTimer);
      this.unloadTimer = setTimeout(() => {
        if (this.clients.size === 0 && this.state === 'ready') this.deps.requestUnload(this);
      }, this.deps.options.unloadDelayMs);
    }
  }

  /** Flush, let the feature finish, compact, release: nothing stored is lost and nothing stays behind. */
  async unload(): Promise<void> {
    const failed = this.state === 'failed';
    if (this.state === 'ready') this.state = 'unloading';
    clearTimeout(this.unloadTimer);
    this.updates.stop();
    if (failed) {
      await this.hooks.onAbandon?.();
    } else {
      await this.whenDurable();
      await this.hooks.onStop?.();
      await this.whenDurable();
      // Idle: fold the log into the snapshot, if the feature has no more use for it (canCompact).
      await this.updates.compact({ whenReconciled: true });
    }
    this.awareness.setLocalState(null);
    await this.deps.relay?.unsubscribe(this.key);
    this.state = 'closed';
    this.awareness.destroy();
    this.doc.destroy();
  }

  /** After a failed load: let go of everything without storing anything. */
  async dispose(): Promise<void> {
    this.state = 'closed';
    this.relayBuffer = null;
    await this.hooks.onAbandon?.();
    await this.deps.relay?.unsubscribe(this.key);
    this.awareness.destroy();
    this.doc.destroy();
  }

  isLive(): boolean {
    return this.state === 'ready' || this.state === 'unloading';
  }

  closeClients(code: number, reason: string): void {
    for (const client of [...this.clients]) client.close(code, reason);
  }

  // ---- sync protocol ---------------------------------------------------------------------------

  /**
   * Applies a client's update, or refuses it before anything applies it: above the update cap,
   * taking the document (stored, plus what Yjs holds back waiting for missing parts) past the
   * document cap, or writing a top-level type outside the layout. Throws on a malformed update.
   */
  applyClientUpdate(client: DocClient, update: Uint8Array): Refusal | null {
    if (this.state !== 'ready') return null;
    const { maxUpdateBytes, maxDocumentBytes } = this.limits;
    if (update.byteLength > maxUpdateBytes) return { code: CLOSE_TOO_LARGE, reason: 'update too large' };
    if (this.updates.storedBytes() + this.heldBackBytes() + update.byteLength > maxDocumentBytes) {
      return { code: CLOSE_TOO_LARGE, reason: 'document too large' };
    }
    const allowed = this.deps.allowedTypes;
    const outside = allowed ? typeOutside(update, allowed) : null;
    if (outside) return { code: CLOSE_OUTSIDE_LAYOUT, reason: 'update outside the document layout' };
    Y.applyUpdate(this.doc, update, client);
    return null;
  }

  /** Bytes Yjs keeps aside until the structs they depend on arrive (nothing a y-websocket client sends). */
  private heldBackBytes(): number {
    const { pendingStructs, pendingDs } = this.doc.store;
    return (pendingStructs?.update.byteLength ?? 0) + (pendingDs?.byteLength ?? 0);
  }

  /**
   * Whether `client` may speak for awareness client id `id`: not the server's own id, and not one
   * whose state is held for someone else — another connection here (a connection of the same
   * author takes it over: the same client reconnecting) or a client of another node.
   */
  claimAwareness(client: DocClient, id: number): boolean {
    if (id === this.doc.clientID) return false;
    for (const other of this.clients) {
      if (other === client || !other.awarenessIds.has(id)) continue;
      if (other.author.tag === null || other.author.tag !== client.author.tag) return false;
      other.awarenessIds.delete(id);
      return true;
    }
    return !this.awareness.getStates().has(id);
  }

  applyClientAwareness(client: DocClient, update: Uint8Array): void {
    if (this.state === 'closed') return;
    applyAwarenessUpdate(this.awareness, update, client);
  }

  /** Resolves once every accepted edit so far is in PostgreSQL: nothing unstored is ever sent. */
  whenDurable(): Promise<void> {
    return this.updates.whenDurable();
  }

  async whenStored(): Promise<void> {
    await this.updates.whenDurable();
    if (this.state === 'failed' || this.state === 'closed') throw new Error('document storage unavailable');
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === LOAD_ORIGIN || (origin instanceof StoredOrigin && origin.source === 'load')) return;
    if (isClient(origin)) {
      this.updates.push({ update, actorId: origin.author.id, tag: origin.author.tag, from: origin });
      this.hooks.onChange?.({ source: 'client' });
    } else if (origin instanceof RelayOrigin || origin === CATCHUP_ORIGIN || origin instanceof StoredOrigin) {
      // From another node (already stored there) or re-read from PostgreSQL: local clients only.
      this.broadcast(updateMessage(update), null);
      this.hooks.onChange?.({ source: 'remote' });
    } else {
      // The server's own edit (the feature's origin): stored and relayed like a client's.
      this.updates.push({ update, actorId: null, tag: null, from: null });
    }
  };

  /** Tells the feature who changed the document, and from where. */
  private readonly onTransaction = (tr: Y.Transaction): void => {
    if (tr.changed.size === 0 || !this.hooks.afterTransaction) return;
    this.hooks.afterTransaction({ transaction: tr, ...sourceOf(tr.origin as unknown) });
  };

  /** Stored: now other clients and nodes may see it. */
  private relayStored(batch: Pending[]): void {
    const attributes = {
      'appinventory.collab.document': `${this.address.entityType}/${this.address.entityId}`,
      'appinventory.collab.updates': batch.length,
      'appinventory.collab.clients': this.clients.size,
    };
    inSpanSync(SPANS.collabRelay, attributes, () => {
      for (const p of batch) {
        this.broadcast(updateMessage(p.update), p.from);
        this.deps.relay?.publish(this.key, { kind: RELAY_UPDATE, actorId: p.tag ?? '', payload: p.update });
      }
    });
  }

  /**
   * Storage is gone: the unstored edits were never relayed, and their authors still hold them, so
   * the clients are sent away to reconnect (and resend) once the document loads again.
   */
  private fail(err: unknown): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.log.error('storing co-editing updates failed; closing the document', { err: String(err) });
    this.state = 'failed';
    this.closeClients(1011, 'document storage unavailable');
    this.deps.requestUnload(this);
  }

  private broadcast(message: Uint8Array, except: DocClient | null): void {
    for (const client of this.clients) if (client !== except) client.send(message);
  }

  // ---- awareness and relay ---------------------------------------------------------------------

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    if (isClient(origin)) {
      for (const id of added) origin.awarenessIds.add(id);
      for (const id of removed) origin.awarenessIds.delete(id);
    }
    const payload = encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed]);
    this.broadcast(awarenessMessage(payload), null);
    if (origin !== RELAY_AWARENESS_ORIGIN) this.deps.relay?.publish(this.key, { kind: RELAY_AWARENESS, actorId: '', payload });
  };

  private readonly onRelay = (message: RelayMessage): void => {
    if (this.relayBuffer) this.relayBuffer.push(message);
    else this.applyRelay(message);
  };

  private applyRelay({ kind, actorId, payload }: RelayMessage): void {
    if (this.state !== 'ready' && this.state !== 'unloading') return;
    try {
      if (kind === RELAY_UPDATE) {
        Y.applyUpdate(this.doc, payload, new RelayOrigin(actorId || null));
        this.updates.noteStoredElsewhere(payload.byteLength);
      } else if (kind === RELAY_AWARENESS) applyAwarenessUpdate(this.awareness, payload, RELAY_AWARENESS_ORIGIN);
      else if (kind === RELAY_QUERY_AWARENESS) this.publishOwnAwareness();
      else if (kind === RELAY_CATCH_UP) void this.catchUp().catch((err: unknown) => this.log.warn('catch-up failed', { err: String(err) }));
    } catch (err) {
      this.log.warn('ignoring a relayed message that does not apply', { err: String(err) });
    }
  }

  private publishOwnAwareness(): void {
    const ids = [...this.clients].flatMap((c) => [...c.awarenessIds]);
    if (this.awareness.getLocalState() !== null) ids.push(this.doc.clientID);
    const present = ids.filter((id) => this.awareness.getStates().has(id));
    if (present.length === 0) return;
    this.deps.relay?.publish(this.key, { kind: RELAY_AWARENESS, actorId: '', payload: encodeAwarenessUpdate(this.awareness, present) });
  }

  /** After a Redis outage: whatever other nodes stored meanwhile, re-read from PostgreSQL. */
  async catchUp(): Promise<void> {
    if (this.state !== 'ready') return;
    const stored = await this.deps.storage.read(this.updates.documentId);
    if (this.state !== 'ready') return;
    this.updates.measured(stored.snapshot?.byteLength ?? 0, storedBytes(stored) - (stored.snapshot?.byteLength ?? 0));
    if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot, CATCHUP_ORIGIN);
    for (const u of stored.updates) Y.applyUpdate(this.doc, u.update, new StoredOrigin('catchup', u.actorId));
    this.publishOwnAwareness();
  }

  /** Committed change events about this document's address, from every node. */
  onBusEvent(event: ChangeEvent): void {
    this.hooks.onBusEvent?.({ event });
  }
}
