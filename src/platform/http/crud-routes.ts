// One route factory for every collection with the standard shape: list, create, read, update
// (If-Match), soft delete, restore. Collections add their own extra routes to the same router.
import type { Request } from 'express';
import type { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from './respond.js';
import { documentedRouter, type DocumentedRouter, type ProblemStatus } from './openapi.js';
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
  /** What the collection holds, for its tag in the API documents. */
  about: string;
  listing: Listable;
  create: z.ZodType;
  update: z.ZodType;
  /** Example bodies of create and update, which the schemas accept. */
  examples: { create: unknown; update: unknown };
  /** The record as list, create, update and restore return it. */
  read: z.ZodType;
  /** A row of the list, when it shows less than `read` (no timeline, no widgets). */
  listItem?: z.ZodType;
  /** The read view (GET /:id), when richer than `read` (catalog detail views). */
  detailSchema?: z.ZodType;
  detail?: (ctx: ServiceContext, id: string) => Promise<T>;
  /**
   * More routes on the collection itself (`/facets`), declared before `/:id` so that their path is
   * not taken for an id.
   */
  collectionRoutes?: (api: DocumentedRouter) => void;
  /** Who may write, for the descriptions (reading is for every member, within their grants). */
  writers: string;
  /** Problems beyond the derived ones on create, update and restore (409 where names are unique). */
  writeErrors?: ProblemStatus[];
  /** What else a DELETE checks (a 409 when it refuses). */
  deleteNote?: string;
}

const pascal = (s: string) => s.replace(/(^|[-_ ])(\w)/g, (_m, _sep, c: string) => c.toUpperCase());

export function crudRoutes<T extends { id: string }>(service: CrudService<T>, opts: CrudOptions<T>): DocumentedRouter {
  const plural = opts.path.slice(1);
  const api = documentedRouter(opts.path, plural, opts.about);
  const read = opts.detail ?? ((ctx: ServiceContext, id: string) => service.get(ctx, id));
  const body = (req: Request): unknown => req.body ?? {};
  const { label, writers } = opts;
  const one = pascal(label);
  const errors = opts.writeErrors ?? [];

  api.op(
    'get',
    '/',
    {
      operationId: `list${pascal(plural)}`,
      summary: `List ${plural}`,
      description:
        `A page of the tenant's ${plural}, newest change first unless \`sort\` says otherwise; filters combine with AND. ` +
        'Follow `meta.next_cursor` for the next page: `meta.total` is counted on the first page and carried in the cursor. ' +
        'Soft-deleted rows are left out unless `include_deleted=true` (admin).',
      query: listQuerySchema(opts.listing),
      response: opts.listItem ?? opts.read,
      paginated: true,
    },
    async (req, res) => {
      res.json(await service.list(ctxOf(req), parseListQuery(opts.listing, req.query)));
    },
  );
  api.op(
    'post',
    '/',
    {
      operationId: `create${one}`,
      summary: `Create a ${label}`,
      description:
        `Creates a ${label} (${writers}). Answers 201 with the record, its \`Location\` and its \`ETag\`. Ids it refers to ` +
        'must be live records of the tenant (else 422). The write is audited and announced as a live event.',
      body: opts.create,
      example: opts.examples.create,
      response: opts.read,
      status: 201,
      location: true,
      errors,
    },
    async (req, res) => {
      sendCreated(req, res, await service.create(ctxOf(req), body(req)));
    },
  );
  opts.collectionRoutes?.(api);
  api.op(
    'get',
    '/:id',
    {
      operationId: `get${one}`,
      summary: `Read a ${label}`,
      description: `The ${label} with its \`ETag\` (the row version, for \`If-Match\`).`,
      response: opts.detailSchema ?? opts.read,
    },
    async (req, res) => {
      sendData(res, await read(ctxOf(req), idParam(req)));
    },
  );
  api.op(
    'patch',
    '/:id',
    {
      operationId: `update${one}`,
      summary: `Update a ${label}`,
      description:
        `Changes the fields given, nothing else (${writers}); a relation list given replaces the old one. With \`If-Match\` ` +
        'the write happens only at that version (412 otherwise). A PATCH that changes nothing writes nothing.',
      body: opts.update,
      example: opts.examples.update,
      response: opts.read,
      ifMatch: true,
      errors,
    },
    async (req, res) => {
      const id = idParam(req);
      sendData(res, await service.update(ctxOf(req), id, body(req), { expectedVersion: expectedVersion(req) }));
    },
  );
  api.op(
    'delete',
    '/:id',
    {
      operationId: `delete${one}`,
      summary: `Soft-delete a ${label}`,
      description:
        `Marks the ${label} deleted (${writers}): it leaves lists and reads until \`restore\` brings it back.` + (opts.deleteNote ? ` ${opts.deleteNote}` : ''),
      status: 204,
      ifMatch: true,
      errors: opts.deleteNote ? [409] : [],
    },
    async (req, res) => {
      await service.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
      res.status(204).end();
    },
  );
  if (service.restore) {
    const restore = service.restore.bind(service);
    api.op(
      'post',
      '/:id/restore',
      {
        operationId: `restore${one}`,
        summary: `Restore a soft-deleted ${label}`,
        description:
          `Brings a soft-deleted ${label} back (${writers})` + (errors.includes(409) ? '; 409 when a live record has taken its name meanwhile.' : '.'),
        response: opts.read,
        errors,
      },
      async (req, res) => {
        sendData(res, await restore(ctxOf(req), idParam(req)));
      },
    );
  }
  return api;
}
