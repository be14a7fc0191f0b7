// One route factory for every collection with the standard shape: list, create, read, update
// (If-Match), soft delete, restore. Collections add their own extra routes to the router.
import { Router, type Request } from 'express';
import type { ServiceContext } from '../context.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from './respond.js';
import { parseListQuery, type Listable, type ListQuery, type Page } from '../../modules/catalog/listing.js';

export interface CrudService<T extends { id: string }> {
  list(ctx: ServiceContext, query: ListQuery): Promise<Page<T>>;
  get(ctx: ServiceContext, id: string): Promise<T>;
  create(ctx: ServiceContext, input: unknown): Promise<T>;
  update(ctx: ServiceContext, id: string, input: unknown, opts: { expectedVersion?: number }): Promise<T>;
  remove(ctx: ServiceContext, id: string, opts: { expectedVersion?: number }): Promise<void>;
  restore?(ctx: ServiceContext, id: string): Promise<T>;
}

export interface CrudOptions<T> {
  /** The read view, when richer than service.get (catalog detail views). */
  detail?: (ctx: ServiceContext, id: string) => Promise<T>;
}

export function crudRoutes<T extends { id: string }>(
  service: CrudService<T>,
  listing: Listable,
  opts: CrudOptions<T> = {},
): Router {
  const router = Router();
  const read = opts.detail ?? ((ctx: ServiceContext, id: string) => service.get(ctx, id));
  const body = (req: Request) => req.body ?? {};

  router.get('/', async (req, res) => {
    res.json(await service.list(ctxOf(req), parseListQuery(listing, req.query)));
  });
  router.post('/', async (req, res) => {
    sendCreated(req, res, await service.create(ctxOf(req), body(req)));
  });
  router.get('/:id', async (req, res) => {
    sendData(res, await read(ctxOf(req), idParam(req)));
  });
  router.patch('/:id', async (req, res) => {
    const id = idParam(req);
    sendData(res, await service.update(ctxOf(req), id, body(req), { expectedVersion: expectedVersion(req) }));
  });
  router.delete('/:id', async (req, res) => {
    await service.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
    res.status(204).end();
  });
  if (service.restore) {
    const restore = service.restore.bind(service);
    router.post('/:id/restore', async (req, res) => {
      sendData(res, await restore(ctxOf(req), idParam(req)));
    });
  }
  return router;
}
