// OpenTelemetry tracing, loaded only when an OTLP endpoint is configured (src/main.ts imports the
// app after this has run). Instrumentations patch modules as they load, so this must start before
// anything imports http, express, pg, knex, ioredis, socket.io or pino: the ESM loader hook
// (import-in-the-middle, through @opentelemetry/instrumentation) is registered first, for those
// modules only, then the SDK starts with the exporter the standard OTEL_* variables describe.
import { register } from 'node:module';
import type { TracingSettings } from './platform/config.js';

export interface Tracing {
  /** Exports what is buffered and stops; spans started after it are dropped. */
  shutdown(): Promise<void>;
}

/**
 * What the loader hook wraps when ESM imports it: the modules the instrumentations below patch;
 * every other module loads untouched. The files those modules require are patched as they load
 * (knex's client and runner included: the knex spans show it).
 */
const INSTRUMENTED = ['http', 'https', 'express', 'pg', 'pg-pool', 'knex', 'ioredis', 'socket.io', 'pino'];

/** Longest SQL text kept on a span. */
const MAX_QUERY_TEXT = 2_048;

/**
 * SQL text with its string literals replaced by `?`: the shape of the statement, never the values
 * written into it (the change-log append sends its rows as literals: platform/write.ts).
 */
export function statementShape(sql: string): string {
  const shape = sql.replace(/'(?:[^']|'')*'/g, '?');
  return shape.length > MAX_QUERY_TEXT ? `${shape.slice(0, MAX_QUERY_TEXT)}…` : shape;
}

export async function startTracing(settings: TracingSettings, nodeId: string): Promise<Tracing> {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED } });
  // Metrics are Prometheus' (/metrics) and logs go to stdout: the SDK exports only traces unless told otherwise.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const [{ NodeSDK, resources }, http, express, pg, knex, ioredis, socketIo, pino, { SECRET_QUERY_PARAMETERS, redactUrl }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-knex'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-socket.io'),
    import('@opentelemetry/instrumentation-pino'),
    import('./platform/redact.js'),
  ]);
  // The instrumentation's own list (signed cloud URLs) plus ours (tokens of /collab and Socket.IO).
  const redacted = [
    'sig',
    'Signature',
    'AWSAccessKeyId',
    'X-Goog-Signature',
    'X-Amz-Signature',
    'X-Amz-Credential',
    'X-Amz-Security-Token',
    ...SECRET_QUERY_PARAMETERS,
  ];
  const sdk = new NodeSDK({
    ...(settings.serviceName ? { serviceName: settings.serviceName } : {}),
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.instance.id': nodeId })),
    instrumentations: [
      new http.HttpInstrumentation({
        redactedQueryParamsServer: redacted,
        redactedQueryParams: redacted,
        // Names compared case-insensitively and the rest kept as sent: a request's url.query is what redact.ts leaves of it.
        startIncomingSpanHook: (request) => {
          const url = redactUrl((request as { url?: string }).url ?? '');
          const q = url.indexOf('?');
          return q < 0 || q === url.length - 1 ? {} : { 'url.query': url.slice(q + 1) };
        },
      }),
      new express.ExpressInstrumentation(),
      new pg.PgInstrumentation({
        requestHook: (span, { query }) => span.setAttribute('db.query.text', statementShape(query.text)),
      }),
      new knex.KnexInstrumentation({ maxQueryLength: MAX_QUERY_TEXT }),
      new ioredis.IORedisInstrumentation(),
      new socketIo.SocketIoInstrumentation(),
      // trace_id and span_id in every log line written inside a span; the lines stay on stdout.
      new pino.PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
