// Co-editing over the y-websocket protocol (SPEC §6): `attachCollab` takes the HTTP server's
// upgrades for /collab/<entity_type>/<entity_id> (and only those), authenticates and authorizes
// before upgrading, and serves each record's Yjs document from PostgreSQL, relayed through Redis.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import type * as Y from 'yjs';
import type { Domain } from '../../domain.js';
import { isCatalogType } from '../../modules/catalog/kinds.js';
import type { ChangeEvent } from '../bus.js';
import type { Logger } from '../logger.js';
import {
  CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, accessChangeOf, collabPath, currentActor, decideAccess, mayWrite,
  type AccessDecision,
} from './access.js';
import { Connection } from './connection.js';
import type { DocumentOptions } from './document.js';
import { Projector } from './projection.js';
import { RedisRelay } from './redis-relay.js';
import { DocumentRegistry, documentKey } from './registry.js';
import { CollabStorage } from './storage.js';

export interface CollabOptions extends Partial<DocumentOptions> {
  server: http.Server;
  domain: Domain;
  logger: Logger;
  /** Cluster mode: relay through Redis and elect one projector per document. */
  redisUrl?: string;
  redisPrefix?: string;
  nodeId: string;
  /** How often the projector lease is renewed (or, by the other nodes, tried for). */
  lockRenewMs?: number;
  /** Tests: observe each loaded Y.Doc (e.g. to check it is garbage-collected after unload). */
  onDocumentLoaded?: (doc: Y.Doc) => void;
}

export interface CollabHandle {
  close(): Promise<void>;
  /** Documents held in memory on this node. */
  loadedDocuments(): number;
  /** Whether this node has the record's document loaded, projects it, and how many clients it has here. */
  documentInfo(tenantId: string, entityType: string, entityId: string): { projector: boolean; clients: number } | null;
  connections(): number;
}

export const DEFAULT_COLLAB_OPTIONS: DocumentOptions & { lockRenewMs: number } = {
  projectionDelayMs: 500,
  projectionMaxDelayMs: 2_000,
  compactAfterUpdates: 200,
  compactIdleMs: 30_000,
  unloadDelayMs: 1_000,
  lockTtlMs: 10_000,
  lockRenewMs: 2_500,
};

const HEARTBEAT_MS = 30_000;

export function attachCollab(opts: CollabOptions): CollabHandle {
  const { server, domain } = opts;
  const logger = opts.logger.child({ component: 'collab', node: opts.nodeId });
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const options = { ...DEFAULT_COLLAB_OPTIONS, ...defined } as DocumentOptions & { lockRenewMs: number };
  const relay = opts.redisUrl ? new RedisRelay(opts.redisUrl, opts.redisPrefix ?? 'appinventory', logger) : undefined;
  const registry = new DocumentRegistry({
    domain,
    storage: new CollabStorage(domain.knex),
    projector: new Projector(domain.entities, domain.knex),
    relay,
    logger,
    options,
    onLoaded: opts.onDocumentLoaded && ((d) => opts.onDocumentLoaded!(d.doc)),
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024, perMessageDeflate: false });
  const connections = new Set<Connection>();
  let closing: Promise<void> | undefined;

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!collabPath(req.url)) return; // Socket.IO and others handle their own upgrades
    socket.on('error', () => {});
    if (closing) {
      socket.destroy();
      return;
    }
    void decideAccess(domain, req)
      .catch((err: unknown): AccessDecision => {
        logger.error('deciding co-editing access failed', { err: String(err) });
        return { ok: false, code: 1011, reason: 'internal error' };
      })
      .then((decision) => wss.handleUpgrade(req, socket, head, (ws) => {
        if (!decision.ok) {
          ws.close(decision.code, decision.reason);
          return;
        }
        open(new Connection(ws, decision, logger));
      }))
      .catch((err: unknown) => {
        logger.warn('co-editing upgrade failed', { err: String(err) });
        socket.destroy();
      });
  };
  server.on('upgrade', onUpgrade);

  function open(connection: Connection): void {
    const { ws, principal } = connection;
    connections.add(connection);
    ws.on('message', (data: RawData) => connection.receive(toBytes(data)));
    ws.on('pong', () => (connection.alive = true));
    ws.on('error', () => {});
    ws.on('close', () => {
      connections.delete(connection);
      connection.document?.detach(connection);
    });
    registry.acquire(principal.tenantId, principal.type, principal.entityId).then(
      (document) => {
        // Attach even if the client left meanwhile: detaching then arms the unload timer.
        connection.bind(document);
        if (!connection.open) document.detach(connection);
      },
      () => connection.close(1011, 'the document could not be loaded'),
    );
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

  const leases = relay
    ? setInterval(() => {
        for (const document of registry.documents.values()) void document.projection.tick();
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

  const unsubscribe = domain.bus.subscribe((events) => {
    for (const event of events) onEvent(event);
  });

  function onEvent(event: ChangeEvent): void {
    if (event.entity_id && isCatalogType(event.entity_type)) {
      registry.documents.get(documentKey(event.tenant_id, event.entity_type, event.entity_id))?.onEntityEvent(event);
    }
    const change = accessChangeOf(event);
    if (!change) return;
    for (const c of connections) {
      const { actor, tenantId } = c.principal;
      if (tenantId !== change.tenantId) continue;
      if (change.kind === 'revoked') {
        if ((change.userId && actor.userId === change.userId) || (change.apiKeyId && c.apiKeyId === change.apiKeyId)) {
          c.close(CLOSE_UNAUTHENTICATED, change.reason);
        }
        continue;
      }
      if (change.userId && actor.userId !== change.userId) continue;
      if (change.entityId && (c.principal.entityId !== change.entityId || c.principal.type !== change.entityType)) continue;
      void recheck(c);
    }
  }

  /** Access changed (grant revoked, role lowered): a writer who may no longer write is closed. */
  async function recheck(c: Connection): Promise<void> {
    try {
      const { principal } = c;
      const actor = await currentActor(domain.knex, principal.tenantId, principal.actor);
      if (!actor) {
        c.close(CLOSE_UNAUTHENTICATED, 'access revoked');
        return;
      }
      const writable = await mayWrite(domain, { tenantId: principal.tenantId, actor, db: domain.knex }, principal.type, principal.entityId);
      if (principal.writable && !writable) c.close(CLOSE_FORBIDDEN, 'write access revoked');
      else c.principal = { ...principal, actor };
    } catch (err) {
      logger.warn('re-checking co-editing access failed', { err: String(err) });
    }
  }

  return {
    loadedDocuments: () => registry.size,
    connections: () => connections.size,
    documentInfo(tenantId, entityType, entityId) {
      const d = registry.documents.get(documentKey(tenantId, entityType, entityId));
      return d ? { projector: d.projection.held, clients: d.clients.size } : null;
    },
    close: () =>
      (closing ??= (async () => {
        server.off('upgrade', onUpgrade);
        clearInterval(heartbeat);
        clearInterval(leases);
        unsubscribe();
        // Clients reconnect (to another node in a cluster); the documents are flushed and projected first.
        for (const c of connections) {
          c.close(1001, 'server shutting down');
          c.document?.detach(c);
        }
        await registry.unloadAll();
        for (const c of connections) c.ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await relay?.close();
      })()),
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
