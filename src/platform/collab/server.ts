// Co-editing over the y-websocket protocol (SPEC §6): `attachCollab` takes the HTTP server's
// upgrades for /collab/<entity_type>/<entity_id> (and only those), authenticates and authorizes
// before upgrading, and serves each record's Yjs document from PostgreSQL, relayed through Redis.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData } from 'ws';
import type * as Y from 'yjs';
import type { Domain } from '../../domain.js';
import type { Principal } from '../../modules/auth/service.js';
import { isCatalogType } from '../../modules/catalog/kinds.js';
import type { ChangeEvent } from '../bus.js';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';
import {
  CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, accessChangeOf, collabPath, decideAccess, mayWrite, type AccessDecision,
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
  /**
   * How often every open connection's token is authenticated again and every writer's write access
   * re-checked: revocations whose change event never arrived (a Redis blip) still close sockets.
   */
  accessRecheckMs?: number;
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
export const DEFAULT_ACCESS_RECHECK_MS = 5_000;
/** Frames above this are refused by ws with 1009 (a y-websocket client sends small updates). */
export const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024;

export function attachCollab(opts: CollabOptions): CollabHandle {
  const { server, domain } = opts;
  const logger = opts.logger.child({ component: 'collab', node: opts.nodeId });
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const options = { ...DEFAULT_COLLAB_OPTIONS, ...defined } as DocumentOptions & { lockRenewMs: number; accessRecheckMs?: number };
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
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES, perMessageDeflate: false });
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
    ws.on('close', () => {
      connections.delete(connection);
      connection.document?.detach(connection);
    });
    registry
      .acquire(principal.tenantId, principal.type, principal.entityId)
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

  // Revocation normally arrives as a change event; this bounds how long a lost event leaves a socket open.
  let rechecking: Promise<void> | undefined;
  const accessRecheck = setInterval(() => {
    if (rechecking || closing) return;
    rechecking = recheckAccess([...connections]).finally(() => (rechecking = undefined));
  }, options.accessRecheckMs ?? DEFAULT_ACCESS_RECHECK_MS);
  accessRecheck.unref();

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
      void recheckAccess([c]);
    }
  }

  /**
   * Authenticates each connection's token again (4401 when it no longer signs in: key revoked, user
   * deactivated or deleted, token expired) and re-checks a writer's write access (4403 when lost:
   * grant revoked or lowered, role lowered). One authentication per token and one write check per
   * token and record per round. A database error leaves the connections as they are.
   */
  async function recheckAccess(targets: Connection[]): Promise<void> {
    const principals = new Map<string, Promise<Principal | null>>();
    const writes = new Map<string, Promise<boolean>>();
    for (const c of targets) {
      if (!c.open) continue;
      const { token, tenantId, type, entityId, writable } = c.principal;
      try {
        let authenticated = principals.get(token);
        if (!authenticated) principals.set(token, (authenticated = authenticateOrNull(token)));
        const principal = await authenticated;
        if (!principal || principal.tenantId !== tenantId) {
          c.close(CLOSE_UNAUTHENTICATED, 'access revoked');
          continue;
        }
        if (writable) {
          const key = `${token}\n${type}\n${entityId}`;
          let allowed = writes.get(key);
          if (!allowed) writes.set(key, (allowed = mayWrite(domain, { tenantId, actor: principal.actor, db: domain.knex }, type, entityId)));
          if (!(await allowed)) {
            c.close(CLOSE_FORBIDDEN, 'write access revoked');
            continue;
          }
        }
        c.principal = { ...c.principal, actor: principal.actor };
      } catch (err) {
        logger.warn('re-checking co-editing access failed', { err: String(err) });
      }
    }
  }

  async function authenticateOrNull(token: string): Promise<Principal | null> {
    try {
      return await domain.auth.authenticate(token);
    } catch (err) {
      if (err instanceof AppError && err.status === 401) return null;
      throw err;
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

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
