// Prometheus metrics for one node: requests by route and status, latency histograms by route,
// and database pool usage. Plain text exposition format, no dependency.
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram { buckets: number[]; sum: number; count: number }

export class HttpMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly gauges = new Map<string, () => number>();

  /** Counts every response under its route template (`/api/v1/services/:id`), never the raw URL. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        const path = (req.route as { path?: string } | undefined)?.path;
        const route = path !== undefined ? `${req.baseUrl}${path === '/' ? '' : path}` || '/' : 'unmatched';
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const key = `method="${req.method}",route="${route}",status="${res.statusCode}"`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
        const hKey = `method="${req.method}",route="${route}"`;
        const h = this.latency.get(hKey) ?? { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
        BUCKETS.forEach((b, i) => {
          if (seconds <= b) h.buckets[i] += 1;
        });
        h.sum += seconds;
        h.count += 1;
        this.latency.set(hKey, h);
      });
      next();
    };
  }

  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  watchPool(knex: Knex): void {
    const pool = (knex.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
    this.gauge('db_pool_used', () => pool?.numUsed() ?? 0);
    this.gauge('db_pool_free', () => pool?.numFree() ?? 0);
    this.gauge('db_pool_pending_acquires', () => pool?.numPendingAcquires() ?? 0);
  }

  render(): string {
    const lines = ['# HELP http_requests_total HTTP responses by route and status.', '# TYPE http_requests_total counter'];
    for (const [labels, n] of this.requests) lines.push(`http_requests_total{${labels}} ${n}`);
    lines.push('# HELP http_request_duration_seconds HTTP latency by route.', '# TYPE http_request_duration_seconds histogram');
    for (const [labels, h] of this.latency) {
      BUCKETS.forEach((b, i) => lines.push(`http_request_duration_seconds_bucket{${labels},le="${b}"} ${h.buckets[i]}`));
      lines.push(`http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    for (const [name, read] of this.gauges) {
      lines.push(`# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    lines.push('# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${process.memoryUsage().rss}`);
    return `${lines.join('\n')}\n`;
  }
}
