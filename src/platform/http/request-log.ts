// One log line per HTTP request, written when the response finishes, the client goes away or the
// response fails: method, route template, status, duration, request id, and who asked when signed in.
// Nothing is built for a request whose line is off at the configured level (no child logger, no
// fields, no route lookup): the listeners and a level check are all such a request costs.
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import { UNMATCHED_ROUTE, routeTemplate } from './route-template.js';

declare module 'express-serve-static-core' {
  interface Response {
    /** The error behind a 5xx (set by the error handler): it goes on the request's line as `err`. */
    err?: Error;
  }
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Probes and scrapes: a line each at debug, so they do not drown the requests people make. */
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function isOps(req: Request): boolean {
  const url = req.originalUrl;
  const query = url.indexOf('?');
  return OPS_PATHS.has(query < 0 ? url : url.slice(0, query));
}

function lineOf(req: Request, res: Response, start: bigint): Record<string, unknown> {
  const ctx = req.ctx;
  const route = routeTemplate(req);
  return {
    req_id: req.id,
    method: req.method,
    route: route === UNMATCHED_ROUTE ? undefined : route,
    url: redactUrl(req.originalUrl),
    status: res.statusCode,
    duration_ms: Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
    ...(ctx ? { tenant_id: ctx.tenantId, actor: { type: ctx.actor.type, id: ctx.actor.id } } : {}),
    ip: req.ip,
  };
}

/**
 * After requestId (which sets req.id, the line's req_id). The line ends on `finish`, on `close`
 * (the client went away first: `request aborted`) or on `error`, whichever comes first. Levels:
 * 5xx (or an error on the response) error, every other status info (a 4xx is the client's
 * mistake, not the operator's); probes and scrapes debug unless they fail (warn).
 */
export function requestLog(logger: Logger): RequestHandler {
  const log = logger.pino;
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      const failed = err !== undefined || res.statusCode >= 500;
      // A probe's level is below the request's (debug < info, warn < error): with the request's off, both are.
      if (!log.isLevelEnabled(failed ? 'error' : 'info')) return;
      const ops = isOps(req);
      const level: Level = failed ? (ops ? 'warn' : 'error') : ops ? 'debug' : 'info';
      if (ops && !log.isLevelEnabled(level)) return;
      const line = lineOf(req, res, start);
      if (failed || res.err) log[level]({ ...line, ...(res.err ? { err: err ?? res.err } : {}) }, 'request failed');
      else log[level](line, res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('finish', end);
    res.on('close', end);
    res.on('error', end);
    next();
  };
}
