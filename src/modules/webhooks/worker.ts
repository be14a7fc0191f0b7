// Webhook delivery: reads the change log (never memory), per endpoint in seq order. The endpoint's
// row is its cursor (last_delivered_seq) and its lease: each attempt runs in a transaction that holds
// `SELECT … FOR UPDATE SKIP LOCKED` on it, so one node at a time delivers an endpoint; the cursor moves
// in the same transaction after a 2xx. A node that dies mid-request loses its connection and so its
// lock; the next node sends that same event again (same Webhook-Id). Nothing else repeats.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Knex } from 'knex';
import type { EventBus } from '../../platform/bus.js';
import { publicEnvelope } from '../../platform/bus.js';
import type { WebhookSettings } from '../../platform/config.js';
import { systemContext } from '../../platform/context.js';
import { NotFound } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { visibleTo } from '../access/visibility.js';
import { ChangeEventRow, toEnvelope } from '../changelog/service.js';
import { checkedLookup, refusedLiteral } from './address.js';
import type { Webhook, WebhookDelivery } from './model.js';
import type { WebhookService } from './service.js';

const MAX_RESPONSE_BYTES = 64 * 1024;
const BATCH_PER_WAKE = 100;
/**
 * Endpoints a node delivers to at once. Each attempt holds its endpoint's row lock, and so a pooled
 * connection, while its request is in flight (up to WEBHOOK_TIMEOUT_MS): a bound well under the pool
 * size keeps slow receivers from starving the node's HTTP requests of connections.
 */
export const CONCURRENT_ENDPOINTS = 4;

export interface Attempt {
  ok: boolean;
  status: number | null;
  error: string | null;
}

/** `t=<unix>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` */
export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function backoffMs(failures: number, settings: Pick<WebhookSettings, 'retryBaseMs' | 'retryCapMs'>): number {
  const ceiling = Math.min(settings.retryCapMs, settings.retryBaseMs * 2 ** Math.min(failures - 1, 30));
  // Equal jitter: at least half the delay, so retries still back off.
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** One POST: no redirects (3xx fails), a timeout, at most MAX_RESPONSE_BYTES of the answer read. */
export function post(url: string, headers: Record<string, string>, body: string, settings: WebhookSettings): Promise<Attempt> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ ok: false, status: null, error: 'invalid URL' });
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return resolve({ ok: false, status: null, error: 'not an http(s) URL' });
    const refused = refusedLiteral(target.hostname, settings.allowPrivate);
    if (refused) return resolve({ ok: false, status: null, error: refused });
    const lib = target.protocol === 'https:' ? https : http;
    const req = lib.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      lookup: checkedLookup(settings.allowPrivate) as never,
      timeout: settings.timeoutMs,
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)));
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, status: null, error: err.message.slice(0, 500) });
    });
    req.on('response', (res) => {
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        resolve({ ok, status, error: ok ? null : status >= 300 && status < 400 ? `redirect (${status}) not followed` : `HTTP ${status}` });
      };
      res.on('end', done);
      res.on('close', done);
    });
    req.end(body);
  });
}

export class WebhookWorker {
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  /**
   * Tenants with an enabled webhook, as of the last pass: a new event of any other tenant wakes
   * nothing (no query on the write path of tenants without webhooks). A webhook created or
   * re-enabled on another node is picked up by its own `webhooks.*` event or the next poll.
   */
  private hooked = new Set<string>();

  constructor(
    private readonly knex: Knex,
    private readonly bus: EventBus,
    private readonly service: WebhookService,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.bus.subscribe((events) => {
      if (events.some((e) => e.entity_type === 'webhooks' || this.hooked.has(e.tenant_id))) this.wake();
    });
    this.timer = setInterval(() => this.wake(), this.settings.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass now, or once more after the current one. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => this.logger.warn('webhook delivery pass failed', { err: String(err) }))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async pass(): Promise<void> {
    const enabled = (await this.knex('webhooks')
      .whereNull('disabled_at')
      .select('id', 'tenant_id', this.knex.raw('(next_attempt_at IS NULL OR next_attempt_at <= now()) AS due'))) as {
      id: string;
      tenant_id: string;
      due: boolean;
    }[];
    this.hooked = new Set(enabled.map((h) => h.tenant_id));
    const due = enabled.filter((h) => h.due);
    const queue = due.map(({ id }) => id);
    const nextDue: (number | null)[] = [];
    const lane = async () => {
      for (let id = queue.shift(); id !== undefined && !this.stopped; id = queue.shift()) nextDue.push(await this.drain(id));
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_ENDPOINTS, queue.length) }, lane));
    // Wake for the earliest retry rather than wait for the poll.
    const soonest = Math.min(...nextDue.filter((d): d is number => d !== null));
    if (Number.isFinite(soonest) && !this.stopped) setTimeout(() => this.wake(), Math.max(soonest, 10)).unref();
  }

  /** Delivers the endpoint's pending events in order; returns ms until its retry, if one is due. */
  private async drain(id: string): Promise<number | null> {
    for (let i = 0; i < BATCH_PER_WAKE && !this.stopped; i++) {
      const outcome = await this.deliverNext(id);
      if (outcome === 'idle' || outcome === 'busy') return null;
      if (typeof outcome === 'number') return outcome;
    }
    return null;
  }

  private async deliverNext(id: string): Promise<'idle' | 'busy' | 'sent' | number> {
    let disable: { tenantId: string; reason: string } | undefined;
    const outcome = await this.knex.transaction(async (trx) => {
      const hook = (await trx('webhooks')
        .where({ id })
        .whereNull('disabled_at')
        .where((q) => void q.whereNull('next_attempt_at').orWhere('next_attempt_at', '<=', trx.fn.now()))
        .forUpdate()
        .skipLocked()
        .first()) as Webhook | undefined;
      if (!hook) return 'busy' as const;
      const event = await this.nextEvent(trx, hook);
      if (!event) return 'idle' as const;
      const attempt = await this.send(hook, event);
      const prior = await trx('webhook_deliveries').where({ webhook_id: id, seq: event.seq }).count<{ n: string }[]>('* as n');
      const attemptNo = Number(prior[0].n) + 1;
      if (attempt.ok) {
        await trx('webhooks').where({ id }).update({ last_delivered_seq: event.seq, consecutive_failures: 0, next_attempt_at: null });
        await trx('webhook_deliveries').insert({
          tenant_id: hook.tenant_id,
          webhook_id: id,
          seq: event.seq,
          status: 'succeeded',
          response_code: attempt.status,
          attempt: attemptNo,
        });
        return 'sent' as const;
      }
      const failures = hook.consecutive_failures + 1;
      const delay = backoffMs(failures, this.settings);
      const nextAt = new Date(Date.now() + delay);
      await trx('webhooks').where({ id }).update({ consecutive_failures: failures, next_attempt_at: nextAt });
      await trx('webhook_deliveries').insert({
        tenant_id: hook.tenant_id,
        webhook_id: id,
        seq: event.seq,
        status: 'failed',
        response_code: attempt.status,
        attempt: attemptNo,
        error: attempt.error,
        next_attempt_at: failures >= this.settings.maxFailures ? null : nextAt,
      });
      if (failures >= this.settings.maxFailures) disable = { tenantId: hook.tenant_id, reason: `${failures} consecutive failures; last: ${attempt.error}` };
      return delay;
    });
    if (disable) {
      await this.service.disable(systemContext(disable.tenantId, this.knex), id, disable.reason);
      return 'idle';
    }
    return outcome;
  }

  private async nextEvent(trx: Knex.Transaction, hook: Webhook) {
    const q = trx<ChangeEventRow>('change_events').where({ tenant_id: hook.tenant_id }).where('seq', '>', hook.last_delivered_seq);
    if (hook.entity_types) q.whereIn('entity_type', hook.entity_types);
    if (hook.types) q.whereIn('type', hook.types);
    const row = await q.orderBy('seq').first();
    return row ? toEnvelope(row as ChangeEventRow) : undefined;
  }

  /** The signed POST of one event; the body is the live-event envelope as a non-admin socket receives it. */
  send(hook: Pick<Webhook, 'id' | 'url' | 'secret'>, event: ReturnType<typeof toEnvelope>): Promise<Attempt> {
    const body = JSON.stringify(publicEnvelope(visibleTo(false, event)));
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': `${hook.id}:${event.seq}`,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature(hook.secret, timestamp, body),
      'user-agent': 'appinventory-live-webhooks',
    };
    return post(hook.url, headers, body, this.settings);
  }

  /** POST /webhooks/:id/deliveries/:did/redeliver: that event once more, out of order, recorded as an attempt. */
  async redeliver(hook: Webhook, seq: number): Promise<WebhookDelivery> {
    const row = await this.knex<ChangeEventRow>('change_events').where({ tenant_id: hook.tenant_id, seq }).first();
    if (!row) throw NotFound(`The event ${seq} is no longer in the change log.`);
    const attempt = await this.send(hook, toEnvelope(row as ChangeEventRow));
    const prior = await this.knex('webhook_deliveries').where({ webhook_id: hook.id, seq }).count<{ n: string }[]>('* as n');
    const [delivery] = (await this.knex('webhook_deliveries')
      .insert({
        tenant_id: hook.tenant_id,
        webhook_id: hook.id,
        seq,
        status: attempt.ok ? 'succeeded' : 'failed',
        response_code: attempt.status,
        attempt: Number(prior[0].n) + 1,
        error: attempt.error,
      })
      .returning('*')) as WebhookDelivery[];
    return delivery;
  }
}
