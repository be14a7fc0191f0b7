// The HTTP API: middleware, every route group under /api/v1, OpenAPI, metrics and
// problem+json errors. Route handlers live in each module's routes.ts.
import express, { Router } from 'express';
import { z } from 'zod';
import { asyncApiDocument } from './asyncapi.js';
import type { Domain } from './composition.js';
import type { Config } from './platform/config.js';
import { corsMiddleware } from './platform/http/cors.js';
import { jsonBody, textBody } from './platform/http/json-body.js';
import { IdempotencyKeys, provideIdempotencyKeys } from './platform/http/idempotency.js';
import { NodeMetrics } from './platform/http/metrics.js';
import { requestId, requireAuth } from './platform/http/middleware.js';
import { requestLog } from './platform/http/request-log.js';
import { consoleRoutes } from './platform/http/console.js';
import { docsRoutes } from './platform/http/docs.js';
import { API_BASE, documentedRouter, openApiDocument } from './platform/http/openapi.js';
import { errorHandler, notFoundHandler } from './platform/http/problem.js';
import { metricsGuard, securityHeaders } from './platform/http/security.js';
import type { Logger } from './platform/logger.js';
import type { OriginPolicy } from './platform/origins.js';
import { opsRoutes } from './ops-routes.js';
import { apiKeyRoutes } from './modules/api-keys/routes.js';
import { logRoutes } from './modules/audit/routes.js';
import { authRoutes, sessionRoutes } from './modules/auth/routes.js';
import { catalogRoutes } from './modules/catalog/routes.js';
import { commentRoutes } from './modules/comments/routes.js';
import { descriptorRoutes } from './modules/descriptors/routes.js';
import { IMPORT_MAX_BYTES, YAML_TYPES } from './modules/descriptors/schemas.js';
import { dashboardRoutes } from './modules/dashboards/routes.js';
import { incidentRoutes } from './modules/incidents/routes.js';
import { scorecardRoutes } from './modules/scorecards/routes.js';
import { tenantRoutes } from './modules/tenants/routes.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import { searchRoutes } from './modules/search/routes.js';
import { meRoutes, userRoutes } from './modules/users/routes.js';

export interface HttpDeps {
  domain: Domain;
  logger: Logger;
  /** Body bounds, headers and the metrics token; mode decides whether an unguarded /metrics is served. */
  config: Pick<Config, 'http' | 'mode'>;
  /** Extra readiness checks (Redis, when clustered). */
  readiness?: Record<string, () => Promise<boolean>>;
  /** Liveness beyond the process answering: an embedded node's own PostgreSQL is running. */
  health?: () => boolean;
  /** The node's metrics (its engines report into the same Registry); a new one when absent. */
  metrics?: NodeMetrics;
  /** Which browser origins get a CORS allowance (the node's, shared with live events and co-editing). */
  origins: OriginPolicy;
}

export function createHttpApp({
  domain,
  logger,
  config,
  readiness = {},
  health = () => true,
  metrics = new NodeMetrics(),
  origins,
}: HttpDeps): express.Express {
  const app = express();
  metrics.watchPool(domain.knex);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Whether X-Forwarded-For names the client (req.ip, which rate limits key on): only behind a proxy.
  app.set('trust proxy', config.http.trustProxy);
  app.use(requestMiddleware({ logger, hstsMaxAge: config.http.hstsMaxAge, metrics, origins }));

  const ops = opsRoutes({ domain, readiness, health, metrics, guard: metricsGuard({ token: config.http.metricsToken, mode: config.mode }) });
  app.use(ops.router);
  app.use(docsRoutes({ specUrl: `${API_BASE}/openapi.json` }).router);
  app.use(consoleRoutes().router);

  const api = Router();
  // A descriptor file is YAML, and larger than a JSON body may be.
  api.use('/import', textBody({ types: YAML_TYPES, maxBytes: IMPORT_MAX_BYTES }));
  api.use(jsonBody({ maxBytes: config.http.bodyMaxBytes, maxDepth: config.http.bodyMaxDepth }));
  // Authenticated POSTs take an Idempotency-Key (see documentedRouter); their keys live in the database.
  api.use(provideIdempotencyKeys(new IdempotencyKeys(domain.knex, config.http.idempotency, logger)));

  // Each route group gets its own services only.
  const {
    users,
    apiKeys,
    entities,
    scorecards,
    permissions,
    incidents,
    dashboards,
    comments,
    audit,
    changeLog,
    tenants,
    descriptors,
    webhooks,
    webhookWorker,
  } = domain;
  const privateRoutes = [
    sessionRoutes({ auth: domain.auth, users }),
    meRoutes({ users }),
    tenantRoutes({ tenants }),
    userRoutes({ users }),
    apiKeyRoutes({ apiKeys }),
    webhookRoutes({ webhooks, webhookWorker }),
    ...catalogRoutes({ entities, permissions }, { graphMaxNodes: config.http.graphMaxNodes }),
    searchRoutes(),
    descriptorRoutes({ descriptors, entities }),
    incidentRoutes({ incidents, permissions }),
    scorecardRoutes({ scorecards }),
    dashboardRoutes({ dashboards, permissions }),
    commentRoutes({ comments }),
    ...logRoutes({ audit, changeLog }),
  ];
  const documents = documentedRouter('', 'docs', 'The API documents and their reference page.');
  documents.op(
    'get',
    '/openapi.json',
    {
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI document',
      description: 'The OpenAPI 3.1 document of the REST API, generated from the zod schemas that validate its requests.',
      response: z
        .object({
          openapi: z.string(),
          info: z.object({ title: z.string(), version: z.string() }),
          paths: z.record(z.string(), z.record(z.string(), z.unknown())),
          components: z.record(z.string(), z.unknown()),
        })
        .describe('OpenAPI 3.1'),
      envelope: false,
      public: true,
      errors: [415],
    },
    (_req, res) => {
      res.json(apiDocument());
    },
  );
  documents.op(
    'get',
    '/asyncapi.json',
    {
      operationId: 'getAsyncApiDocument',
      summary: 'The AsyncAPI document of the live events and co-editing',
      description:
        'The AsyncAPI 3 document of the Socket.IO live events (`/socket.io`: handshake, `change` envelopes per entity ' +
        'type, subscribe/unsubscribe and their acks, revocation, resync) and of the co-editing WebSocket endpoint (`/collab`), ' +
        'generated from the zod schemas the server validates with. Its `servers` name the host the request was sent to.',
      response: z
        .object({
          asyncapi: z.string(),
          info: z.object({ title: z.string(), version: z.string() }),
          servers: z.record(z.string(), z.unknown()),
          channels: z.record(z.string(), z.unknown()),
          operations: z.record(z.string(), z.unknown()),
          components: z.record(z.string(), z.unknown()),
        })
        .describe('AsyncAPI 3'),
      envelope: false,
      public: true,
      errors: [415],
    },
    (req, res) => {
      res.json(asyncApiDocument({ host: req.get('host'), protocol: req.protocol === 'https' ? 'wss' : 'ws' }));
    },
  );
  api.use(documents.router);
  const auth = authRoutes({ auth: domain.auth });
  api.use(auth.prefix, auth.router);
  api.use(requireAuth((token) => domain.auth.authenticate(token), domain.knex));
  for (const group of privateRoutes) api.use(group.prefix, group.router);

  app.use('/api/v1', api);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}

/**
 * What every request passes before any route: its id, its log line, the security headers, its
 * metrics and CORS (before authentication: a preflight carries no token).
 */
export function requestMiddleware(deps: { logger: Logger; hstsMaxAge: number; metrics: NodeMetrics; origins: OriginPolicy }): express.RequestHandler[] {
  return [
    requestId,
    requestLog(deps.logger.child({ component: 'http' })),
    securityHeaders({ hstsMaxAge: deps.hstsMaxAge }),
    deps.metrics.middleware(),
    corsMiddleware(deps.origins),
  ];
}

/** The OpenAPI document of the routes declared so far (every node declares the same ones). */
export function apiDocument() {
  return openApiDocument({
    title: 'AppInventory Live',
    version: '1',
    description:
      'The REST API of AppInventory Live: a multi-tenant application inventory (catalog, incidents, ' +
      'scorecards, dashboards) whose every committed change is also pushed live over Socket.IO (`/socket.io`) ' +
      'and co-edited over y-websocket (`/collab`); see `/api/v1/asyncapi.json` where served.\n\n' +
      'JSON in, JSON out; errors are `application/problem+json` (RFC 9457). Lists are keyset-paginated with ' +
      'opaque cursors. Versioned records carry an `ETag` (their `row_version`), which `If-Match` takes back. ' +
      'Every response carries `X-Request-Id`.',
  });
}
