// RFC 9457 problem+json for every error the API returns. Known errors keep their status and
// detail; anything else is answered as a bare 500 and its error logged on the request's line. (Errors of
// reading a body are mapped where bodies are read, http/json-body.ts.)
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, NotFound, TooManyRequestsError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';

export function problemBody(err: AppError, instance?: string) {
  return {
    type: `https://appinventory.live/problems/${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.detail ?? err.title,
    ...(instance ? { instance } : {}),
    ...(err.errors?.length ? { errors: err.errors } : {}),
  };
}

export function sendProblem(res: Parameters<RequestHandler>[1], err: AppError): void {
  if (err instanceof TooManyRequestsError) res.set('Retry-After', String(err.retryAfterSeconds));
  res
    .status(err.status)
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(err, res.req.originalUrl)));
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(NotFound(`No route for ${req.method} ${req.path}.`));
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = toAppError(err);
    if (known) {
      // A 5xx's cause is written on the request's own log line (http/request-log.ts).
      if (known.status >= 500) res.err = asError(err);
      sendProblem(res, known);
      return;
    }
    if (res.headersSent) {
      // The response is under way (and its line may be written already): the error gets a line of its own.
      logger.error('unhandled error after the response started', { req_id: req.id, method: req.method, path: req.path, err });
      return;
    }
    res.err = asError(err);
    res
      .status(500)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
          detail: `Something went wrong on our side. Quote request id ${req.id} when reporting it.`,
        }),
      );
  };
}

/** What the request's log line shows as `err`: the thrown value, made an Error when it is not one. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
