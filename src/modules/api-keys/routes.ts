// API keys (admin): the key is in the create response only.
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendCreated } from '../../platform/http/respond.js';
import { apiKeyCreate } from './service.js';
import type { ApiKeyService } from './service.js';

export function apiKeyRoutes(services: { apiKeys: ApiKeyService }) {
  const api = documentedRouter('/api-keys', 'api-keys');
  api.op('get', '/', { summary: 'List API keys (admin); never the keys themselves' }, async (req, res) => {
    res.json({ data: await services.apiKeys.list(ctxOf(req)) });
  });
  api.op('post', '/', { summary: 'Create an API key (admin); the response holds the key, shown this once', body: apiKeyCreate, status: 201, secret: true, secretFields: ['key'] }, async (req, res) => {
    sendCreated(req, res, await services.apiKeys.create(ctxOf(req), req.body ?? {}));
  });
  api.op('delete', '/:id', { summary: 'Revoke an API key, effective immediately (admin)', status: 204 }, async (req, res) => {
    await services.apiKeys.revoke(ctxOf(req), idParam(req));
    res.status(204).end();
  });
  return api;
}
