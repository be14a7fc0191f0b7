// The HTTP API (SPEC §4): middleware, every route group under /api/v1, and problem+json errors.
import express, { Router } from 'express';
import type { Knex } from 'knex';
import type { Domain } from './domain.js';
import { isDatabaseReachable } from './platform/db.js';
import { UnsupportedMediaType } from './platform/errors.js';
import { crudRoutes } from './platform/http/crud-routes.js';
import { requestId, requireAuth } from './platform/http/middleware.js';
import { errorHandler, notFoundHandler } from './platform/http/problem.js';
import { ctxOf, idParam, sendCreated, sendData } from './platform/http/respond.js';
import type { Logger } from './platform/logger.js';
import { CATALOG_TYPES, KINDS } from './modules/catalog/kinds.js';

export const BODY_LIMIT = '256kb';

export interface HttpDeps {
  domain: Domain;
  logger: Logger;
  /** Extra readiness checks (Redis, when clustered). */
  readiness?: Record<string, () => Promise<boolean>>;
}

export function createHttpApp({ domain, logger, readiness = {} }: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, boolean> = { database: await isDatabaseReachable(domain.knex as Knex) };
    for (const [name, check] of Object.entries(readiness)) checks[name] = await check().catch(() => false);
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });

  const api = Router();
  api.use((req, _res, next) => {
    // A write must say it is JSON; anything else would be silently read as an empty body.
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      next(UnsupportedMediaType('Send request bodies as application/json.'));
      return;
    }
    next();
  });
  api.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  api.post('/auth/signup', async (req, res) => {
    const result = await domain.auth.signup(req.body ?? {}, { requestId: req.id, ip: req.ip });
    res.status(201).json({ data: result });
  });
  api.post('/auth/login', async (req, res) => {
    res.json({ data: await domain.auth.login(req.body ?? {}) });
  });

  api.use(requireAuth((token) => domain.auth.authenticate(token)));

  api.get('/me', async (req, res) => {
    const ctx = ctxOf(req);
    const user = await domain.users.get({ ...ctx }, ctx.actor.userId!);
    res.json({ data: { user, tenant_id: ctx.tenantId, actor: { type: ctx.actor.type, id: ctx.actor.id, role: ctx.actor.role, can_write: ctx.actor.canWrite } } });
  });

  for (const type of CATALOG_TYPES) {
    const service = domain.entities[type];
    api.use(`/${type}`, crudRoutes(service, KINDS[type], { detail: (ctx, id) => service.getDetail(ctx, id) }));
  }

  const users = Router();
  users.get('/', async (req, res) => {
    res.json({ data: await domain.users.list(ctxOf(req), { includeDeleted: req.query.include_deleted === 'true' }) });
  });
  users.post('/', async (req, res) => sendCreated(req, res, await domain.users.create(ctxOf(req), req.body ?? {})));
  users.get('/:id', async (req, res) => sendData(res, await domain.users.get(ctxOf(req), idParam(req))));
  users.patch('/:id', async (req, res) => sendData(res, await domain.users.update(ctxOf(req), idParam(req), req.body ?? {})));
  users.delete('/:id', async (req, res) => {
    await domain.users.remove(ctxOf(req), idParam(req));
    res.status(204).end();
  });
  api.use('/users', users);

  const apiKeys = Router();
  apiKeys.get('/', async (req, res) => res.json({ data: await domain.apiKeys.list(ctxOf(req)) }));
  apiKeys.post('/', async (req, res) => sendCreated(req, res, await domain.apiKeys.create(ctxOf(req), req.body ?? {})));
  apiKeys.delete('/:id', async (req, res) => {
    await domain.apiKeys.revoke(ctxOf(req), idParam(req));
    res.status(204).end();
  });
  api.use('/api-keys', apiKeys);

  api.get('/audit-logs', async (req, res) => res.json(await domain.audit.list(ctxOf(req), req.query)));
  api.get('/events', async (req, res) => res.json(await domain.changeLog.page(ctxOf(req), req.query)));

  app.use('/api/v1', api);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
