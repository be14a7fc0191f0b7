// API keys (admin): the key is in the create response only.
import { z } from 'zod';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendCreated } from '../../platform/http/respond.js';
import { isoTimestamp, named, recordId } from '../../platform/schema-kit.js';
import { apiKeyCreate } from './service.js';
import type { ApiKeyService } from './service.js';

const ApiKey = named(
  'ApiKey',
  z
    .object({
      id: recordId,
      name: z.string(),
      scope: z.enum(['read', 'read_write']),
      key_prefix: z.string().describe('The first characters of the key, to tell keys apart'),
      user_id: recordId.describe('The admin who created it; the key acts with their role'),
      created_at: isoTimestamp,
      revoked_at: isoTimestamp.nullable(),
      last_used_at: isoTimestamp.nullable(),
    })
    .describe('An API key, without the key itself'),
);

const NewApiKey = named(
  'NewApiKey',
  ApiKey.extend({
    key: z.string().describe('The key: shown in this response only, stored as a hash. A replay of the request leaves it out.'),
  }).describe('A new API key, with the key shown this once'),
);

export function apiKeyRoutes(services: { apiKeys: ApiKeyService }) {
  const api = documentedRouter('/api-keys', 'api-keys', 'API keys for machines (admin): shown once, stored as a hash, scoped, revocable.');
  api.op(
    'get',
    '/',
    {
      operationId: 'listApiKeys',
      summary: 'List API keys (admin)',
      description: "The tenant's API keys, newest first (at most 1000); never the keys themselves.",
      response: z.array(ApiKey),
    },
    async (req, res) => {
      res.json({ data: await services.apiKeys.list(ctxOf(req)) });
    },
  );
  api.op(
    'post',
    '/',
    {
      operationId: 'createApiKey',
      summary: 'Create an API key (admin)',
      description:
        "Creates a key that acts with the creating admin's role, bounded by its scope. The response holds the key, " +
        'shown this once: send it as `Authorization: Bearer <key>`.',
      body: named('ApiKeyCreate', apiKeyCreate),
      example: { name: 'ci-deployments', scope: 'read_write' },
      response: NewApiKey,
      status: 201,
      location: true,
      secret: true,
      secretFields: ['key'],
    },
    async (req, res) => {
      sendCreated(req, res, await services.apiKeys.create(ctxOf(req), req.body ?? {}));
    },
  );
  api.op(
    'delete',
    '/:id',
    {
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key (admin)',
      description: 'Revokes the key, effective immediately on every node: requests with it are refused from now on.',
      status: 204,
    },
    async (req, res) => {
      await services.apiKeys.revoke(ctxOf(req), idParam(req));
      res.status(204).end();
    },
  );
  return api;
}
