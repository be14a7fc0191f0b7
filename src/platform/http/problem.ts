// RFC 9457 problem+json for every error the API returns. Known errors keep their status and
// detail; anything else is logged with its request id and answered as a bare 500.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, BadRequest, NotFound, PayloadTooLarge, toAppError } from '../errors.js';
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
  res.status(err.status).type('application/problem+json').send(JSON.stringify(problemBody(err, res.req.originalUrl)));
}

/** body-parser's own errors: malformed JSON, bodies too large, unsupported charsets. */
function fromBodyParser(err: { type?: string; status?: number }): AppError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return BadRequest('The request body is not valid JSON.');
    case 'entity.too.large':
      return PayloadTooLarge('The request body is larger than the API accepts.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return BadRequest('The request body encoding is not supported.');
    case 'request.aborted':
      return BadRequest('The request was aborted.');
  }
  return undefined;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(NotFound(`No route for ${req.method} ${req.path}.`));
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = fromBodyParser(err) ?? toAppError(err);
    if (known) {
      if (known.status >= 500) logger.warn('request failed', { request_id: req.id, status: known.status, err });
      sendProblem(res, known);
      return;
    }
    logger.error('unhandled error', { request_id: req.id, method: req.method, path: req.path, err });
    if (res.headersSent) return;
    res.status(500).type('application/problem+json').send(JSON.stringify({
      type: 'about:blank', title: 'Internal Server Error', status: 500,
      detail: `Something went wrong on our side. Quote request id ${req.id} when reporting it.`,
    }));
  };
}
