// The HTTP API: middleware, every route group under /api/v1, OpenAPI, metrics and
// problem+json errors. Route handlers live in each module's routes.ts.
import express, { Router } from 'express';
import { asyncApiDocument } from './asyncapi.js';
import type { Domain } from './composition.js';
import type { Config } from './platform/config.js';
import { isDatabaseReachable } from './platform/db.js';
import { corsMiddleware } from './platform/http/cors.js';
import { jsonBody } from './platform/http/json-body.js';
import { IdempotencyKeys, provideIdempotencyKeys } from './platform/http/idempotency.js';
import { NodeMetrics } from './platform/http/metrics.js';
import { requestId, requireAuth } from './platform/http/middleware.js';
import { requestLog } from './platform/http/request-log.js';
import { openApiDocument } from './platform/http/openapi.js';
import { errorHandler, notFoundHandler } from './platform/http/problem.js';
import { metricsGuard, securityHeaders } from './platform/http/security.js';
import type { Logger } from './platform/logger.js';
import type { OriginPolicy } from './platform/origins.js';
import { apiKeyRoutes } from './modules/api-keys/routes.js';
import { logRoutes } from './modules/audit/routes.js';
import { authRoutes, sessionRoutes } from './modules/auth/routes.js';
import { catalogRoutes } from './modules/catalog/routes.js';
import { commentRoutes } from './modules/comments/routes.js';
import { dashboardRoutes } from './modules/dashboards/routes.js';
import { incidentRoutes } from './modules/incidents/routes.js';
import { scorecardRoutes } from './modules/scorecards/routes.js';
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

export function createHttpApp({ domain, logger, config, readiness = {}, health = () => true, metrics = new NodeMetrics(), origins }: HttpDeps): express.Express {
  const app = express();
  metrics.watchPool(domain.knex);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Whether X-Forwarded-For names the client (req.ip, which rate limits key on): only behind a proxy.
  app.set('trust proxy', config.http.trustProxy);
  app.use(requestId);
  app.use(requestLog(logger.child({ component: 'http' })));
  app.use(securityHeaders({ hstsMaxAge: config.http.hstsMaxAge }));
  app.use(metrics.middleware());
  // Before any route or authentication: a preflight carries no token.
  app.use(corsMiddleware(origins));

  app.get('/healthz', (_req, res) => {
    if (health()) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'unavailable' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, boolean> = { database: await isDatabaseReachable(domain.knex) };
    for (const [name, check] of Object.entries(readiness)) checks[name] = await check().catch(() => false);
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  app.get('/metrics', metricsGuard({ token: config.http.metricsToken, mode: config.mode }), async (_req, res) => {
    const body = await metrics.render();
    res.set('Content-Type', metrics.contentType).send(body);
  });

  const api = Router();
  api.use(jsonBody({ maxBytes: config.http.bodyMaxBytes, maxDepth: config.http.bodyMaxDepth }));
  // Authenticated POSTs take an Idempotency-Key (see documentedRouter); their keys live in the database.
  api.use(provideIdempotencyKeys(new IdempotencyKeys(domain.knex, config.http.idempotency, logger)));

  // Each route group gets its own services only.
  const { users, apiKeys, entities, scorecards, permissions, incidents, dashboards, comments, audit, changeLog } = domain;
  const privateRoutes = [
    sessionRoutes({ auth: domain.auth, users }), meRoutes({ users }), userRoutes({ users }), apiKeyRoutes({ apiKeys }), ...catalogRoutes({ entities, permissions }),
    incidentRoutes({ incidents, permissions }), scorecardRoutes({ scorecards }), dashboardRoutes({ dashboards, permissions }),
    commentRoutes({ comments }), ...logRoutes({ audit, changeLog }),
  ];
  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument({ title: 'AppInventory Live', version: '1' }));
  });
  // The live-event and co-editing protocols, naming the host the client asked for.
  api.get('/asyncapi.json', (req, res) => {
    res.json(asyncApiDocument({ host: req.get('host'), protocol: req.protocol === 'https' ? 'wss' : 'ws' }));
  });
  const auth = authRoutes({ auth: domain.auth });
  api.use(auth.prefix, auth.router);
  api.use(requireAuth((token) => domain.auth.authenticate(token), domain.knex));
  for (const group of privateRoutes) api.use(group.prefix, group.router);

  app.use('/api/v1', api);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
