// One route factory for every collection with the standard shape: list, create, read, update
// (If-Match), soft delete, restore. Collections add their own extra routes to the same router.
import type { Request } from 'express';
import type { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from './respond.js';
import { documentedRouter, type DocumentedRouter } from './openapi.js';
import { listQuerySchema, parseListQuery, type Listable, type ListQuery, type Page } from '../listing.js';

export interface CrudService<T extends { id: string }> {
  list(ctx: ServiceContext, query: ListQuery): Promise<Page<unknown>>;
  get(ctx: ServiceContext, id: string): Promise<T>;
  create(ctx: ServiceContext, input: unknown): Promise<T>;
  update(ctx: ServiceContext, id: string, input: unknown, opts: { expectedVersion?: number }): Promise<T>;
  remove(ctx: ServiceContext, id: string, opts: { expectedVersion?: number }): Promise<void>;
  restore?(ctx: ServiceContext, id: string): Promise<T>;
}

export interface CrudOptions<T> {
  /** Collection path, e.g. '/services'. */
  path: string;
  /** Singular label for summaries. */
  label: string;
  listing: Listable;
  create: z.ZodType;
  update: z.ZodType;
  read?: z.ZodType;
  /** The read view, when richer than service.get (catalog detail views). */
  detail?: (ctx: ServiceContext, id: string) => Promise<T>;
}

export function crudRoutes<T extends { id: string }>(service: CrudService<T>, opts: CrudOptions<T>): DocumentedRouter {
  const api = documentedRouter(opts.path, opts.path.slice(1));
  const read = opts.detail ?? ((ctx: ServiceContext, id: string) => service.get(ctx, id));
  const body = (req: Request): unknown => req.body ?? {};
  const { label } = opts;

  api.op('get', '/', { summary: `List ${opts.path.slice(1)}`, query: listQuerySchema(opts.listing), response: opts.read, paginated: true }, async (req, res) => {
    res.json(await service.list(ctxOf(req), parseListQuery(opts.listing, req.query)));
  });
  api.op('post', '/', { summary: `Create a ${label}`, body: opts.create, response: opts.read, status: 201 }, async (req, res) => {
    sendCreated(req, res, await service.create(ctxOf(req), body(req)));
  });
  api.op('get', '/:id', { summary: `Read a ${label}`, response: opts.read }, async (req, res) => {
    sendData(res, await read(ctxOf(req), idParam(req)));
  });
  api.op('patch', '/:id', { summary: `Update a ${label} (If-Match for optimistic concurrency)`, body: opts.update, response: opts.read }, async (req, res) => {
    const id = idParam(req);
    sendData(res, await service.update(ctxOf(req), id, body(req), { expectedVersion: expectedVersion(req) }));
  });
  api.op('delete', '/:id', { summary: `Soft-delete a ${label}`, status: 204 }, async (req, res) => {
    await service.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
    res.status(204).end();
  });
  if (service.restore) {
    const restore = service.restore.bind(service);
    api.op('post', '/:id/restore', { summary: `Restore a soft-deleted ${label}`, response: opts.read }, async (req, res) => {
      sendData(res, await restore(ctxOf(req), idParam(req)));
    });
  }
  return api;
}
