// Outbound webhooks (admin): the secret is in the create and rotate responses only.
import { z } from 'zod';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, idParam, sendCreated, sendData } from '../../platform/http/respond.js';
import { isoTimestamp, named, recordId } from '../../platform/schema-kit.js';
import { deliveriesQuery, webhookCreate, webhookUpdate } from './service.js';
import type { WebhookService } from './service.js';
import type { WebhookWorker } from './worker.js';

const Webhook = named(
  'Webhook',
  z
    .object({
      id: recordId,
      url: z.string(),
      entity_types: z.array(z.string()).nullable(),
      types: z.array(z.string()).nullable(),
      last_delivered_seq: z.number().int().describe('The last change-log seq delivered (or skipped by the filters)'),
      consecutive_failures: z.number().int(),
      disabled_at: isoTimestamp.nullable().describe('Set when delivery stopped after too many consecutive failures, or by an admin'),
      created_at: isoTimestamp,
      updated_at: isoTimestamp,
    })
    .describe('A webhook endpoint, without its secret'),
);

const WebhookWithSecret = named(
  'WebhookWithSecret',
  Webhook.extend({
    secret: z.string().describe('The signing secret: shown in this response only. A replay of the request leaves it out.'),
  }).describe('A webhook with its signing secret, shown this once'),
);

const WebhookDelivery = named(
  'WebhookDelivery',
  z
    .object({
      id: recordId,
      webhook_id: recordId,
      seq: z.number().int(),
      status: z.enum(['succeeded', 'failed']),
      response_code: z.number().int().nullable(),
      attempt: z.number().int().describe('The how-manieth attempt at this event'),
      error: z.string().nullable(),
      next_attempt_at: isoTimestamp.nullable(),
      created_at: isoTimestamp,
    })
    .describe('One delivery attempt'),
);

export function webhookRoutes(services: { webhooks: WebhookService; webhookWorker: WebhookWorker }) {
  const api = documentedRouter(
    '/webhooks',
    'webhooks',
    'Outbound webhooks (admin): the change events, in seq order per endpoint, signed (`Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).',
  );
  const { webhooks } = services;
  api.op(
    'get',
    '/',
    {
      operationId: 'listWebhooks',
      summary: 'List webhooks (admin)',
      description: "The tenant's webhooks, newest first (at most 1000).",
      response: z.array(Webhook),
    },
    async (req, res) => sendData(res, await webhooks.list(ctxOf(req))),
  );
  api.op(
    'post',
    '/',
    {
      operationId: 'createWebhook',
      summary: 'Create a webhook (admin)',
      description:
        'Delivers every change event committed from now on (optionally only some entity types or event types) as a signed POST. ' +
        'The response holds the signing secret, shown this once.',
      body: named('WebhookCreate', webhookCreate),
      example: { url: 'https://hooks.example.com/appinventory', entity_types: ['services', 'incidents'] },
      response: WebhookWithSecret,
      status: 201,
      location: true,
      secret: true,
      secretFields: ['secret'],
    },
    async (req, res) => sendCreated(req, res, await webhooks.create(ctxOf(req), req.body ?? {})),
  );
  api.op(
    'get',
    '/:id',
    { operationId: 'getWebhook', summary: 'A webhook (admin)', description: 'The webhook and its delivery state, without its secret.', response: Webhook },
    async (req, res) => sendData(res, await webhooks.get(ctxOf(req), idParam(req))),
  );
  api.op(
    'patch',
    '/:id',
    {
      operationId: 'updateWebhook',
      summary: 'Change a webhook (admin)',
      description: 'Changes its URL or filters; `enabled: true` re-enables a disabled webhook where it stopped.',
      body: named('WebhookUpdate', webhookUpdate),
      example: { types: ['incidents.status_changed'] },
      response: Webhook,
    },
    async (req, res) => sendData(res, await webhooks.update(ctxOf(req), idParam(req), req.body ?? {})),
  );
  api.op(
    'delete',
    '/:id',
    { operationId: 'deleteWebhook', summary: 'Delete a webhook (admin)', description: 'Stops its deliveries and deletes their record.', status: 204 },
    async (req, res) => {
      await webhooks.remove(ctxOf(req), idParam(req));
      res.status(204).end();
    },
  );
  api.op(
    'post',
    '/:id/rotate-secret',
    {
      operationId: 'rotateWebhookSecret',
      summary: "Rotate a webhook's secret (admin)",
      description: 'A new signing secret, shown in this response only; later deliveries are signed with it.',
      response: WebhookWithSecret,
      secret: true,
      secretFields: ['secret'],
    },
    async (req, res) => sendData(res, await webhooks.rotateSecret(ctxOf(req), idParam(req))),
  );
  api.op(
    'get',
    '/:id/deliveries',
    {
      operationId: 'listWebhookDeliveries',
      summary: "A webhook's delivery attempts (admin)",
      description: 'Newest first, a page at a time: pass `meta.next_cursor` as `cursor` for the next page.',
      query: deliveriesQuery,
      response: z.array(WebhookDelivery),
    },
    async (req, res) => {
      res.json(await webhooks.deliveries(ctxOf(req), idParam(req), req.query));
    },
  );
  api.op(
    'post',
    '/:id/deliveries/:did/redeliver',
    {
      operationId: 'redeliverWebhookDelivery',
      summary: "Send a delivery's event again (admin)",
      description: 'Sends that event once more now, with the same `Webhook-Id`, and returns the new attempt. The in-order delivery is not affected.',
      response: WebhookDelivery,
      status: 201,
    },
    async (req, res) => {
      const { hook, seq } = await webhooks.deliveryToResend(ctxOf(req), idParam(req), idParam(req, 'did'));
      sendData(res, webhooks.present(await services.webhookWorker.redeliver(hook, seq)), 201);
    },
  );
  return api;
}
