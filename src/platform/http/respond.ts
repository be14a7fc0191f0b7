// Helpers that keep route handlers thin: the caller's context, path ids, ETags and envelopes.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { BadRequest, PreconditionFailed, Unauthorized } from '../errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    ctx?: ServiceContext;
  }
}

export function ctxOf(req: Request): ServiceContext {
  if (!req.ctx) throw Unauthorized('A bearer token is required.');
  return req.ctx;
}

const uuidParam = z.uuid();

/** A path id that must be a UUID: anything else is a 400 naming the parameter. */
export function idParam(req: Request, name = 'id'): string {
  const value = req.params[name];
  if (!uuidParam.safeParse(value).success) {
    throw BadRequest(`The path parameter '${name}' must be a UUID.`, [{ path: name, message: 'must be a UUID' }]);
  }
  return (value as string).toLowerCase();
}

function etagOf(version: number): string {
  return `"${version}"`;
}

/** If-Match as an expected row version: `"3"`, `W/"3"` or `3`; `*` means any. */
export function expectedVersion(req: Request): number | undefined {
  const header = req.get('if-match');
  if (!header || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,10})"?\s*$/.exec(header);
  if (!match) throw PreconditionFailed('If-Match must be an ETag this API returned, like "3".');
  return Number(match[1]);
}

/**
 * `{data}` with an ETag when the record is versioned: its own row_version, or `version` when the
 * response wraps the versioned record (an incident update returns the entry and the incident).
 * The one place an ETag is set.
 */
export function sendData(res: Response, data: unknown, status = 200, version?: number): void {
  const etag = version ?? (data as { row_version?: unknown } | null)?.row_version;
  if (typeof etag === 'number') res.set('ETag', etagOf(etag));
  res.status(status).json({ data });
}

export function sendCreated(req: Request, res: Response, data: { id: string }): void {
  res.set('Location', `${req.baseUrl}/${data.id}`);
  sendData(res, data, 201);
}
