// Logs: one line per HTTP request with its route template, status, duration, request id, tenant and
// actor; lines for live sockets and co-editing connections; secrets (headers, fields, the token of a
// /collab or Socket.IO URL) never written; LOG_LEVEL honoured; pretty output only on a terminal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { startServer, type AppHandle } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { requestId } from '../src/platform/http/middleware.js';
import { errorHandler } from '../src/platform/http/problem.js';
import { requestLog } from '../src/platform/http/request-log.js';
import { stampRouteTemplate } from '../src/platform/http/route-template.js';
import { createLogger, type Logger } from '../src/platform/logger.js';
import { redactUrl } from '../src/platform/redact.js';
import { FAST_COLLAB, openEditor, waitFor } from './support/collab-client.js';
import { startTestApp, testConfig, type TestApp } from './support/server.js';

type Line = Record<string, unknown>;

/** A logger whose every line (stdout and stderr alike) is kept, raw and parsed. */
function capturedLogger(level: Parameters<typeof createLogger>[0]): { logger: Logger; raw: string[]; lines: Line[] } {
  const raw: string[] = [];
  const lines: Line[] = [];
  const keep = (line: string) => {
    raw.push(line);
    lines.push(JSON.parse(line) as Line);
  };
  return { logger: createLogger(level, { node: 'log-test' }, { stdout: keep, stderr: keep }), raw, lines };
}

/** The first line `pick` finds, once it is written. */
function until(what: string, pick: () => Line | undefined): Promise<Line> {
  return waitFor(what, pick) as Promise<Line>;
}

function connectSocket(url: string, token: string, query: Record<string, string> = {}): Promise<Socket> {
  const socket = ioClient(url, { forceNew: true, transports: ['websocket'], reconnection: false, auth: { token }, query });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.disconnect();
      reject(err);
    });
  });
}

function closeCodeOf(url: string): Promise<number> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

describe('logging', () => {
  let t: TestApp;
  const log = capturedLogger('debug');
  let tenant: { token: string; tenantId: string; userId: string };
  let serviceId: string;

  const requestLine = (reqId: string) => log.lines.find((l) => l.req_id === reqId && typeof l.status === 'number');
  async function lineFor(reqId: string): Promise<Line> {
    return until(`the request line of ${reqId}`, () => requestLine(reqId));
  }

  before(async () => {
    t = await startTestApp({ logger: log.logger, collab: { ...FAST_COLLAB } });
    tenant = await t.signup();
    const res = await t.client(tenant.token).post('/api/v1/services', { name: `svc-${randomUUID().slice(0, 8)}`, type: 'api' });
    assert.equal(res.status, 201);
    serviceId = res.body.data.id;
  });

  after(async () => {
    await t?.close();
  });

  describe('HTTP requests', () => {
    it('writes one line per request: method, route template, status, duration, request id, tenant, actor', async () => {
      const res = await t.client(tenant.token).get(`/api/v1/services/${serviceId}?fields=x`, { 'x-request-id': 'log-200' });
      assert.equal(res.status, 200);
      const line = await lineFor('log-200');
      assert.equal(line.level, 'info');
      assert.equal(line.msg, 'request completed');
      assert.equal(line.method, 'GET');
      assert.equal(line.route, '/api/v1/services/:id');
      assert.equal(line.url, `/api/v1/services/${serviceId}?fields=x`);
      assert.equal(line.status, 200);
      assert.equal(typeof line.duration_ms, 'number');
      assert.ok((line.duration_ms as number) >= 0);
      assert.equal(line.tenant_id, tenant.tenantId);
      assert.deepEqual(line.actor, { type: 'user', id: tenant.userId });
      assert.equal(line.node, 'log-test');
      assert.equal(line.component, 'http');
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
      assert.equal(log.lines.filter((l) => l.req_id === 'log-200').length, 1, 'one line per request');
    });

    it('names the route template of a 404, a 401 and a 412 too, at info', async () => {
      const client = t.client(tenant.token);
      assert.equal((await client.get(`/api/v1/services/${randomUUID()}`, { 'x-request-id': 'log-404' })).status, 404);
      assert.equal((await t.client().get(`/api/v1/services/${serviceId}`, { 'x-request-id': 'log-401' })).status, 401);
      const stale = await client.patch(`/api/v1/services/${serviceId}`, { description: 'stale' }, { 'if-match': '"999"', 'x-request-id': 'log-412' });
      assert.equal(stale.status, 412);
      for (const [id, status] of [
        ['log-404', 404],
        ['log-401', 401],
        ['log-412', 412],
      ] as const) {
        const line = await lineFor(id);
        assert.equal(line.route, '/api/v1/services/:id', id);
        assert.equal(line.status, status, id);
        assert.equal(line.level, 'info', id);
      }
      assert.equal((await lineFor('log-412')).method, 'PATCH');
      assert.equal((await lineFor('log-412')).tenant_id, tenant.tenantId);
      const anonymous = await lineFor('log-401');
      assert.equal(anonymous.tenant_id, undefined, 'no tenant before authentication');
      assert.equal(anonymous.actor, undefined);
    });

    it('leaves the route out for a URL no route serves, and logs probes at debug', async () => {
      assert.equal((await t.client(tenant.token).get('/api/v1/no-such-thing/1', { 'x-request-id': 'log-unrouted' })).status, 404);
      const line = await lineFor('log-unrouted');
      assert.equal(line.route, undefined);
      assert.equal(line.status, 404);
      assert.equal((await t.client().get('/healthz', { 'x-request-id': 'log-healthz' })).status, 200);
      const probe = await lineFor('log-healthz');
      assert.equal(probe.level, 'debug');
      assert.equal(probe.route, '/healthz');
    });

    it('writes a 500 at error with the serialized error on the request line, and nothing of it in the response', async () => {
      const { logger, lines } = capturedLogger('info');
      const app = express();
      app.use(requestId, requestLog(logger));
      const router = express.Router();
      // A route that forwards an error records its template first, as every documented route does.
      router.get('/:id', stampRouteTemplate, () => {
        throw Object.assign(new Error('the disk is on fire'), { code: 'E_FIRE' });
      });
      app.use('/boom', router);
      app.use(errorHandler(logger));
      const server = http.createServer(app).listen(0, '127.0.0.1');
      try {
        await new Promise((resolve) => server.once('listening', resolve));
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/boom/7`, { headers: { 'x-request-id': 'log-500' } });
        assert.equal(res.status, 500);
        assert.ok(!(await res.text()).includes('on fire'), 'the error stays in the log');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
      const line = await until('the 500 line', () => lines.find((l) => l.req_id === 'log-500'));
      assert.equal(line.level, 'error');
      assert.equal(line.msg, 'request failed');
      assert.equal(line.status, 500);
      assert.equal(line.route, '/boom/:id');
      const err = line.err as Record<string, unknown>;
      assert.equal(err.message, 'the disk is on fire');
      assert.equal(err.code, 'E_FIRE');
      assert.match(String(err.stack), /on fire/);
      assert.equal(lines.length, 1, 'one line for the request, its error included');
    });

    it('writes one line for a request whose client went away before the response: request aborted', async () => {
      const { logger, lines } = capturedLogger('info');
      const app = express();
      app.use(requestId, requestLog(logger));
      let reached!: () => void;
      const handling = new Promise<void>((resolve) => (reached = resolve));
      const router = express.Router();
      // Never answers: the client gives up first.
      router.get('/:id', stampRouteTemplate, () => reached());
      app.use('/slow', router);
      const server = http.createServer(app).listen(0, '127.0.0.1');
      try {
        await new Promise((resolve) => server.once('listening', resolve));
        const port = (server.address() as AddressInfo).port;
        const req = http.get({ host: '127.0.0.1', port, path: '/slow/7', headers: { 'x-request-id': 'log-aborted' } });
        req.on('error', () => {});
        await handling;
        req.destroy();
        const line = await until('the aborted line', () => lines.find((l) => l.req_id === 'log-aborted'));
        assert.equal(line.level, 'info');
        assert.equal(line.msg, 'request aborted');
        assert.equal(line.route, '/slow/:id');
        assert.equal(line.method, 'GET');
        assert.equal(typeof line.duration_ms, 'number');
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      assert.equal(lines.filter((l) => l.req_id === 'log-aborted').length, 1, 'one line for the request');
    });

    it('never writes the Authorization header or a token', async () => {
      await lineFor('log-200');
      assert.ok(!log.raw.some((l) => l.includes(tenant.token)), 'the bearer token is in no line');
    });
  });

  describe('live sockets', () => {
    it('writes connect and disconnect lines with tenant, actor, socket id and reason; the URL token redacted', async () => {
      const socket = await connectSocket(t.url, tenant.token, { token: tenant.token });
      const id = socket.id;
      const connected = await until('the connect line', () => log.lines.find((l) => l.msg === 'socket connected' && l.socket_id === id));
      assert.equal(connected.tenant_id, tenant.tenantId);
      assert.deepEqual(connected.actor, { type: 'user', id: tenant.userId });
      assert.equal(connected.component, 'live-events');
      assert.match(String(connected.url), /[?&]token=\[REDACTED\]/);
      socket.disconnect();
      const gone = await until('the disconnect line', () => log.lines.find((l) => l.msg === 'socket disconnected' && l.socket_id === id));
      assert.equal(gone.reason, 'client namespace disconnect');
      assert.equal(gone.tenant_id, tenant.tenantId);
      assert.deepEqual(gone.actor, { type: 'user', id: tenant.userId });
    });

    it('writes a refused handshake with its reason, without the token', async () => {
      const forged = `${tenant.token}x`;
      await assert.rejects(connectSocket(t.url, forged, { token: forged }), /unauthorized/);
      const refused = await until('the refusal line', () => log.lines.find((l) => l.msg === 'socket refused' && String(l.url).includes('REDACTED')));
      assert.equal(refused.reason, 'unauthorized');
      assert.ok(!log.raw.some((l) => l.includes(forged) || l.includes(tenant.token)), 'no handshake token is in any line');
    });
  });

  describe('co-editing connections', () => {
    it('writes open and close lines with document, tenant, actor and close code; the URL token redacted', async () => {
      const editor = await openEditor(t.url, `services/${serviceId}`, tenant.token);
      const opened = await until('the open line', () =>
        log.lines.find((l) => l.msg === 'co-editing connection opened' && l.document === `services/${serviceId}`),
      );
      assert.equal(opened.tenant_id, tenant.tenantId);
      assert.deepEqual(opened.actor, { type: 'user', id: tenant.userId });
      assert.equal(opened.read_only, false);
      editor.destroy();
      const closed = await until('the close line', () =>
        log.lines.find((l) => l.msg === 'co-editing connection closed' && l.document === `services/${serviceId}`),
      );
      assert.equal(typeof closed.code, 'number');
      assert.equal(closed.tenant_id, tenant.tenantId);
      assert.deepEqual(closed.actor, { type: 'user', id: tenant.userId });

      const bad = `${tenant.token}x`;
      const base = `${t.url.replace(/^http/, 'ws')}/collab/services/${serviceId}`;
      assert.equal(await closeCodeOf(`${base}?token=${encodeURIComponent(bad)}`), 4401);
      const refused = await until('the refusal line', () => log.lines.find((l) => l.msg === 'co-editing connection refused'));
      assert.equal(refused.code, 4401);
      assert.equal(refused.url, `/collab/services/${serviceId}?token=[REDACTED]`);
      assert.ok(!log.raw.some((l) => l.includes(bad) || l.includes(tenant.token)), 'no /collab token is in any line');
    });
  });

  describe('LOG_LEVEL', () => {
    it('at warn writes no info or debug line', async () => {
      const quiet = capturedLogger(loadConfig({ LOG_LEVEL: 'warn' }).logLevel);
      let node: AppHandle | undefined;
      try {
        node = await startServer({ config: testConfig(), knex: t.db.knex, logger: quiet.logger });
        const headers = { authorization: `Bearer ${tenant.token}` };
        assert.equal((await fetch(`${node.url}/api/v1/services/${serviceId}`, { headers })).status, 200);
        assert.equal((await fetch(`${node.url}/api/v1/services/${serviceId}`)).status, 401);
        assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
        const socket = await connectSocket(node.url, tenant.token);
        socket.disconnect();
        quiet.logger.warn('a warning still gets through');
      } finally {
        await node?.close();
      }
      assert.deepEqual(
        quiet.lines.map((l) => l.level),
        ['warn'],
      );
    });
  });

  describe('the logger', () => {
    it('redacts secret headers and fields, and serializes errors', () => {
      const { logger, raw, lines } = capturedLogger('info');
      logger.info('secrets', {
        headers: { authorization: 'Bearer s3cret-a', cookie: 'sid=s3cret-b', accept: 'application/json' },
        req: { headers: { authorization: 'Bearer s3cret-c' } },
        password: 's3cret-d',
        body: { token: 's3cret-e', api_key: 's3cret-f' },
      });
      logger.error('failed', { err: Object.assign(new Error('it broke'), { code: 'E_BROKE' }) });
      assert.ok(!raw.join('').includes('s3cret'), raw.join(''));
      assert.deepEqual(lines[0]!.headers, { authorization: '[REDACTED]', cookie: '[REDACTED]', accept: 'application/json' });
      const err = lines[1]!.err as Record<string, unknown>;
      assert.equal(err.type, 'Error');
      assert.equal(err.message, 'it broke');
      assert.equal(err.code, 'E_BROKE');
      assert.match(String(err.stack), /it broke/);
    });

    it('binds a key given again in a child once, with the later value', () => {
      const { logger, raw } = capturedLogger('info');
      logger.child({ component: 'a' }).child({ node: 'inner' }).info('x');
      assert.equal(raw[0]!.match(/"node"/g)?.length, 1, raw[0]);
      assert.equal((JSON.parse(raw[0]!) as Line).node, 'inner');
    });

    it('redacts credential query parameters of a URL and keeps the rest as it was', () => {
      assert.equal(redactUrl('/collab/services/1?token=abc.def&x=%20y#top'), '/collab/services/1?token=[REDACTED]&x=%20y#top');
      assert.equal(redactUrl('/socket.io/?EIO=4&transport=websocket&Token=abc'), '/socket.io/?EIO=4&transport=websocket&Token=[REDACTED]');
      assert.equal(redactUrl('http://h:1/p?access%5Ftoken=abc&api_key=k'), 'http://h:1/p?access%5Ftoken=[REDACTED]&api_key=[REDACTED]');
      assert.equal(redactUrl('/api/v1/services?q=token'), '/api/v1/services?q=token');
    });

    it('prints JSON when stdout is not a terminal, and pretty lines only when it is', function () {
      this.timeout(60_000);
      const program = "import { createLogger } from './src/platform/logger.ts'; createLogger('info').info('hello', { n: 1 });";
      const piped = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { encoding: 'utf8' });
      assert.equal(piped.status, 0, piped.stderr);
      const line = JSON.parse(piped.stdout.trim()) as Line;
      assert.equal(line.msg, 'hello');
      assert.equal(line.n, 1);
      // `script` runs the program on a pseudo-terminal (util-linux); without it there is no terminal to test.
      const command = `${process.execPath} --import tsx --input-type=module -e "${program.replace(/"/g, '\\"')}"`;
      const onTty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
      if (onTty.error) return this.skip();
      assert.equal(onTty.status, 0, onTty.stdout);
      assert.match(onTty.stdout, /INFO.*hello/);
      assert.ok(!onTty.stdout.includes('{"level"'), onTty.stdout);
    });
  });
});
