// One log line per HTTP request (pino-http), written when the response finishes or the client
// goes away: method, route template, status, duration, request id, and who asked when signed in.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import { routeTemplate } from './route-template.js';

/** Probes and scrapes: a line each at debug, so they do not drown the requests people make. */
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const started = new WeakMap<IncomingMessage, bigint>();

function isOps(req: IncomingMessage): boolean {
  return OPS_PATHS.has((req as Request).originalUrl.split('?')[0]!);
}

/** 5xx error, 4xx info (the client's mistake, not the operator's), the rest info; probes debug unless they fail. */
function levelOf(req: IncomingMessage, res: ServerResponse, err?: Error): 'debug' | 'info' | 'warn' | 'error' {
  const failed = Boolean(err) || res.statusCode >= 500;
  if (isOps(req)) return failed ? 'warn' : 'debug';
  return failed ? 'error' : 'info';
}

function lineOf(req: IncomingMessage, res: ServerResponse): Record<string, unknown> {
  const r = req as Request;
  const start = started.get(req);
  const ctx = r.ctx;
  return {
    method: r.method,
    route: routeTemplate(r) ?? undefined,
    url: redactUrl(r.originalUrl),
    status: res.statusCode,
    duration_ms: start === undefined ? undefined : Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
    ...(ctx ? { tenant_id: ctx.tenantId, actor: { type: ctx.actor.type, id: ctx.actor.id } } : {}),
    ip: r.ip,
  };
}

/** After requestId (which sets req.id, the line's req_id). */
export function requestLog(logger: Logger): RequestHandler {
  const middleware = pinoHttp({
    logger: logger.pino,
    customAttributeKeys: { reqId: 'req_id' },
    // The line's own fields below, not pino-http's nested req/res objects.
    quietReqLogger: true,
    quietResLogger: true,
    // 'silent' when the level is off: pino-http then builds no line at all (no route lookup).
    customLogLevel: (req, res, err) => {
      const level = levelOf(req, res, err);
      return logger.pino.isLevelEnabled(level) ? level : 'silent';
    },
    customSuccessObject: (req, res) => lineOf(req, res),
    customErrorObject: (req, res, err) => ({ ...lineOf(req, res), ...(res.err ? { err } : {}) }),
    customSuccessMessage: (req, res) => (res.writableEnded ? 'request completed' : 'request aborted'),
    customErrorMessage: () => 'request failed',
    // Anything that does log a request logs only this much of it.
    serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url && redactUrl(req.url) }) },
  });
  return (req, res, next) => {
    started.set(req, process.hrtime.bigint());
    middleware(req, res, next);
  };
}
