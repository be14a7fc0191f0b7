// Black-box HTTP, issue 11 finding 10: helmet's headers on every response (HSTS only when the node
// is declared to be behind TLS), Cache-Control: no-store on whatever carries a token or a secret,
// and /metrics behind METRICS_TOKEN (not served unguarded in cluster mode).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { HTTP_DEFAULTS } from '../src/platform/config.js';
import { assertProblem, expectStatus, httpSuite, startHttpApp, strongPassword } from './support/http-assertions.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP security headers and /metrics (issue 11: finding 10)', () => {
  const suite = httpSuite();

  describe('security headers and /metrics (finding 10)', () => {
    it('sends nosniff, frame denial, a CSP that loads and frames nothing and no-referrer on every response, and no HSTS by default', async () => {
      for (const res of [
        await suite.admin.client.get('/api/v1/services'),
        await suite.app.client().get('/api/v1/nope'),
        await suite.app.client().get('/healthz'),
        await suite.admin.client.request('POST', '/api/v1/services', { raw: '{bad' }),
      ]) {
        const h = res.headers;
        assert.equal(h.get('x-content-type-options'), 'nosniff');
        assert.equal(h.get('x-frame-options'), 'DENY');
        assert.match(h.get('content-security-policy') ?? '', /default-src 'none'/);
        assert.match(h.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        assert.equal(h.get('referrer-policy'), 'no-referrer');
        assert.equal(h.get('strict-transport-security'), null, 'no HSTS on a node not declared to be behind TLS');
        assert.equal(h.get('x-powered-by'), null);
      }
    });

    it('sends Cache-Control: no-store on signup, login (either answer) and API-key creation, not on ordinary reads', async () => {
      const slug = `ns-${uniq()}`;
      const password = strongPassword(30);
      const signup = await suite.app
        .client()
        .post('/api/v1/auth/signup', { tenant_name: `Ns ${slug}`, tenant_slug: slug, email: `a@${slug}.example`, password, display_name: 'A' });
      expectStatus(signup, 201);
      const ok = await suite.app.client().post('/api/v1/auth/login', { tenant_slug: slug, email: `a@${slug}.example`, password });
      expectStatus(ok, 200);
      const wrong = await suite.app.client().post('/api/v1/auth/login', { tenant_slug: slug, email: `a@${slug}.example`, password: `${password}-no` });
      assertProblem(wrong, 401);
      const key = await suite.admin.client.post('/api/v1/api-keys', { name: `k-${uniq()}`, scope: 'read' });
      expectStatus(key, 201);
      for (const [name, res] of [
        ['signup', signup],
        ['login', ok],
        ['failed login', wrong],
        ['api key', key],
      ] as const) {
        assert.equal(res.headers.get('cache-control'), 'no-store', name);
      }
      assert.notEqual((await suite.admin.client.get('/api/v1/services')).headers.get('cache-control'), 'no-store');
    });

    it('sends HSTS when HSTS_MAX_AGE says the node is behind TLS', async () => {
      const tls = await startHttpApp({ http: { ...HTTP_DEFAULTS, hstsMaxAge: 31_536_000 } });
      try {
        assert.equal((await tls.client().get('/healthz')).headers.get('strict-transport-security'), 'max-age=31536000');
      } finally {
        await tls.close();
      }
    });

    it('guards /metrics with METRICS_TOKEN: 401 without it or with another, 200 with it', async () => {
      const token = `metrics-${randomBytes(16).toString('hex')}`;
      const guarded = await startHttpApp({ http: { ...HTTP_DEFAULTS, metricsToken: token } });
      try {
        for (const authorization of [undefined, 'Bearer wrong-token-of-some-length', `Bearer ${token}x`, `Basic ${token}`]) {
          const res = await guarded.client().get('/metrics', authorization ? { authorization } : {});
          assertProblem(res, 401);
          assert.doesNotMatch(res.text, /http_requests_total/);
        }
        const res = await guarded.client(token).get('/metrics');
        expectStatus(res, 200);
        assert.match(res.text, /^# TYPE http_requests_total counter$/m);
      } finally {
        await guarded.close();
      }
    });

    it('does not serve an unguarded /metrics in cluster mode (404)', async () => {
      const cluster = await startHttpApp({ mode: 'cluster' });
      try {
        assertProblem(await cluster.client().get('/metrics'), 404);
        expectStatus(await cluster.client().get('/healthz'), 200);
      } finally {
        await cluster.close();
      }
    });
  });
});
