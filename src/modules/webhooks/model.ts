import { TenantModel } from '../../platform/tenancy.js';

export class Webhook extends TenantModel {
  static override tableName = 'webhooks';
  id!: string;
  url!: string;
  entity_types!: string[] | null;
  types!: string[] | null;
  secret!: string;
  last_delivered_seq!: number;
  consecutive_failures!: number;
  next_attempt_at!: Date | null;
  disabled_at!: Date | null;
  created_by!: string | null;
  created_at!: Date;
  updated_at!: Date;
  row_version!: number;
}

export class WebhookDelivery extends TenantModel {
  static override tableName = 'webhook_deliveries';
  id!: string;
  webhook_id!: string;
  seq!: number;
  status!: 'succeeded' | 'failed';
  response_code!: number | null;
  attempt!: number;
  error!: string | null;
  next_attempt_at!: Date | null;
  created_at!: Date;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** The webhook as REST and its change events show it: never the secret. */
export function presentWebhook(w: Webhook) {
  return {
    id: w.id,
    url: w.url,
    entity_types: w.entity_types,
    types: w.types,
    last_delivered_seq: Number(w.last_delivered_seq),
    consecutive_failures: w.consecutive_failures,
    disabled_at: iso(w.disabled_at),
    created_at: iso(w.created_at),
    updated_at: iso(w.updated_at),
  };
}

export function presentDelivery(d: WebhookDelivery) {
  return {
    id: d.id,
    webhook_id: d.webhook_id,
    seq: Number(d.seq),
    status: d.status,
    response_code: d.response_code,
    attempt: d.attempt,
    error: d.error,
    next_attempt_at: iso(d.next_attempt_at),
    created_at: iso(d.created_at),
  };
}
