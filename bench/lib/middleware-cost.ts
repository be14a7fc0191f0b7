// `npx tsx bench/lib/middleware-cost.ts [requests] [rounds]`: the CPU that the per-request
// middleware (request id, log line, security headers, metrics, CORS: src/http.ts's
// requestMiddleware) costs a request, without a database. The same one-route Express app with and
// without it answers keep-alive GETs at c=8 in this process, which also runs the client, so the
// difference between the two is the middleware's. The logger is at `error`, as on the bench nodes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { requestMiddleware } from '../../src/http.js';
import { NodeMetrics } from '../../src/platform/http/metrics.js';
import { stampRouteTemplate } from '../../src/platform/http/route-template.js';
import { createLogger } from '../../src/platform/logger.js';
import { createOriginPolicy } from '../../src/platform/origins.js';

const CONCURRENCY = 8;

function app(withMiddleware: boolean): express.Express {
  const a = express();
  a.disable('x-powered-by');
  if (withMiddleware) {
    const logger = createLogger('error', { node: 'middleware-cost' }, { stdout: () => {}, stderr: () => {} });
    const origins = createOriginPolicy({ mode: 'cluster', port: () => undefined });
    a.use(requestMiddleware({ logger, hstsMaxAge: 0, metrics: new NodeMetrics(), origins }));
  }
  const services = express.Router();
  services.get('/:id', stampRouteTemplate, (req, res) => {
    res.json({ data: { id: req.params.id } });
  });
  a.use('/api/v1/services', services);
  return a;
}

/** Microseconds of this process's CPU per request, after a warm-up of as many requests. */
async function cpuPerRequest(withMiddleware: boolean, requests: number): Promise<number> {
  const server = http.createServer(app(withMiddleware)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const get = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const path = `/api/v1/services/${i}`;
      http
        .get({ host: '127.0.0.1', port, path, agent, headers: { authorization: 'Bearer x' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  const load = async () => {
    let next = 0;
    const worker = async () => {
      while (next < requests) await get(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  try {
    await load();
    const start = process.cpuUsage();
    await load();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / requests;
  } finally {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const requests = Number(process.argv[2] ?? 5_000);
const rounds = Number(process.argv[3] ?? 5);
const without: number[] = [];
const withIt: number[] = [];
// Alternated, so a change in the machine's load falls on both.
for (let r = 0; r < rounds; r++) {
  without.push(await cpuPerRequest(false, requests));
  withIt.push(await cpuPerRequest(true, requests));
}
const show = (xs: number[]) => `median ${median(xs).toFixed(1)} µs (${xs.map((x) => x.toFixed(0)).join(' ')})`;
console.log(`CPU per request, ${requests} requests × ${rounds} rounds at c=${CONCURRENCY}`);
console.log(`  without the middleware: ${show(without)}`);
console.log(`  with the middleware:    ${show(withIt)}`);
console.log(`  the middleware:         ${(median(withIt) - median(without)).toFixed(1)} µs per request`);
