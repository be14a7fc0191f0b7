// CORS_ORIGINS: which browser origins may use the REST API (CORS, preflights answered before
// authentication), open a Socket.IO socket (polling CORS and a handshake origin check) and
// co-edit over /collab (the upgrade's Origin check). Requests without an Origin stay allowed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { io as ioClient, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { HTTP_DEFAULTS, loadConfig } from '../src/platform/config.js';
import { createOriginPolicy } from '../src/platform/origins.js';
import { signupTenant, type Tenant } from './support/http-assertions.js';
import { startTestApp, type TestApp } from './support/server.js';

const ALLOWED = 'https://dashboard.example.com';
const OTHER = 'https://evil.example.net';

async function preflight(url: string, origin: string, method = 'PATCH', headers = 'authorization,content-type,if-match,idempotency-key,x-request-id') {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

/** A preflight with a Host header of its own (fetch always sends the URL's): a page that this node did not serve. */
function preflightFromElsewhere(url: string, origin: string): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'OPTIONS', headers: { origin, host: 'node.invalid', 'access-control-request-method': 'GET' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    });
    req.on('error', reject);
    req.end();
  });
}

const listOf = (value: string | null) =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);

/** Connects a Node socket.io-client that sends `origin` the way a browser would; resolves how it ended. */
function connectLive(url: string, token: string, origin: string | undefined, transports: string[]): Promise<{ connected: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket: Socket = ioClient(url, {
      forceNew: true,
      reconnection: false,
      timeout: 5_000,
      transports,
      auth: { token },
      ...(origin ? { extraHeaders: { origin } } : {}),
    });
    socket.on('connect', () => {
      socket.close();
      resolve({ connected: true });
    });
    socket.on('connect_error', (err) => {
      socket.close();
      resolve({ connected: false, error: err.message });
    });
  });
}

/** Opens a raw WebSocket to /collab with an Origin header; resolves with the first thing that happens. */
function openCollab(url: string, path: string, origin: string | undefined): Promise<{ opened: boolean; status?: number; firstMessage?: boolean }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, origin ? { headers: { origin } } : {});
    ws.on('message', () => {
      ws.close();
      resolve({ opened: true, firstMessage: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode });
      ws.terminate();
    });
    ws.on('close', (code) => resolve({ opened: code !== 1006, status: undefined }));
    ws.on('error', () => {});
  });
}

describe('CORS for REST, Socket.IO and /collab (CORS_ORIGINS)', () => {
  let app: TestApp;
  let tenant: Tenant;

  before(async () => {
    app = await startTestApp({}, { http: { ...HTTP_DEFAULTS, corsOrigins: [ALLOWED] } });
    tenant = await signupTenant(app);
  });
  after(async () => {
    await app?.close();
  });

  describe('REST', () => {
    it('answers a preflight from an allowed origin before authentication, allowing the headers the API reads', async () => {
      const res = await preflight(`${app.url}/api/v1/services/${randomUUID()}`, ALLOWED);
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
      assert.ok(listOf(res.headers.get('access-control-allow-methods')).includes('patch'));
      for (const header of ['authorization', 'content-type', 'if-match', 'idempotency-key', 'x-request-id']) {
        assert.ok(listOf(res.headers.get('access-control-allow-headers')).includes(header), header);
      }
      assert.equal(res.headers.get('access-control-allow-credentials'), null, 'tokens travel in headers, not cookies');
      assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
      assert.ok(listOf(res.headers.get('vary')).includes('origin'));
    });

    it('answers a preflight from another origin without any allowance (and not with a 401)', async () => {
      const res = await preflight(`${app.url}/api/v1/services`, OTHER, 'POST');
      assert.equal(res.status, 204);
      for (const [name] of res.headers) assert.ok(!name.startsWith('access-control-'), `unexpected ${name}`);
    });

    it('gives a real request from an allowed origin the allowance and exposes ETag, Location, X-Request-Id and Retry-After', async () => {
      const res = await fetch(`${app.url}/api/v1/services`, {
        method: 'POST',
        headers: { origin: ALLOWED, authorization: `Bearer ${tenant.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `svc-${randomUUID().slice(0, 8)}`, type: 'api' }),
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
      const exposed = listOf(res.headers.get('access-control-expose-headers'));
      for (const header of ['etag', 'location', 'x-request-id', 'retry-after']) assert.ok(exposed.includes(header), header);
      assert.ok(res.headers.get('location') && res.headers.get('etag'));
    });

    it('gives a request from another origin no allowance, and one without an Origin (not a browser) none either', async () => {
      for (const headers of [{ origin: OTHER }, {}] as Record<string, string>[]) {
        const res = await fetch(`${app.url}/api/v1/services`, { headers: { ...headers, authorization: `Bearer ${tenant.token}` } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('access-control-allow-origin'), null);
        assert.equal(res.headers.get('access-control-expose-headers'), null);
      }
    });

    it('allows a page the node itself served (its Origin names the Host it asked) whatever the list says', async () => {
      const res = await preflight(`${app.url}/api/v1/services`, app.url, 'POST');
      assert.equal(res.headers.get('access-control-allow-origin'), app.url);
    });
  });

  describe('Socket.IO', () => {
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      it(`connects from an allowed origin and without an Origin, and refuses another origin (${transports.join(' → ')})`, async () => {
        assert.deepEqual(await connectLive(app.url, tenant.token, ALLOWED, transports), { connected: true });
        assert.deepEqual(await connectLive(app.url, tenant.token, undefined, transports), { connected: true });
        const refused = await connectLive(app.url, tenant.token, OTHER, transports);
        assert.equal(refused.connected, false);
        assert.notEqual(refused.error, 'unauthorized', 'refused for its origin, before the token is looked at');
      });
    }

    it('gives the polling transport a CORS allowance for an allowed origin only, and refuses another origin with 403', async () => {
      const poll = (origin: string) => fetch(`${app.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
      const allowed = await poll(ALLOWED);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED);
      await allowed.text();
      const other = await poll(OTHER);
      assert.equal(other.status, 403);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      await other.text();
    });
  });

  describe('/collab', () => {
    it('upgrades from an allowed origin and without an Origin, and refuses another origin with 403 before any upgrade', async () => {
      const created = await tenant.client.post('/api/v1/services', { name: `svc-${randomUUID().slice(0, 8)}`, type: 'api' });
      assert.equal(created.status, 201);
      const path = `/collab/services/${created.body.data.id}?token=${encodeURIComponent(tenant.token)}`;
      assert.deepEqual(await openCollab(app.url, path, ALLOWED), { opened: true, firstMessage: true });
      assert.deepEqual(await openCollab(app.url, path, undefined), { opened: true, firstMessage: true });
      assert.deepEqual(await openCollab(app.url, path, OTHER), { opened: false, status: 403 });
    });
  });
});

describe('CORS defaults per run mode', () => {
  it("embedded without CORS_ORIGINS: the node's own http://localhost:<port> and http://127.0.0.1:<port>, nothing else", async () => {
    const app = await startTestApp();
    try {
      for (const origin of [`http://localhost:${app.app.port}`, `http://127.0.0.1:${app.app.port}`]) {
        assert.equal((await preflightFromElsewhere(`${app.url}/api/v1/services`, origin))['access-control-allow-origin'], origin, origin);
      }
      for (const origin of [`http://localhost:${app.app.port + 1}`, `http://127.0.0.1:${app.app.port + 1}`, ALLOWED]) {
        assert.equal((await preflightFromElsewhere(`${app.url}/api/v1/services`, origin))['access-control-allow-origin'], undefined, origin);
      }
    } finally {
      await app.close();
    }
  });

  it("cluster without CORS_ORIGINS: no other origin, only the node's own pages", () => {
    const policy = createOriginPolicy({ mode: 'cluster', port: () => 3000 });
    assert.deepEqual(policy.origins(), []);
    assert.equal(policy.allows({ headers: { origin: 'http://localhost:3000', host: 'inventory.example.com' } }), false);
    assert.equal(policy.allows({ headers: { origin: 'https://inventory.example.com', host: 'inventory.example.com' } }), true);
    assert.equal(policy.allows({ headers: { origin: 'null', host: 'inventory.example.com' } }), false);
    assert.equal(policy.allows({ headers: { host: 'inventory.example.com' } }), true, 'no Origin: not a browser');
  });

  it('parses CORS_ORIGINS as exact origins and refuses paths, wildcards and trailing slashes', () => {
    const env = { DATABASE_URL: 'postgres://u:p@db/app' };
    assert.equal(loadConfig(env).http.corsOrigins, undefined);
    assert.deepEqual(loadConfig({ ...env, CORS_ORIGINS: ' https://a.example.com, http://localhost:5173,https://a.example.com' }).http.corsOrigins, [
      'https://a.example.com',
      'http://localhost:5173',
    ]);
    for (const bad of ['*', 'https://a.example.com/', 'https://a.example.com/app', 'a.example.com', 'ftp://a.example.com', 'https://A.example.com', ',']) {
      assert.throws(() => loadConfig({ ...env, CORS_ORIGINS: bad }), /CORS_ORIGINS/, bad);
    }
  });
});
