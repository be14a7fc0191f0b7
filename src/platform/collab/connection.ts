// One client's WebSocket on a document: y-websocket messages in, sync replies and relayed
// edits out. Read-only clients' document updates are dropped here, before anything applies them;
// a writer's update beyond the limits closes the connection. Awareness is kept to the connection's
// one client id, bounded in size and rate, and rewritten by the feature before it is applied.
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import type { Logger } from '../logger.js';
import { CLIENT, type CollabDocument, type DocClient } from './document.js';
import type { ConnectionHandle, DocumentAddress, EditAuthor } from './hooks.js';
import { TokenBucket, awarenessEntryOf, awarenessStateOf, encodeAwarenessEntry, type CollabLimits } from './limits.js';
import { awarenessStatesMessage, readClientMessage, syncStep1Message, syncStep2Message } from './protocol.js';

/** What a connection enforces, and the feature's rewrite of its awareness states. */
export interface ConnectionPolicy<C> {
  limits: CollabLimits;
  awarenessState?: (state: Record<string, unknown>, context: C) => Record<string, unknown>;
}

/** Messages a client may send before its document has loaded; more is not a y-websocket client. */
const MAX_EARLY_MESSAGES = 256;
/** Bytes a client may send before its document has loaded (each message is at most maxPayload). */
export const MAX_EARLY_BYTES = 4 * 1024 * 1024;
/** A client this far behind on reading is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

export class Connection<C = unknown> implements DocClient, ConnectionHandle<C> {
  readonly [CLIENT] = true as const;
  readonly awarenessIds = new Set<number>();
  document: CollabDocument | null = null;
  alive = true;
  droppedUpdates = 0;
  /** Awareness messages dropped: other client ids, too large, not an object. */
  droppedAwareness = 0;
  /** The one awareness client id this connection speaks for: the first it used (and was allowed). */
  awarenessClientId: number | null = null;
  private early: Uint8Array[] | null = [];
  private earlyBytes = 0;
  private readonly awarenessRate: TokenBucket;
  /** The latest awareness message beyond the rate, delivered once the rate allows (it supersedes the earlier ones). */
  private heldAwareness: Uint8Array | null = null;
  private awarenessTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly address: DocumentAddress,
    readonly readOnly: boolean,
    readonly author: EditAuthor,
    /** The feature's data (onAuthenticate), replaceable by the feature. */
    public context: C,
    private readonly logger: Logger,
    private readonly policy: ConnectionPolicy<C>,
  ) {
    this.awarenessRate = new TokenBucket(policy.limits.awarenessPerSecond);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message: Uint8Array): void {
    if (!this.open) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close(1013, 'client too slow');
      return;
    }
    this.ws.send(message, (err) => {
      if (err) this.ws.terminate();
    });
  }

  close(code: number, reason: string): void {
    this.dispose();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  /** The socket is closing or closed: nothing held back is delivered any more. */
  dispose(): void {
    clearTimeout(this.awarenessTimer);
    this.heldAwareness = null;
  }

  /** The document is ready: greet with our state vector and the awareness we know, then catch up. */
  bind(document: CollabDocument): void {
    this.document = document;
    document.attach(this);
    this.send(syncStep1Message(document.doc));
    const awareness = awarenessStatesMessage(document.awareness);
    if (awareness) this.send(awareness);
    const early = this.early ?? [];
    this.early = null;
    for (const m of early) this.handle(m);
  }

  receive(data: Uint8Array): void {
    if (!this.open) return;
    if (this.early) {
      if (this.early.length >= MAX_EARLY_MESSAGES) this.refuseEarly(1008, 'too many messages before sync');
      else if (this.earlyBytes + data.byteLength > MAX_EARLY_BYTES) this.refuseEarly(1009, 'too much data before sync');
      else {
        this.early.push(data);
        this.earlyBytes += data.byteLength;
      }
      return;
    }
    this.handle(data);
  }

  private refuseEarly(code: number, reason: string): void {
    this.early = [];
    this.earlyBytes = 0;
    this.close(code, reason);
  }

  private handle(data: Uint8Array): void {
    const document = this.document;
    if (!document || !this.open) return;
    try {
      const message = readClientMessage(data);
      switch (message.type) {
        case 'sync-step-1':
          // Decoded here, inside the try: a malformed state vector closes this connection (1007)
          // instead of throwing later, in the reply.
          Y.decodeStateVector(message.stateVector);
          this.afterDurable(document, () => syncStep2Message(document.doc, message.stateVector));
          break;
        case 'update': {
          if (this.readOnly) {
            this.droppedUpdates++;
            break;
          }
          const refusal = document.applyClientUpdate(this, message.update);
          if (refusal) {
            this.logger.warn('closing a co-editing connection: update refused', { reason: refusal.reason, bytes: message.update.byteLength });
            this.close(refusal.code, refusal.reason);
          }
          break;
        }
        case 'awareness':
          this.receiveAwareness(document, message.update);
          break;
        case 'query-awareness': {
          const awareness = awarenessStatesMessage(document.awareness);
          if (awareness) this.send(awareness);
          break;
        }
        default:
          break;
      }
    } catch (err) {
      this.logger.warn('closing a co-editing connection after a malformed message', { err: String(err) });
      this.close(1007, 'malformed message');
    }
  }

  /** Within the rate: applied now. Beyond it: held (replacing an earlier held one) until the rate allows. */
  private receiveAwareness(document: CollabDocument, update: Uint8Array): void {
    if (this.heldAwareness || !this.awarenessRate.take()) {
      this.heldAwareness = update;
      if (!this.awarenessTimer) {
        this.awarenessTimer = setTimeout(() => this.releaseAwareness(), this.awarenessRate.waitMs());
        this.awarenessTimer.unref();
      }
      return;
    }
    this.applyAwareness(document, update);
  }

  private releaseAwareness(): void {
    this.awarenessTimer = undefined;
    const update = this.heldAwareness;
    this.heldAwareness = null;
    const document = this.document;
    if (!update || !document || !this.open) return;
    try {
      this.receiveAwareness(document, update);
    } catch (err) {
      this.logger.warn('closing a co-editing connection after a malformed message', { err: String(err) });
      this.close(1007, 'malformed message');
    }
  }

  /**
   * Only the entry of the connection's own client id (the first one it used, unless that id is
   * someone else's) and only a state within the size cap, rewritten by the feature (who is
   * present) and re-encoded; everything else in the message is dropped. Throws on a malformed one.
   */
  private applyAwareness(document: CollabDocument, update: Uint8Array): void {
    const entry = awarenessEntryOf(update, this.awarenessClientId);
    if (!entry || entry.json.byteLength > this.policy.limits.maxAwarenessBytes) {
      this.droppedAwareness++;
      return;
    }
    const state = awarenessStateOf(entry);
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      this.droppedAwareness++;
      return;
    }
    if (this.awarenessClientId === null) {
      if (!document.claimAwareness(this, entry.clientId)) {
        this.droppedAwareness++;
        return;
      }
      this.awarenessClientId = entry.clientId;
    }
    const rewrite = this.policy.awarenessState;
    const applied = state && rewrite ? rewrite(state as Record<string, unknown>, this.context) : (state as Record<string, unknown> | null);
    document.applyClientAwareness(this, encodeAwarenessEntry(entry.clientId, entry.clock, applied));
  }

  /** Sends a reply once every accepted edit is stored; a failure closes this connection, never the process. */
  private afterDurable(document: CollabDocument, reply: () => Uint8Array): void {
    document
      .whenDurable()
      .then(() => {
        if (document.state === 'ready' && this.open) this.send(reply());
      })
      .catch((err: unknown) => {
        this.logger.warn('closing a co-editing connection: a sync reply failed', { err: String(err) });
        this.close(1011, 'sync failed');
      });
  }
}
