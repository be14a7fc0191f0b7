// Black-box HTTP: the OpenAPI document against the routes really served, health and readiness,
// Prometheus metrics, and X-Request-Id on every response.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { dereference } from './support/openapi.js';
import type { TestApp } from './support/server.js';

const COLLECTIONS = [
  'teams',
  'people',
  'products',
  'services',
  'components',
  'resources',
  'repositories',
  'incidents',
  'scorecards',
  'dashboards',
  'users',
  'comments',
];

/** Every operation the REST API offers (auth, /me, each collection's CRUD and the rest), as OpenAPI paths. */
const EXPECTED_OPERATIONS: [string, string][] = [
  ['post', '/api/v1/auth/signup'],
  ['post', '/api/v1/auth/login'],
  ['post', '/api/v1/auth/refresh'],
  ['post', '/api/v1/auth/logout'],
  ['get', '/api/v1/me'],
  ['get', '/api/v1/tenant'],
  ['patch', '/api/v1/tenant'],
  ['get', '/api/v1/webhooks'],
  ['post', '/api/v1/webhooks'],
  ['get', '/api/v1/webhooks/{id}'],
  ['patch', '/api/v1/webhooks/{id}'],
  ['delete', '/api/v1/webhooks/{id}'],
  ['post', '/api/v1/webhooks/{id}/rotate-secret'],
  ['get', '/api/v1/webhooks/{id}/deliveries'],
  ['post', '/api/v1/webhooks/{id}/deliveries/{did}/redeliver'],
  ...COLLECTIONS.flatMap((c): [string, string][] => [
    ['get', `/api/v1/${c}`],
    ['post', `/api/v1/${c}`],
    ['get', `/api/v1/${c}/{id}`],
    ['patch', `/api/v1/${c}/{id}`],
    ['delete', `/api/v1/${c}/{id}`],
  ]),
  ...['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories', 'incidents', 'scorecards', 'dashboards'].map(
    (c): [string, string] => ['post', `/api/v1/${c}/{id}/restore`],
  ),
  ...['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories'].map((c): [string, string] => ['get', `/api/v1/${c}/{id}/history`]),
  ['get', '/api/v1/api-keys'],
  ['post', '/api/v1/api-keys'],
  ['delete', '/api/v1/api-keys/{id}'],
  ...['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories'].map((c): [string, string] => ['get', `/api/v1/${c}/{id}/graph`]),
  ...['products', 'services', 'components', 'resources', 'repositories'].map((c): [string, string] => ['get', `/api/v1/${c}/{id}/impact`]),
  ...['products', 'services', 'components', 'resources', 'repositories'].map((c): [string, string] => ['get', `/api/v1/${c}/facets`]),
  ['get', '/api/v1/search'],
  ['post', '/api/v1/import'],
  ['get', '/api/v1/export'],
  ['get', '/api/v1/services/{id}/permissions'],
  ['post', '/api/v1/services/{id}/permissions'],
  ['delete', '/api/v1/services/{id}/permissions/{grantId}'],
  ['post', '/api/v1/incidents/{id}/updates'],
  ['get', '/api/v1/scorecards/{id}/results'],
  ['post', '/api/v1/dashboards/{id}/widgets'],
  ['patch', '/api/v1/dashboards/{id}/widgets/{widgetId}'],
  ['delete', '/api/v1/dashboards/{id}/widgets/{widgetId}'],
  ['get', '/api/v1/dashboards/{id}/data'],
  ['post', '/api/v1/comments/{id}/resolve'],
  ['post', '/api/v1/comments/{id}/unresolve'],
  ['get', '/api/v1/audit-logs'],
  ['get', '/api/v1/events'],
];

describe('HTTP platform: OpenAPI, health, metrics, request ids', () => {
  let app: TestApp;
  let admin: Tenant;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
  });
  after(async () => {
    await app?.close();
  });

  describe('GET /api/v1/openapi.json', () => {
    let doc: any;

    before(async () => {
      const res = await app.client().get('/api/v1/openapi.json');
      expectStatus(res, 200);
      // Schemas are components now: the assertions below read them with every $ref resolved.
      doc = dereference(res.body);
    });

    it('is an OpenAPI 3 document with bearer security', () => {
      assert.match(doc.openapi, /^3\./);
      assert.ok(doc.info?.title);
      assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    });

    it('documents every route the API offers, including each collection’s list/create/read/update/delete', () => {
      const missing = EXPECTED_OPERATIONS.filter(([method, path]) => !doc.paths[path]?.[method]);
      assert.deepEqual(missing, [], 'undocumented operations');
    });

    it('describes request bodies and list parameters from the zod schemas', () => {
      const create = doc.paths['/api/v1/services'].post.requestBody.content['application/json'].schema;
      assert.ok(create.properties.name && create.properties.type, 'service create body has name and type');
      assert.ok(create.required.includes('name'));
      assert.equal(create.additionalProperties, false, 'unknown fields are refused, and documented as such');
      const params = doc.paths['/api/v1/services'].get.parameters.map((p: { name: string }) => p.name);
      for (const p of ['limit', 'cursor', 'sort', 'q', 'status', 'type', 'team_id', 'tag']) assert.ok(params.includes(p), `list parameter ${p}`);
      assert.ok(doc.paths['/api/v1/auth/login'].post.security?.length === 0, 'login needs no token');
    });

    it('documents only routes the app serves: every documented operation answers, none with "no route" or a 5xx', async () => {
      const fill = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());
      const problems: string[] = [];
      // Logout ends every session of its caller: a spare user's, so the admin's token keeps
      // reaching the routes (and not only the 401 in front of them) for the rest of the walk.
      const spare = await addMember(app, admin, 'viewer');
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        for (const method of Object.keys(ops)) {
          const url = fill(path);
          const caller = path === '/api/v1/auth/logout' ? spare.client : admin.client;
          const res = await caller.request(method.toUpperCase(), url, method === 'get' || method === 'delete' ? {} : { body: {} });
          if (res.status >= 500) problems.push(`${method} ${path}: ${res.status}`);
          if (res.status === 404 && /No route/i.test(res.body?.detail ?? '')) problems.push(`${method} ${path}: not served`);
        }
      }
      assert.deepEqual(problems, []);
    });
  });

  it('GET /healthz is 200', async () => {
    const res = await app.client().get('/healthz');
    expectStatus(res, 200);
    assert.equal(res.body.status, 'ok');
  });

  it('GET /readyz is 200 with checks.database true', async () => {
    const res = await app.client().get('/readyz');
    expectStatus(res, 200);
    assert.equal(res.body.checks.database, true);
  });

  it('GET /metrics exposes http_requests_total and db_pool_used in Prometheus text', async () => {
    await admin.client.get('/api/v1/services');
    const res = await app.client().get('/metrics');
    expectStatus(res, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(res.text, /^# TYPE http_requests_total counter$/m);
    assert.match(res.text, /^http_requests_total\{[^}]*route="\/api\/v1\/services"[^}]*status="200"[^}]*\} \d+$/m);
    assert.match(res.text, /^db_pool_used \d+$/m);
    assert.ok(!/route="\/api\/v1\/services\/[0-9a-f]{8}-/.test(res.text), 'routes are templates, not raw urls');
  });

  it('puts X-Request-Id on every response, echoing a sane one and replacing an unsafe one', async () => {
    const svc = await created(admin.client, '/api/v1/services', { name: `rid-${randomUUID().slice(0, 8)}`, type: 'api' });
    const probes: [string, () => Promise<{ status: number; headers: Headers }>][] = [
      ['healthz', () => app.client().get('/healthz')],
      ['readyz', () => app.client().get('/readyz')],
      ['metrics', () => app.client().get('/metrics')],
      ['openapi', () => app.client().get('/api/v1/openapi.json')],
      ['list', () => admin.client.get('/api/v1/services')],
      ['create', () => admin.client.post('/api/v1/teams', { name: `rid-${randomUUID().slice(0, 8)}` })],
      ['delete', () => admin.client.delete(`/api/v1/services/${svc.id}`)],
      ['401', () => app.client().get('/api/v1/services')],
      ['404 route', () => app.client().get('/nowhere')],
      ['404 id', () => admin.client.get(`/api/v1/services/${randomUUID()}`)],
      ['422', () => admin.client.post('/api/v1/services', { name: 1 })],
      ['400', () => admin.client.request('POST', '/api/v1/services', { raw: '{oops' })],
    ];
    for (const [name, probe] of probes) {
      const res = await probe();
      assert.ok(res.headers.get('x-request-id'), `${name} (${res.status}) carries X-Request-Id`);
    }
    const given = `req-${randomUUID()}`;
    for (const url of ['/healthz', '/api/v1/services', `/api/v1/services/${randomUUID()}`]) {
      const res = await admin.client.get(url, { 'x-request-id': given });
      assert.equal(res.headers.get('x-request-id'), given, `${url} echoes the given id`);
    }
    const unauth = await app.client().get('/api/v1/me', { 'x-request-id': given });
    assert.equal(unauth.headers.get('x-request-id'), given);
    const unsafe = await app.client().get('/healthz', { 'x-request-id': 'evil id <script>' });
    const replaced = unsafe.headers.get('x-request-id');
    assert.ok(replaced && replaced !== 'evil id <script>', 'an unsafe id is replaced');
  });
});
