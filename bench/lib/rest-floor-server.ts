// The REST suite's floor, in its own process: a bare node:http server that answers a cursor page
// with the raw baseline's keyset query (RestBaseline on a plain pg.Pool) and JSON.stringify of its
// rows, with no framework, authentication, middleware or cursor format. Measured at c=1 beside the
// app's cursor pages, it shows how much of their latency tail a minimal HTTP server of the same
// data has too. GET /page?k=<sort key>&id=<uuid> reads the 50 rows after that key; GET /first the
// first 50 rows with the tenant's count, as the baseline's first page does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RestBaseline } from './rest-baseline.js';

export interface FloorServerOptions {
  databaseUrl: string;
  tenantId: string;
}

const opts = JSON.parse(process.env.BENCH_REST_FLOOR ?? '{}') as FloorServerOptions;
const send = (msg: unknown) => process.send?.(msg);
const baseline = new RestBaseline(opts.databaseUrl, 10);

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  const k = url.searchParams.get('k');
  const id = url.searchParams.get('id');
  const first = url.pathname === '/first';
  if (!first && (url.pathname !== '/page' || !k || !id)) {
    res.writeHead(404).end();
    return;
  }
  const read = first
    ? baseline.list(opts.tenantId, { limit: 50 }, { total: true })
    : baseline.list(opts.tenantId, { limit: 50, after: { k: k!, id: id! } }, { total: false });
  read.then(
    ({ rows, total }) => {
      const body = JSON.stringify(first ? { data: rows, meta: { total } } : { data: rows });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
    },
    (err: unknown) => {
      res.writeHead(500).end(String(err));
    },
  );
});

interface Command {
  id: number;
  cmd: string;
}

process.on('message', (msg: Command) => {
  if (msg.cmd === 'close') {
    server.close();
    void baseline.pool.end().finally(() => {
      send({ id: msg.id, ok: true, result: null });
      process.exit(0);
    });
  } else {
    send({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
