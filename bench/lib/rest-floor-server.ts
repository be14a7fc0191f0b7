// The REST suite's HTTP floor, in its own process: a bare node:http server that answers the
// default first page and cursor pages with the raw baseline's queries (RestBaseline on a plain
// pg.Pool) and JSON.stringify of the rows: no framework, authentication, middleware or cursor
// format. Timed at c=1 beside the app and the raw queries, it shows how much of a page's latency
// tail any HTTP server of the same data has. GET /first: the first 50 rows with the tenant's count,
// as the baseline's first page; GET /page?k=<sort key>&id=<uuid>: the 50 rows after that key.
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
