// The y-websocket engine (the transport of co-editing): `attachCollab` takes the HTTP server's upgrades for
// /collab/… (and only those), asks its extension who may open which document before upgrading,
// and serves each document from PostgreSQL (update log + snapshots), relayed through Redis. What a
// document means is the extension's (hooks.ts); this module knows connections, documents and bytes.
import type http from 'node:http';
import type { Knex } from 'knex';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import type * as Y from 'yjs';
import type { ChangeEvent, EventBus } from '../bus.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import type { OriginPolicy } from '../origins.js';
import { Connection } from './connection.js';
import type { DocumentOptions } from './document.js';
import type { Admission, CollabExtension } from './hooks.js';
import { DEFAULT_COLLAB_LIMITS, maxPayloadBytes, type CollabLimits } from './limits.js';
import { RedisRelay } from './redis-relay.js';
import { DocumentRegistry, documentKey } from './registry.js';
import { CollabStorage } from './storage.js';

export interface CollabEngineOptions extends Partial<DocumentOptions> {
  server: http.Server;
  /** The node's database: collab_documents and collab_updates. */
  knex: Knex;
  /** Committed change events of every node, handed to the extension and the documents they are about. */
  bus: EventBus;
  logger: Logger;
  /** Cluster mode: relay through Redis and offer documents a lease. */
  redisUrl?: string;
  redisPrefix?: string;
  nodeId: string;
  /** How often each document's onTick runs in cluster mode (the lease is renewed, or tried for). */
  lockRenewMs?: number;
  /** How often the extension's onRecheck is asked about every open connection. */
  accessRecheckMs?: number;
  /** What one client may put into a document and its presence (COLLAB_* variables); defaults DEFAULT_COLLAB_LIMITS. */
  limits?: Partial<CollabLimits>;
  /** Browser origins that may open documents (an upgrade from another is refused with 403); unset: any. */
  origins?: OriginPolicy;
  /** Tests: observe each loaded Y.Doc (e.g. to check it is garbage-collected after unload). */
  onDocumentLoaded?: (doc: Y.Doc) => void;
}

export interface CollabHandle {
  close(): Promise<void>;
  /** Documents held in memory on this node. */
  loadedDocuments(): number;
  /** Whether this node has the document loaded, how many clients it has here, and what its feature state says. */
  documentInfo(tenantId: string, entityType: string, entityId: string): ({ clients: number } & Record<string, unknown>) | null;
  connections(): number;
}

export const DEFAULT_ENGINE_OPTIONS: DocumentOptions & { lockRenewMs: number } = {
  compactAfterUpdates: 200,
  compactIdleMs: 30_000,
  unloadDelayMs: 1_000,
  lockRenewMs: 2_500,
};

const HEARTBEAT_MS = 30_000;
export const DEFAULT_ACCESS_RECHECK_MS = 5_000;

export function attachCollab<C>(opts: CollabEngineOptions & { extension: CollabExtension<C> }): CollabHandle {
  const { server, extension } = opts;
  const logger = opts.logger.child({ component: 'collab', node: opts.nodeId });
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const options = { ...DEFAULT_ENGINE_OPTIONS, ...defined } as DocumentOptions & { lockRenewMs: number; accessRecheckMs?: number };
  const limits = { ...DEFAULT_COLLAB_LIMITS, ...Object.fromEntries(Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)) } as CollabLimits;
  const relay = opts.redisUrl ? new RedisRelay(opts.redisUrl, opts.redisPrefix ?? 'appinventory', logger) : undefined;
  const registry = new DocumentRegistry({
    storage: new CollabStorage(opts.knex, extension.canCompact && ((doc) => extension.canCompact!({ doc }))),
    extension,
    relay,
    logger,
    options,
    limits,
    onLoaded: opts.onDocumentLoaded && ((d) => opts.onDocumentLoaded!(d.doc)),
  });
  // Frames above this are refused by ws with 1009; an update between its cap and this closes with 4413.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes(limits), perMessageDeflate: false });
  const policy = {
    limits,
    awarenessState: extension.awarenessState && ((state: Record<string, unknown>, context: C) => extension.awarenessState!({ state, context })),
  };
  const connections = new Set<Connection<C>>();
  let closing: Promise<void> | undefined;

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!collabPath(req.url)) return; // Socket.IO and others handle their own upgrades
    socket.on('error', () => {});
    if (closing) {
      socket.destroy();
      return;
    }
    // Browsers let any page open a WebSocket anywhere; the Origin they send is the only guard.
    if (opts.origins && !opts.origins.allows(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://collab.invalid');
    const segments = url.pathname.split('/').slice(2).map(safeDecode);
    void extension
      .onAuthenticate({ request: req, url, segments })
      .catch((err: unknown): Admission<C> => {
        logger.error('deciding co-editing access failed', { err: String(err) });
        return { ok: false, code: 1011, reason: 'internal error' };
      })
      .then((admission) => {
        if (admission.ok && admission.release) socket.once('close', admission.release);
        return wss.handleUpgrade(req, socket, head, (ws) => {
          if (!admission.ok) {
            logger.info('co-editing connection refused', { url: redactUrl(req.url ?? '/'), code: admission.code, reason: admission.reason });
            ws.close(admission.code, admission.reason);
            return;
          }
          const { address } = admission;
          // Every line about this connection names its document and who holds it.
          const connectionLogger = logger.child({
            document: `${address.entityType}/${address.entityId}`,
            tenant_id: address.tenantId,
            ...(admission.actor ? { actor: admission.actor } : {}),
          });
          open(new Connection(ws, address, admission.readOnly, admission.author, admission.context, connectionLogger, policy), connectionLogger);
        });
      })
      .catch((err: unknown) => {
        logger.warn('co-editing upgrade failed', { err: String(err) });
        socket.destroy();
      });
  };
  server.on('upgrade', onUpgrade);

  function open(connection: Connection<C>, connectionLogger: Logger): void {
    const { ws } = connection;
    connections.add(connection);
    connectionLogger.info('co-editing connection opened', { read_only: connection.readOnly });
    ws.on('message', (data: RawData) => {
      try {
        connection.receive(toBytes(data));
      } catch (err) {
        logger.warn('closing a co-editing connection after a failed message', { err: String(err) });
        connection.close(1011, 'internal error');
      }
    });
    ws.on('pong', () => (connection.alive = true));
    ws.on('error', () => {});
    ws.on('close', (code: number, reason: Buffer) => {
      connectionLogger.info('co-editing connection closed', { code, reason: reason.toString() });
      connection.dispose();
      connections.delete(connection);
      connection.document?.detach(connection);
    });
    registry
      .acquire(connection.address)
      .then(
        (document) => {
          // Attach even if the client left meanwhile: detaching then arms the unload timer.
          connection.bind(document);
          if (!connection.open) document.detach(connection);
        },
        () => connection.close(1011, 'the document could not be loaded'),
      )
      .catch((err: unknown) => {
        logger.error('binding a co-editing connection failed', { err: String(err) });
        connection.close(1011, 'internal error');
        connection.document?.detach(connection);
      });
  }

  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      if (c.open) c.ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  let rechecking: Promise<void> | undefined;
  const accessRecheck = setInterval(() => {
    if (rechecking || closing || !extension.onRecheck) return;
    rechecking = extension
      .onRecheck({ connections: [...connections] })
      .catch((err: unknown) => logger.warn('re-checking co-editing connections failed', { err: String(err) }))
      .finally(() => (rechecking = undefined));
  }, options.accessRecheckMs ?? DEFAULT_ACCESS_RECHECK_MS);
  accessRecheck.unref();

  const leases = relay
    ? setInterval(() => {
        for (const document of registry.documents.values()) void document.hooks.onTick?.().catch(() => {});
      }, options.lockRenewMs)
    : undefined;
  leases?.unref();
  // Messages published while this node's subscriber was away are gone: re-read what is stored,
  // now and once more a moment later (a write committing during the reconnect is not missed).
  const catchUpAll = () => {
    for (const document of registry.documents.values()) {
      document.catchUp().catch((err: unknown) => logger.warn('co-editing catch-up failed', { err: String(err) }));
    }
  };
  relay?.onReconnect(() => {
    catchUpAll();
    setTimeout(catchUpAll, 1_000).unref();
  });

  const unsubscribe = opts.bus.subscribe((events) => {
    for (const event of events) onEvent(event);
  });

  function onEvent(event: ChangeEvent): void {
    if (event.entity_id) registry.documents.get(documentKey(event.tenant_id, event.entity_type, event.entity_id))?.onBusEvent(event);
    extension.onBusEvent?.({ event, connections });
  }

  return {
    loadedDocuments: () => registry.size,
    connections: () => connections.size,
    documentInfo(tenantId, entityType, entityId) {
      const d = registry.documents.get(documentKey(tenantId, entityType, entityId));
      return d ? { ...d.hooks.describe?.(), clients: d.clients.size } : null;
    },
    close: () =>
      (closing ??= (async () => {
        server.off('upgrade', onUpgrade);
        clearInterval(heartbeat);
        clearInterval(leases);
        clearInterval(accessRecheck);
        unsubscribe();
        // Clients reconnect (to another node in a cluster); the documents are flushed and projected first.
        for (const c of connections) {
          c.close(1001, 'server shutting down');
          c.document?.detach(c);
        }
        await rechecking;
        await registry.unloadAll();
        for (const c of connections) c.ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await relay?.close();
      })()),
  };
}

function collabPath(url: string | undefined): string | null {
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

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
