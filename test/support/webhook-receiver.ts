// A webhook receiver on 127.0.0.1 for the webhook suites: records every request, answers with the
// status `answer` decides, or holds a request without answering (`hold`), so it stays in flight.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: { seq: number; type: string; tenant_id: string; entity_type: string; data: Record<string, unknown> };
}

/** A request held without an answer; `dropped` once the sender's connection closed. */
export interface HeldRequest {
  request: Received;
  dropped: boolean;
}

export async function startReceiver() {
  const received: Received[] = [];
  const held: HeldRequest[] = [];
  const state = { answer: (_r: Received): number => 200, hold: (_r: Received): boolean => false };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r: Received = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        json: JSON.parse(body) as Received['json'],
      };
      received.push(r);
      if (state.hold(r)) {
        const entry: HeldRequest = { request: r, dropped: false };
        held.push(entry);
        req.socket.once('close', () => (entry.dropped = true));
        return;
      }
      res.statusCode = state.answer(r);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    held,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // held requests too
        server.close(() => resolve());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Whether the request's Webhook-Signature is the HMAC of its timestamp and body under `secret`. */
export function verifies(r: Received, secret: string): boolean {
  const expected = `t=${r.timestamp},v1=${createHmac('sha256', secret).update(`${r.timestamp}.${r.body}`).digest('hex')}`;
  return r.signature === expected;
}
