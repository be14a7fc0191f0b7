// The fan-out suite's REST writer: PATCHes at a fixed rate, open loop, with a cap on requests in
// flight, timing each answer.
import type { HttpClient } from './http-client.js';
import type { Percentiles } from './fanout-ladder.js';

export interface WriteResult {
  ok: number;
  failed: number;
  /** Requests sent again after a connection error (see `send`). */
  retried: number;
  wallMs: number;
  firstError?: string;
  latency: Percentiles;
}

/**
 * Open-loop writer: `count` requests at `rate`/s on a schedule (not waiting for answers), at most
 * `maxInFlight` at once; if answers are slower than that allows, the schedule slips and the
 * achieved rate drops, which the caller reports. No request starts after `capMs`, so a rate the
 * server cannot reach does not stretch the step. Resolves when the last answer is in.
 */
export function writeAt(
  api: HttpClient,
  rate: number,
  count: number,
  maxInFlight: number,
  next: () => { path: string; body: unknown },
  capMs = Infinity,
): Promise<WriteResult> {
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  let retried = 0;
  const latencies: number[] = [];
  // A keep-alive connection the server closes as idle (Node's 5 s keepAliveTimeout) at the moment
  // the client reuses it fails with "socket hang up" / ECONNRESET before the server saw anything:
  // such a request is sent once more. A PATCH that did reach the server and is sent again sets the
  // same description, a no-op that records no event, so the count of events stays right.
  const send = (p: string, body: unknown) =>
    api.request('PATCH', p, body).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code !== 'ECONNRESET' && !/socket hang up/.test(String(err))) throw err;
      retried++;
      return api.request('PATCH', p, body);
    });
  return new Promise((resolve) => {
    if (count <= 0) return resolve({ ok, failed, retried, wallMs: 0, firstError, latency: { p50: NaN, p99: NaN, samples: 0 } });
    const done = () => {
      latencies.sort((x, y) => x - y);
      const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))] ?? NaN;
      resolve({ ok, failed, retried, wallMs: performance.now() - started, firstError, latency: { p50: pct(50), p99: pct(99), samples: latencies.length } });
    };
    const fire = () => {
      const { path: p, body } = next();
      inFlight++;
      const t0 = performance.now();
      send(p, body)
        .then(
          (res) => {
            latencies.push(performance.now() - t0);
            if (res.status === 200) ok++;
            else {
              failed++;
              firstError ??= `PATCH → ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`;
            }
          },
          (err: unknown) => {
            failed++;
            firstError ??= String(err);
          },
        )
        .finally(() => {
          inFlight--;
          if (sent === count && inFlight === 0) done();
          else tick();
        });
    };
    const tick = () => {
      const elapsed = performance.now() - started;
      if (elapsed > capMs && sent < count) {
        count = sent; // give up on the rest; `done` runs with the last answer
        if (inFlight === 0) done();
        return;
      }
      const due = Math.min(count, Math.floor((elapsed * rate) / 1000) + 1);
      while (sent < due && inFlight < maxInFlight) {
        sent++;
        fire();
      }
    };
    const timer = setInterval(() => {
      tick();
      if (sent === count) clearInterval(timer);
    }, 1);
    tick();
  });
}
