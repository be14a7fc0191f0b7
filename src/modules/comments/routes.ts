// Comments on any record: threaded, resolvable. Listed per record.
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from '../../platform/http/respond.js';
import { commentCreate, commentListQuery, commentUpdate } from './schemas.js';
import type { CommentService } from './service.js';

export function commentRoutes(services: { comments: CommentService }) {
  const api = documentedRouter('/comments', 'comments');
  const { comments } = services;
  api.op('get', '/', { summary: 'List the comments on a record, oldest first', query: commentListQuery }, async (req, res) => {
    res.json({ data: await comments.list(ctxOf(req), req.query) });
  });
  api.op('post', '/', { summary: 'Comment on a record (COMMENT grant or a writing role)', body: commentCreate, status: 201 }, async (req, res) => {
    sendCreated(req, res, await comments.create(ctxOf(req), req.body ?? {}));
  });
  api.op('get', '/:id', { summary: 'Read a comment' }, async (req, res) => {
    sendData(res, await comments.get(ctxOf(req), idParam(req)));
  });
  api.op('patch', '/:id', { summary: 'Edit a comment (author or admin)', body: commentUpdate }, async (req, res) => {
    sendData(res, await comments.update(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) }));
  });
  api.op('delete', '/:id', { summary: 'Delete a comment and its replies (author or admin)', status: 204 }, async (req, res) => {
    await comments.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
    res.status(204).end();
  });
  api.op('post', '/:id/resolve', { summary: 'Resolve a comment thread' }, async (req, res) => {
    sendData(res, await comments.resolve(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) }));
  });
  api.op('post', '/:id/unresolve', { summary: 'Reopen a resolved comment thread' }, async (req, res) => {
    sendData(res, await comments.unresolve(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) }));
  });
  return api;
}
