// Comments on any record: threaded, resolvable. Listed per record.
import { z } from 'zod';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, expectedVersion, idParam, sendCreated, sendData } from '../../platform/http/respond.js';
import { isoTimestamp, named, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { COMMENTABLE_ENTITY_TYPES, commentCreate, commentListQuery, commentUpdate } from './schemas.js';
import type { CommentService } from './service.js';

const Comment = named(
  'Comment',
  z
    .object({
      ...versionedColumns,
      entity_type: z.enum(COMMENTABLE_ENTITY_TYPES),
      entity_id: recordId,
      parent_id: recordId.nullable().describe('The comment this one replies to'),
      author_id: recordId.nullable(),
      body: z.string(),
      resolved_at: isoTimestamp.nullable(),
      resolved_by: recordId.nullable(),
    })
    .describe('A comment on a record'),
);

const ON = '3f6c0b1e-8a4f-4d9e-9a37-2b1d5c7e9f01';

export function commentRoutes(services: { comments: CommentService }) {
  const api = documentedRouter('/comments', 'comments', 'Threaded, resolvable comments on catalog records and incidents.');
  const { comments } = services;
  api.op(
    'get',
    '/',
    {
      operationId: 'listComments',
      summary: 'List the comments on a record',
      description:
        'The comments on one record, oldest first; resolved threads only with `include_resolved=true`. ' +
        'Needs read access to the record; an unknown record is a 404.',
      query: commentListQuery,
      response: z.array(Comment),
      errors: [404],
    },
    async (req, res) => {
      res.json({ data: await comments.list(ctxOf(req), req.query) });
    },
  );
  api.op(
    'post',
    '/',
    {
      operationId: 'createComment',
      summary: 'Comment on a record',
      description:
        'Adds a comment (or, with `parent_id`, a reply) to a record: a writing role or a COMMENT grant on the record. ' +
        'The record and the parent must exist (422 otherwise).',
      body: named('CommentCreate', commentCreate),
      example: { entity_type: 'services', entity_id: ON, body: 'Who owns the on-call for this?' },
      response: Comment,
      status: 201,
      location: true,
    },
    async (req, res) => {
      sendCreated(req, res, await comments.create(ctxOf(req), req.body ?? {}));
    },
  );
  api.op(
    'get',
    '/:id',
    {
      operationId: 'getComment',
      summary: 'Read a comment',
      description: 'One comment, with its ETag.',
      response: Comment,
    },
    async (req, res) => {
      sendData(res, await comments.get(ctxOf(req), idParam(req)));
    },
  );
  api.op(
    'patch',
    '/:id',
    {
      operationId: 'updateComment',
      summary: 'Edit a comment (author or admin)',
      description: 'Replaces the body.',
      body: named('CommentUpdate', commentUpdate),
      example: { body: 'Who owns the on-call for this service?' },
      response: Comment,
      ifMatch: true,
    },
    async (req, res) => {
      sendData(res, await comments.update(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) }));
    },
  );
  api.op(
    'delete',
    '/:id',
    {
      operationId: 'deleteComment',
      summary: 'Delete a comment and its replies (author or admin)',
      description: 'Soft-deletes the comment and every reply under it.',
      status: 204,
      ifMatch: true,
    },
    async (req, res) => {
      await comments.remove(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) });
      res.status(204).end();
    },
  );
  api.op(
    'post',
    '/:id/resolve',
    {
      operationId: 'resolveComment',
      summary: 'Resolve a comment thread',
      description: 'Marks the thread resolved (who and when); resolved threads leave the default list.',
      response: Comment,
      ifMatch: true,
    },
    async (req, res) => {
      sendData(res, await comments.resolve(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) }));
    },
  );
  api.op(
    'post',
    '/:id/unresolve',
    {
      operationId: 'unresolveComment',
      summary: 'Reopen a resolved comment thread',
      description: 'Clears the resolution.',
      response: Comment,
      ifMatch: true,
    },
    async (req, res) => {
      sendData(res, await comments.unresolve(ctxOf(req), idParam(req), { expectedVersion: expectedVersion(req) }));
    },
  );
  return api;
}
