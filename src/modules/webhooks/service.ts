// Outbound webhooks (admin): endpoints that receive the tenant's change events, signed with a
// secret shown on create and on rotation only. The secret is never in the record's events or audit.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ServiceContext } from '../../platform/context.js';
import { decodeCursor, encodeCursor } from '../../platform/cursor.js';
import { RecordTable, parseInput } from '../../platform/records.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { CHANGE_EVENT_TYPES, changeEventTypeNames } from '../changelog/event-types.js';
import { Webhook, WebhookDelivery, presentDelivery, presentWebhook } from './model.js';

const httpUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .describe('The endpoint: an http(s) URL; its address is checked at each delivery');
const entityTypes = z
  .array(z.enum(Object.keys(CHANGE_EVENT_TYPES) as [string, ...string[]]))
  .min(1)
  .max(50)
  .nullable()
  .optional()
  .describe('Only events of these entity types (all when absent or null)');
const eventTypes = z
  .array(z.enum(changeEventTypeNames() as [string, ...string[]]))
  .min(1)
  .max(200)
  .nullable()
  .optional()
  .describe('Only these `<entity_type>.<action>` events (all when absent or null)');

export const webhookCreate = z.strictObject({ url: httpUrl, entity_types: entityTypes, types: eventTypes });
export const webhookUpdate = z.strictObject({
  url: httpUrl.optional(),
  entity_types: entityTypes,
  types: eventTypes,
  enabled: z.boolean().optional().describe('true re-enables a disabled webhook (its failure count starts again)'),
});
export const deliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const hooks = new RecordTable<Webhook>(Webhook, 'webhook', false);
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export class WebhookService {
  constructor(private readonly writes: WriteRunner) {}

  async list(ctx: ServiceContext) {
    await authorize(ctx, 'read', { type: 'webhooks' });
    const rows = await scoped(Webhook, ctx).orderBy('created_at', 'desc').limit(1000);
    return rows.map(presentWebhook);
  }

  async get(ctx: ServiceContext, id: string) {
    await authorize(ctx, 'read', { type: 'webhooks' });
    return presentWebhook(await hooks.find(ctx, id));
  }

  /** Returns the secret: shown here and on rotation only. New webhooks start at the tenant's current seq. */
  async create(ctx: ServiceContext, input: unknown) {
    await authorize(ctx, 'write', { type: 'webhooks' });
    const body = parseInput(webhookCreate, input);
    const secret = newSecret();
    return this.writes.run(ctx, async (w) => {
      const counter = (await w.trx('tenant_event_counters').where({ tenant_id: w.tenantId }).first('last_seq')) as { last_seq: string } | undefined;
      const columns: Record<string, unknown> = {
        url: body.url,
        entity_types: body.entity_types ? JSON.stringify(body.entity_types) : null,
        types: body.types ? JSON.stringify(body.types) : null,
        secret,
        last_delivered_seq: Number(counter?.last_seq ?? 0),
        created_by: w.actor.userId,
      };
      const row = (await scoped(Webhook, w).insert(columns).returning('*')) as unknown as Webhook;
      const data = presentWebhook(row);
      w.record({ entityType: 'webhooks', entityId: row.id, entityName: row.url, action: 'created', data });
      return { ...data, secret };
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown) {
    await authorize(ctx, 'write', { type: 'webhooks' });
    const body = parseInput(webhookUpdate, input);
    return this.writes.run(ctx, async (w) => {
      const row = await hooks.lock(w, id);
      const columns: Record<string, unknown> = {};
      if (body.url !== undefined) columns.url = body.url;
      if (body.entity_types !== undefined) columns.entity_types = body.entity_types ? JSON.stringify(body.entity_types) : null;
      if (body.types !== undefined) columns.types = body.types ? JSON.stringify(body.types) : null;
      if (body.enabled === true) Object.assign(columns, { disabled_at: null, consecutive_failures: 0, next_attempt_at: null });
      if (body.enabled === false && !row.disabled_at) columns.disabled_at = new Date();
      await hooks.patch(w, row, columns);
      const data = presentWebhook(await hooks.find(w, id));
      w.record({ entityType: 'webhooks', entityId: id, entityName: data.url, action: 'updated', data });
      return data;
    });
  }

  /** A new secret, returned this once; the old one signs nothing from now on. */
  async rotateSecret(ctx: ServiceContext, id: string) {
    await authorize(ctx, 'write', { type: 'webhooks' });
    const secret = newSecret();
    return this.writes.run(ctx, async (w) => {
      const row = await hooks.lock(w, id);
      await hooks.patch(w, row, { secret });
      const data = presentWebhook(await hooks.find(w, id));
      w.record({ entityType: 'webhooks', entityId: id, entityName: data.url, action: 'updated', data });
      return { ...data, secret };
    });
  }

  async remove(ctx: ServiceContext, id: string): Promise<void> {
    await authorize(ctx, 'write', { type: 'webhooks' });
    await this.writes.run(ctx, async (w) => {
      const row = await hooks.lock(w, id);
      const data = presentWebhook(row);
      await scoped(Webhook, w).where({ id }).delete();
      w.record({ entityType: 'webhooks', entityId: id, entityName: row.url, action: 'deleted', data });
    });
  }

  /** Stops delivery after too many consecutive failures (the worker calls it with the system context). */
  async disable(ctx: ServiceContext, id: string, reason: string): Promise<void> {
    await this.writes.run(ctx, async (w) => {
      const row = await hooks.lock(w, id);
      if (row.disabled_at) return;
      await hooks.patch(w, row, { disabled_at: new Date() });
      const data = { ...presentWebhook(await hooks.find(w, id)), reason };
      w.record({ entityType: 'webhooks', entityId: id, entityName: row.url, action: 'disabled', data });
    });
  }

  /** Attempts, newest first, a page at a time (the shared cursor codec: created_at and id of the last one). */
  async deliveries(ctx: ServiceContext, id: string, rawQuery: unknown) {
    await authorize(ctx, 'read', { type: 'webhooks' });
    await hooks.find(ctx, id);
    const { limit, cursor } = parseInput(deliveriesQuery, rawQuery);
    const after = cursor
      ? decodeCursor<{ at: string; id: string }>(
          cursor,
          (c) => typeof c.at === 'string' && !Number.isNaN(Date.parse(c.at)) && typeof c.id === 'string' && /^[0-9a-f-]{36}$/.test(c.id),
          'cursor is not a cursor of this delivery list',
        )
      : undefined;
    const query = scoped(WebhookDelivery, ctx).where({ webhook_id: id });
    if (after) query.whereRaw('(created_at, id) < (?, ?)', [after.at, after.id]);
    const rows = await query
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next = rows.length > limit && last ? encodeCursor({ at: new Date(last.created_at).toISOString(), id: last.id }) : null;
    return { data: page.map(presentDelivery), meta: { limit, next_cursor: next, has_more: next !== null } };
  }

  present(delivery: WebhookDelivery) {
    return presentDelivery(delivery);
  }

  /** The delivery's event, to send again: the worker sends it out of order, once, with the same Webhook-Id. */
  async deliveryToResend(ctx: ServiceContext, id: string, deliveryId: string) {
    await authorize(ctx, 'write', { type: 'webhooks' });
    const hook = await hooks.find(ctx, id);
    const delivery = await scoped(WebhookDelivery, ctx).where({ webhook_id: id, id: deliveryId }).first();
    if (!delivery) throw hooks.notFound(deliveryId);
    return { hook, seq: Number(delivery.seq) };
  }
}
