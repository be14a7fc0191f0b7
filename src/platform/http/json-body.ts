// Request bodies, for every route: JSON only, bounded in bytes (after any Content-Encoding is
// undone) and in depth, with no reserved key, all checked before any validation recurses into
// them. A body that cannot be read or decoded is the client's error (400/413/415), never a 500.
import express, { type RequestHandler } from 'express';
import { AppError, BadRequest, PayloadTooLarge, UnprocessableEntity, UnsupportedMediaType, fieldPath } from '../errors.js';
import { jsonShapeIssue } from '../json-shape.js';

export const JSON_TYPES = ['application/json', 'application/*+json'];

export interface BodyLimits {
  maxBytes: number;
  maxDepth: number;
}

/** A body must say it is JSON; anything else would silently be read as an empty body. */
const requireJson: RequestHandler = (req, _res, next) => {
  if (typeof req.body === 'string') return next(); // read already, by the text gate of its route (textBody)
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  next(hasBody && !req.is(JSON_TYPES) ? UnsupportedMediaType('Send request bodies as application/json.') : undefined);
};

/** body-parser's errors as ours. Each one comes from reading this request's body. */
function bodyError(err: { type?: string; status?: number }): AppError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return BadRequest('The request body is not valid JSON.');
    case 'entity.too.large':
      return PayloadTooLarge('The request body is larger than the API accepts.');
    case 'encoding.unsupported':
      return UnsupportedMediaType('The Content-Encoding is not supported; send the body as identity, gzip, deflate or br.');
    case 'charset.unsupported':
      return BadRequest('The request body encoding is not supported.');
    case 'request.aborted':
      return BadRequest('The request was aborted.');
    case 'request.size.invalid':
      return BadRequest('The request body does not match its Content-Length.');
  }
  // Any other 4xx is a body that could not be read: mostly bytes that are not what their
  // Content-Encoding says (zlib's Z_DATA_ERROR, a truncated stream).
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    return BadRequest('The request body could not be decoded; check that it is encoded as its Content-Encoding says.');
  }
  return undefined;
}

function shapeError(body: unknown, limits: BodyLimits): AppError | undefined {
  const issue = jsonShapeIssue(body, limits.maxDepth);
  if (!issue) return undefined;
  const errors = [{ path: fieldPath(issue.path), message: issue.message }];
  return issue.kind === 'depth'
    ? UnprocessableEntity(`The request body nests deeper than ${limits.maxDepth} levels of objects and arrays, the most this API accepts.`, errors)
    : UnprocessableEntity('The request body holds a reserved key (__proto__, constructor or prototype).', errors);
}

/** The body gate: JSON content type, then the parser (size, encoding, syntax), then depth and keys. */
export function jsonBody(limits: BodyLimits): RequestHandler[] {
  const parse = express.json({ limit: limits.maxBytes, type: JSON_TYPES });
  const parseAndBound: RequestHandler = (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) {
        next(bodyError(err as { type?: string; status?: number }) ?? err);
        return;
      }
      next(req.body === undefined ? undefined : shapeError(req.body, limits));
    });
  };
  return [requireJson, parseAndBound];
}

/**
 * The gate of a route that takes a text body of its own media types (descriptor YAML): read as
 * UTF-8 text, bounded in bytes like JSON (413), before the JSON gate, which then lets it pass.
 * Other media types are left to the JSON gate.
 */
export function textBody({ types, maxBytes }: { types: string[]; maxBytes: number }): RequestHandler {
  const parse = express.text({ type: types, limit: maxBytes });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      next(err ? (bodyError(err as { type?: string; status?: number }) ?? err) : undefined);
    });
  };
}
