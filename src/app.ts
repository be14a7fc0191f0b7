// One app node: the domain services, the HTTP API, live events (Socket.IO) and co-editing (Yjs)
// on one HTTP server. Used by `npm start`, the tests (port 0) and the benchmarks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { createDomain, type Domain } from './composition.js';
import { createHttpApp } from './http.js';
import { InProcessEventBus, type EventBus } from './platform/bus.js';
import type { Config } from './platform/config.js';
import type { Logger } from './platform/logger.js';
import { createOriginPolicy } from './platform/origins.js';
import type { CollabExtension } from './platform/collab/hooks.js';
import { NodeMetrics } from './platform/http/metrics.js';
import { attachCollab, type CollabEngineOptions, type CollabHandle } from './platform/collab/server.js';
import { RateLimits } from './platform/rate-limits.js';
import { AdapterRedis } from './platform/realtime/adapter.js';
import { SocketCaps } from './platform/realtime/socket-caps.js';
import { LiveEvents } from './platform/realtime/live-events.js';
import { DEFAULT_REDIS_PREFIX, RedisEventBus, closeRedisClient, createRedisClient } from './platform/redis-bus.js';
import { resolveJwtSecret } from './modules/auth/tokens.js';
import { CLOSE_TOO_MANY_CONNECTIONS, type CollabPrincipal } from './modules/coediting/access.js';
import { createCoeditingExtension, type CoeditingOptions } from './modules/coediting/extension.js';
import { coeditingPorts, liveEventPorts } from './ports.js';

export interface AppHandle {
  url: string;
  port: number;
  domain: Domain;
  server: http.Server;
  /** The Express app answering the server's HTTP requests (its router is what the API documents). */
  http: ReturnType<typeof createHttpApp>;
  live: LiveEvents;
  collab: CollabHandle;
  /** The node's Prometheus metrics (GET /metrics). */
  metrics: NodeMetrics;
  /** Stops accepting, moves live sockets elsewhere, then closes Redis; the database is the caller's. */
  close(): Promise<void>;
}

export interface LiveOptions {
  /** How often each node compares the change log with what it delivered (ms, default 1000). */
  sweepIntervalMs?: number;
  /** Prefix of the Redis channels (event bus, Socket.IO adapter); one per deployment. */
  redisPrefix?: string;
  /** Live sockets reached per turn of the event loop when an event fans out (default 100). */
  sliceSize?: number;
}

/** Co-editing: the engine's options and the feature's timings, as one set (tests shorten them). */
export type CollabOptions = Omit<CollabEngineOptions, 'server' | 'knex' | 'bus'> & CoeditingOptions;

export interface StartOptions {
  config: Config;
  knex: Knex;
  logger: Logger;
  /** Defaults to the Redis bus when config.redisUrl is set, else the in-process bus (one node). */
  bus?: EventBus;
  live?: LiveOptions;
  /** Co-editing timings and hooks (tests shorten the debounce); server, database, bus and Redis come from here. */
  collab?: Partial<CollabOptions>;
  /** Liveness for /healthz beyond the process (an embedded node's own PostgreSQL). */
  health?: () => boolean;
}

/** Buses that can answer /readyz (the Redis bus). */
interface CheckableBus extends EventBus {
  isReachable?(): Promise<boolean>;
}

const FORCE_CLOSE_AFTER_MS = 2_000;

/** The co-editing extension with its connections counted against the caps per user and tenant. */
function capped(extension: CollabExtension<CollabPrincipal>, caps: SocketCaps): CollabExtension<CollabPrincipal> {
  return {
    ...extension,
    async onAuthenticate(payload) {
      const admission = await extension.onAuthenticate(payload);
      if (!admission.ok) return admission;
      const { tenantId, actor } = admission.context;
      const counted = await caps.admit(tenantId, actor.userId ?? null);
      if (!counted.ok) {
        return { ok: false, code: CLOSE_TOO_MANY_CONNECTIONS, reason: `too_many_sockets: at most ${counted.limit} per ${counted.scope}` };
      }
      return { ...admission, release: () => caps.release(tenantId, actor.userId ?? null) };
    },
  };
}

export async function startServer({ config, knex, logger, bus, live: liveOptions = {}, collab: collabOptions = {}, health }: StartOptions): Promise<AppHandle> {
  const prefix = liveOptions.redisPrefix ?? DEFAULT_REDIS_PREFIX;
  const metrics = new NodeMetrics();
  if (!bus && config.redisUrl) {
    const redisBus = new RedisEventBus({ url: config.redisUrl, logger, prefix, metrics });
    if (!(await redisBus.start())) logger.warn('Redis is not reachable yet; live events fall back to the change-log sweep until it is');
    bus = redisBus;
  }
  const eventBus: CheckableBus = bus ?? new InProcessEventBus();
  const adapterRedis = config.redisUrl ? new AdapterRedis(config.redisUrl, logger) : undefined;

  // Rate limits and socket caps count in Redis (cluster-wide) when there is one. No offline queue:
  // during an outage a command fails at once and the limiter counts in memory instead.
  const limitsRedis = config.redisUrl
    ? createRedisClient(config.redisUrl, logger, 'limits', { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    : undefined;
  const rateLimits = { store: new RateLimits({ redis: limitsRedis, prefix }), settings: config.rateLimits };
  const domain = createDomain({
    knex,
    bus: eventBus,
    logger,
    jwtSecret: resolveJwtSecret(config),
    rateLimits,
    metrics,
    webhooks: config.webhooks,
    derivedEvents: config.derivedEvents,
  });
  const readiness: Record<string, () => Promise<boolean>> = {};
  if (adapterRedis) {
    readiness.redis = async () => {
      const checks = await Promise.all([adapterRedis.isReachable(), eventBus.isReachable?.() ?? Promise.resolve(true)]);
      return checks.every(Boolean);
    };
  }
  // The embedded default names the port the node listens on, known once it does (port 0 in tests).
  const listening: { port?: number } = {};
  const origins = createOriginPolicy({ configured: config.http.corsOrigins, mode: config.mode, port: () => listening.port });
  const app = createHttpApp({ domain, logger, config, readiness, health, metrics, origins });
  const server = http.createServer(app);
  const live = new LiveEvents({
    server,
    ...liveEventPorts(domain),
    logger,
    adapter: adapterRedis?.adapter(`${prefix}:socket.io`),
    sweepIntervalMs: liveOptions.sweepIntervalMs,
    sliceSize: liveOptions.sliceSize,
    caps: new SocketCaps({
      perUser: config.live.socketsPerUser,
      perTenant: config.live.socketsPerTenant,
      redis: limitsRedis,
      prefix,
      nodeId: config.nodeId,
      logger,
    }),
    maxBufferedBytes: config.live.maxBufferedBytes,
    metrics,
    origins,
  });
  const collabCaps = new SocketCaps({
    perUser: config.live.socketsPerUser,
    perTenant: config.live.socketsPerTenant,
    redis: limitsRedis,
    prefix: `${prefix}:collab`,
    nodeId: config.nodeId,
    logger,
  });
  // Co-editing: the generic y-websocket engine, with the co-editing feature as its extension.
  const { projectionDelayMs, projectionMaxDelayMs, lockTtlMs, ...engineOptions } = collabOptions;
  const collabLogger = engineOptions.logger ?? logger;
  const collab = attachCollab({
    server,
    knex,
    bus: eventBus,
    logger,
    nodeId: config.nodeId,
    redisUrl: config.redisUrl,
    redisPrefix: prefix,
    origins,
    ...engineOptions,
    // Tests narrow single limits; the rest come from the configuration.
    limits: { ...config.collab, ...engineOptions.limits },
    // Co-editing connections have caps of their own (the same values, counted apart from live sockets).
    extension: capped(
      createCoeditingExtension({
        ports: coeditingPorts(domain),
        logger: collabLogger.child({ node: engineOptions.nodeId ?? config.nodeId }),
        options: { projectionDelayMs, projectionMaxDelayMs, lockTtlMs },
      }),
      collabCaps,
    ),
  });
  metrics.watchLive(live);
  metrics.watchCollab(collab);
  if (eventBus instanceof RedisEventBus) metrics.watchBus(eventBus);

  const releaseRedis = async () => {
    await eventBus.close();
    await adapterRedis?.close();
    if (limitsRedis) await closeRedisClient(limitsRedis);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await collab.close();
    collabCaps.close();
    await live.close();
    await releaseRedis();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  listening.port = port;
  if (config.webhooks.deliver) domain.webhookWorker.start();
  if (config.derivedEvents.run) domain.followers.start();
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    domain,
    server,
    http: app,
    live,
    collab,
    metrics,
    close: () =>
      (closing ??= (async () => {
        // 0. Stop delivering webhooks (the attempt in flight finishes and is recorded).
        await domain.webhookWorker.stop();
        //    and deriving events (the pass in flight commits or rolls back; its cursor says which).
        await domain.followers.stop();
        // 1. Stop accepting connections (HTTP and WebSocket upgrades).
        const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), FORCE_CLOSE_AFTER_MS);
        force.unref();
        // 2. Flush co-editing (stored updates, a last projection) and close its connections; deliver
        //    what is queued, then send every live socket to reconnect elsewhere.
        await collab.close();
        collabCaps.close();
        await live.close();
        await httpClosed;
        clearTimeout(force);
        // 3. Redis last: writes that finished above still published their events.
        await releaseRedis();
      })()),
  };
}
