// One client's WebSocket on a document: y-websocket messages in, sync replies and relayed
// edits out. Read-only clients' document updates are dropped here, before anything applies them.
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import type { Logger } from '../logger.js';
import { CLIENT, type CollabDocument, type DocClient } from './document.js';
import type { ConnectionHandle, DocumentAddress, EditAuthor } from './hooks.js';
import { awarenessStatesMessage, readClientMessage, syncStep1Message, syncStep2Message } from './protocol.js';

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
  private early: Uint8Array[] | null = [];
  private earlyBytes = 0;

  constructor(
    readonly ws: WebSocket,
    readonly address: DocumentAddress,
    readonly readOnly: boolean,
    readonly author: EditAuthor,
    /** The feature's data (onAuthenticate), replaceable by the feature. */
    public context: C,
    private readonly logger: Logger,
  ) {}

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
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
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
        case 'update':
          if (!this.readOnly) document.applyClientUpdate(this, message.update);
          else this.droppedUpdates++;
          break;
        case 'awareness':
          document.applyClientAwareness(this, message.update);
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
