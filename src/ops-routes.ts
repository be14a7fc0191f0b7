// Health, readiness and metrics at the server root, documented like every other route.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Domain } from './composition.js';
import { isDatabaseReachable } from './platform/db.js';
import type { NodeMetrics } from './platform/http/metrics.js';
import { documentedRouter } from './platform/http/openapi.js';

const Health = z.object({ status: z.enum(['ok', 'unavailable']) });
const Readiness = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.boolean()).describe('Each dependency and whether it answered: `database`, and `redis` when clustered'),
});

export interface OpsDeps {
  domain: Domain;
  readiness: Record<string, () => Promise<boolean>>;
  health: () => boolean;
  metrics: NodeMetrics;
  guard: RequestHandler;
}

export function opsRoutes({ domain, readiness, health, metrics, guard }: OpsDeps) {
  const ops = documentedRouter('', 'ops', 'Liveness, readiness and metrics for operators, at the server root.', '');
  ops.op(
    'get',
    '/healthz',
    {
      operationId: 'getHealth',
      summary: 'Liveness',
      description: 'The process answers (and, in embedded mode, its own PostgreSQL runs). 503 when it does not.',
      response: Health,
      envelope: false,
      public: true,
      extraResponses: { 503: { description: 'Not alive', content: { 'application/json': { schema: Health } } } },
    },
    (_req, res) => {
      if (health()) res.json({ status: 'ok' });
      else res.status(503).json({ status: 'unavailable' });
    },
  );
  ops.op(
    'get',
    '/readyz',
    {
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: 'The database (and Redis, when clustered) answer: route traffic here. 503 with the failing checks otherwise.',
      response: Readiness,
      envelope: false,
      public: true,
      extraResponses: { 503: { description: 'Not ready', content: { 'application/json': { schema: Readiness } } } },
    },
    async (_req, res) => {
      const checks: Record<string, boolean> = { database: await isDatabaseReachable(domain.knex) };
      for (const [name, check] of Object.entries(readiness)) checks[name] = await check().catch(() => false);
      const ok = Object.values(checks).every(Boolean);
      res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
    },
  );
  ops.op(
    'get',
    '/metrics',
    {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description:
        "The node's metrics in the Prometheus text format. With `METRICS_TOKEN` set, only with that token as the " +
        'bearer (401 otherwise); without one, open in embedded mode and not served (404) in cluster mode.',
      response: z.string(),
      envelope: false,
      contentType: 'text/plain; version=0.0.4',
      security: [{ metricsToken: [] }, {}],
      errors: [401, 404],
    },
    guard,
    async (_req, res) => {
      const body = await metrics.render();
      res.set('Content-Type', metrics.contentType).send(body);
    },
  );
  return ops;
}
