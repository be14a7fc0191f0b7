// The OpenAPI document against the app that serves it: every route the Express router really
// serves (walked from a running node) has a documented operation with an operationId and a typed
// response; real answers of the API match their documented schemas (no undocumented field, no
// missing required one); the document passes `redocly lint` (recommended ruleset) with 0 problems;
// the headers, problems and security it promises are there; /docs serves Redoc from this node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { documentedOperations } from '../src/platform/http/openapi.js';
import { redocBundleFile } from '../src/platform/http/docs.js';
import { addMember, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { dereference } from './support/openapi.js';
import type { ApiResponse, TestApp } from './support/server.js';

type Json = any;

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string | string[];
}

/** Every METHOD path the Express app serves, walked from its router (mounted routers included). */
function servedRoutes(stack: Layer[], base = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    const at = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
    if (layer.route) {
      const full = `${base}${layer.route.path === '/' && base ? '' : layer.route.path}` || '/';
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method} ${full}`);
    } else if (layer.handle?.stack) {
      out.push(...servedRoutes(layer.handle.stack, `${base}${at}`));
    }
  }
  return [...new Set(out)];
}

const asOpenApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');

/** Whether a schema says what it holds: not `{}` nor a bare `{type: object}` without properties. */
function typed(schema: Json): boolean {
  if (!schema || typeof schema !== 'object') return false;
  if (schema.anyOf || schema.oneOf || schema.allOf) return [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])].every(typed);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('array')) return typed(schema.items);
  if (types.includes('object')) return Boolean(schema.properties && Object.keys(schema.properties).length) || typed(schema.additionalProperties);
  return types.some((t: unknown) => typeof t === 'string') || 'enum' in schema || 'const' in schema;
}

/**
 * Where a JSON value departs from a (dereferenced) schema: wrong type, a required field missing,
 * a field the schema does not name (objects with properties), an enum value it does not list.
 */
function mismatches(value: unknown, schema: Json, at = '$'): string[] {
  if (!schema || Object.keys(schema).length === 0) return [];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const fits = alternatives.map((s: Json) => mismatches(value, s, at));
    return fits.some((f: string[]) => f.length === 0) ? [] : [`${at}: fits none of ${alternatives.length} alternatives (${fits[0].join('; ')})`];
  }
  if ('const' in schema && value !== schema.const) return [`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`];
  const types: string[] = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (types.length && !types.includes(kind) && !(kind === 'integer' && types.includes('number'))) {
    return [`${at}: a ${kind}, documented as ${types.join(' | ')}`];
  }
  if (kind === 'array') return (value as unknown[]).flatMap((item, i) => mismatches(item, schema.items, `${at}[${i}]`));
  if (kind === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Json>;
    const out = (schema.required ?? []).filter((k: string) => !(k in obj)).map((k: string) => `${at}.${k}: required, missing`);
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) out.push(...mismatches(v, props[k], `${at}.${k}`));
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
        out.push(...mismatches(v, schema.additionalProperties, `${at}.${k}`));
      else if (schema.properties) out.push(`${at}.${k}: not documented`);
    }
    return out;
  }
  return [];
}

describe('OpenAPI: the document against the routes really served', function () {
  this.timeout(120_000);
  let app: TestApp;
  let admin: Tenant;
  let raw: Json;
  let doc: Json;
  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method, path: p, op })),
    );

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    const res = await app.client().get('/api/v1/openapi.json');
    expectStatus(res, 200);
    raw = res.body;
    doc = dereference(raw);
  });
  after(async () => {
    await app?.close();
  });

  it('documents every route the Express router serves, and serves every route it documents', () => {
    const served = servedRoutes((app.app.http as unknown as { router: { stack: Layer[] } }).router.stack).map((r) => {
      const [m, p] = r.split(' ');
      return `${m} ${asOpenApiPath(p)}`;
    });
    assert.ok(served.length >= 120, `${served.length} routes walked from the router`);
    const documented = operations().map(({ method, path: p }) => `${method} ${p}`);
    assert.deepEqual(
      served.filter((r) => !documented.includes(r)),
      [],
      'served, not documented',
    );
    assert.deepEqual(
      documented.filter((r) => !served.includes(r)),
      [],
      'documented, not served',
    );
    for (const r of ['get /healthz', 'get /readyz', 'get /metrics', 'get /docs', 'get /api/v1/openapi.json']) assert.ok(served.includes(r), r);
  });

  it('gives every operation a unique operationId, a summary, a description and a tag', () => {
    const ids = operations().map(({ op }) => op.operationId);
    assert.ok(
      ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)),
      'camelCase operationIds',
    );
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      'duplicate operationIds',
    );
    for (const { method, path: p, op } of operations()) {
      assert.ok(op.summary && op.description && op.tags?.length === 1, `${method} ${p}: summary, description, tag`);
    }
    const tags = new Set((raw.tags as { name: string; description: string }[]).filter((t) => t.description).map((t) => t.name));
    assert.ok(
      operations().every(({ op }) => tags.has(op.tags[0])),
      'every tag is declared with a description',
    );
  });

  it('types the success response of every operation: no bare object, `data` described field by field', () => {
    const untyped: string[] = [];
    for (const { method, path: p, op } of operations()) {
      const [status, response] = Object.entries(op.responses as Record<string, Json>).find(([s]) => /^2/.test(s))!;
      if (status === '204') continue;
      const [mediaType, content] = Object.entries(response.content as Record<string, Json>)[0];
      const schema = content.schema;
      if (mediaType === 'application/json' && p.startsWith('/api/v1/') && p !== '/api/v1/openapi.json' && p !== '/api/v1/asyncapi.json') {
        const data = schema.properties?.data;
        if (!typed(data) || !schema.required?.includes('data')) untyped.push(`${method} ${p}`);
      } else if (!typed(schema)) untyped.push(`${method} ${p} (${mediaType})`);
    }
    assert.deepEqual(untyped, []);
    assert.ok(Object.keys(raw.components.schemas).length >= 40, 'named component schemas');
    // Components are used by reference, not copied: the service's read shape appears once.
    assert.equal(
      raw.paths['/api/v1/services/{id}'].patch.responses['200'].content['application/json'].schema.properties.data.$ref,
      '#/components/schemas/Service',
    );
  });

  it('gives every request body an example its own zod schema accepts', () => {
    const withBody = documentedOperations().filter((op) => op.body);
    assert.ok(withBody.length >= 30, `${withBody.length} operations with a body`);
    for (const op of withBody) {
      const parsed = op.body!.safeParse(op.example);
      assert.ok(parsed.success, `${op.method} ${op.path}: example refused: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
      for (const type of op.bodyTypes ?? ['application/json']) {
        const served = doc.paths[asOpenApiPath(op.path)][op.method].requestBody.content[type];
        assert.deepEqual(served.example, op.example, `${op.method} ${op.path}: example served as ${type}`);
      }
    }
    // The descriptor import takes YAML only: its body is documented under each YAML media type.
    const importBody = doc.paths['/api/v1/import'].post.requestBody.content;
    assert.deepEqual(Object.keys(importBody).sort(), ['application/x-yaml', 'application/yaml', 'text/yaml']);
    assert.equal(importBody['application/yaml'].schema.type, 'string');
    assert.deepEqual(Object.keys(doc.paths['/api/v1/export'].get.responses['200'].content), ['application/yaml']);
  });

  it('documents the headers: X-Request-Id on every response, ETag, Location, If-Match, Idempotency-Key, Retry-After', () => {
    for (const { method, path: p, op } of operations()) {
      const where = `${method} ${p}`;
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (status !== '4XX') assert.ok(response.headers?.['X-Request-Id'], `${where} ${status}: X-Request-Id`);
        if (status === '429') assert.ok(response.headers?.['Retry-After'], `${where} 429: Retry-After`);
      }
      const names = ((op.parameters ?? []) as { name: string; in: string }[]).filter((x) => x.in === 'header').map((x) => x.name);
      const authenticatedPost = method === 'post' && op.security.length > 0 && !['/api/v1/auth/refresh', '/api/v1/auth/logout'].includes(p);
      assert.equal(names.includes('Idempotency-Key'), authenticatedPost, `${where}: Idempotency-Key`);
      if (op.responses['201']?.content && /^\/api\/v1\/[a-z-]+$/.test(p)) assert.ok(op.responses['201'].headers.Location, `${where}: Location`);
      if (op.responses['412']) assert.ok(names.includes('If-Match'), `${where}: a 412 comes with If-Match`);
    }
    const versioned = ['services', 'teams', 'incidents', 'scorecards', 'dashboards', 'comments', 'users'];
    for (const c of versioned) {
      const item = doc.paths[`/api/v1/${c}/{id}`];
      assert.ok(item.get.responses['200'].headers.ETag, `GET ${c}/{id}: ETag`);
      for (const m of ['patch', 'delete']) {
        if (c === 'users' && m === 'delete') continue;
        assert.ok(
          item[m].parameters.some((x: Json) => x.name === 'If-Match'),
          `${m.toUpperCase()} ${c}/{id}: If-Match`,
        );
        assert.ok(item[m].responses['412'], `${m.toUpperCase()} ${c}/{id}: 412`);
      }
    }
    assert.ok(doc.paths['/api/v1/auth/login'].post.responses['429'], 'login documents its rate limit');
  });

  it('documents the problems an operation can give as problem+json, and security per operation', () => {
    for (const { method, path: p, op } of operations()) {
      const where = `${method} ${p}`;
      for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
        if (!/^[45]\d\d$/.test(status) || p.startsWith('/healthz') || p.startsWith('/readyz')) continue;
        assert.ok(response.content?.['application/problem+json']?.schema?.properties?.title, `${where} ${status}: problem+json`);
      }
      assert.ok(Array.isArray(op.security), `${where}: security`);
      if (/\{\w+\}/.test(p)) assert.ok(op.responses['404'] && op.responses['400'], `${where}: 400 and 404 for its ids`);
      if (op.requestBody) assert.ok(op.responses['422'] && op.responses['413'] && op.responses['415'], `${where}: body problems`);
      if (op.security.length && p.startsWith('/api/v1/')) assert.ok(op.responses['401'] && op.responses['403'], `${where}: 401, 403`);
    }
    const publicOps = operations()
      .filter(({ op }) => op.security.length === 0)
      .map(({ method, path: p }) => `${method} ${p}`)
      .sort();
    assert.deepEqual(publicOps, [
      'get /',
      'get /api/v1/asyncapi.json',
      'get /api/v1/openapi.json',
      'get /console/{file}',
      'get /docs',
      'get /docs/redoc.standalone.js',
      'get /healthz',
      'get /readyz',
      'post /api/v1/auth/login',
      'post /api/v1/auth/signup',
    ]);
    assert.deepEqual(doc.paths['/api/v1/services'].get.security, [{ bearer: [] }, { apiKey: [] }]);
    assert.equal(raw.components.securitySchemes.apiKey.scheme, 'bearer');
    for (const name of ['limit', 'cursor']) {
      assert.ok(doc.paths['/api/v1/services'].get.parameters.find((x: Json) => x.name === name).description, `list parameter ${name} described`);
    }
    assert.match(raw.components.schemas.PageMeta.properties.total.description, /first page/);
  });

  it('passes redocly lint with the recommended ruleset: 0 errors, 0 warnings', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(raw));
      const run = spawnSync(
        process.execPath,
        [path.resolve('node_modules/@redocly/cli/bin/cli.js'), 'lint', '--config', path.resolve('redocly.yaml'), '--format', 'json', file],
        { encoding: 'utf8' },
      );
      const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; message: string }[];
      };
      assert.deepEqual(
        report.totals,
        { ...report.totals, errors: 0, warnings: 0 },
        report.problems
          .slice(0, 10)
          .map((x) => `${x.ruleId}: ${x.message}`)
          .join('\n'),
      );
      assert.equal(run.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers what it documents: real responses match their schemas field by field', async () => {
    const c = admin.client;
    const checked: string[] = [];
    const check = (res: ApiResponse, method: string, p: string) => {
      const op = doc.paths[p][method];
      const [status, response] = Object.entries(op.responses as Record<string, Json>).find(([s]) => /^2/.test(s))!;
      assert.equal(String(res.status), status, `${method} ${p}: ${res.status} ${res.text.slice(0, 300)}`);
      if (response.content) assert.deepEqual(mismatches(res.body, response.content['application/json'].schema), [], `${method} ${p}`);
      for (const header of Object.keys(response.headers ?? {})) {
        if (!header.startsWith('Idempotent-') && header !== 'Cache-Control') assert.ok(res.headers.get(header), `${method} ${p}: ${header} header`);
      }
      checked.push(`${method} ${p}`);
      return res.body?.data;
    };
    const u = () => randomUUID().slice(0, 8);
    const team = check(await c.post('/api/v1/teams', { name: `t-${u()}` }), 'post', '/api/v1/teams');
    const person = check(await c.post('/api/v1/people', { name: 'Ada', email: `${u()}@example.com`, team_id: team.id }), 'post', '/api/v1/people');
    const svc = check(
      await c.post('/api/v1/services', { name: `s-${u()}`, type: 'api', team_id: team.id, assignments: [{ person_id: person.id, role: 'owner' }] }),
      'post',
      '/api/v1/services',
    );
    await c.post('/api/v1/services', { name: `s-${u()}`, type: 'api', depends_on_service_ids: [svc.id] });
    check(await c.get(`/api/v1/services/${svc.id}`), 'get', '/api/v1/services/{id}');
    check(await c.get(`/api/v1/people/${person.id}`), 'get', '/api/v1/people/{id}');
    check(await c.get(`/api/v1/teams/${team.id}`), 'get', '/api/v1/teams/{id}');
    check(await c.get('/api/v1/services?limit=1'), 'get', '/api/v1/services');
    check(await c.patch(`/api/v1/services/${svc.id}`, { status: 'deprecated' }, { 'if-match': '"1"' }), 'patch', '/api/v1/services/{id}');
    check(await c.get(`/api/v1/services/${svc.id}/impact`), 'get', '/api/v1/services/{id}/impact');
    check(await c.get(`/api/v1/services/${svc.id}/graph?depth=2`), 'get', '/api/v1/services/{id}/graph');
    check(await c.get(`/api/v1/teams/${team.id}/graph?direction=in`), 'get', '/api/v1/teams/{id}/graph');
    check(await c.get(`/api/v1/people/${person.id}/graph?depth=5&direction=out`), 'get', '/api/v1/people/{id}/graph');
    const inc = check(
      await c.post('/api/v1/incidents', { title: 'Down', severity: 'major', affected: [{ entity_type: 'services', entity_id: svc.id }] }),
      'post',
      '/api/v1/incidents',
    );
    check(await c.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'identified', message: 'found it' }), 'post', '/api/v1/incidents/{id}/updates');
    check(await c.get('/api/v1/incidents'), 'get', '/api/v1/incidents');
    check(await c.delete(`/api/v1/incidents/${inc.id}`), 'delete', '/api/v1/incidents/{id}');
    check(await c.post(`/api/v1/incidents/${inc.id}/restore`), 'post', '/api/v1/incidents/{id}/restore');
    const sc = check(
      await c.post('/api/v1/scorecards', {
        name: `sc-${u()}`,
        entity_types: ['services'],
        criteria: [{ name: 'team', check_type: 'has_field', check_config: { field: 'team_id' } }],
      }),
      'post',
      '/api/v1/scorecards',
    );
    check(await c.get(`/api/v1/scorecards/${sc.id}/results`), 'get', '/api/v1/scorecards/{id}/results');
    check(await c.get('/api/v1/scorecards'), 'get', '/api/v1/scorecards');
    check(await c.get(`/api/v1/services/${svc.id}`), 'get', '/api/v1/services/{id}');
    const dash = check(
      await c.post('/api/v1/dashboards', { name: `d-${u()}`, filters: [{ filter_type: 'team', target_column: 'team_id' }] }),
      'post',
      '/api/v1/dashboards',
    );
    const widget = check(
      await c.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'n', widget_type: 'counter', layout: { x: 0, y: 0, w: 2, h: 2 } }),
      'post',
      '/api/v1/dashboards/{id}/widgets',
    );
    check(await c.patch(`/api/v1/dashboards/${dash.id}/widgets/${widget.id}`, { title: 'm' }), 'patch', '/api/v1/dashboards/{id}/widgets/{widgetId}');
    check(await c.get(`/api/v1/dashboards/${dash.id}`), 'get', '/api/v1/dashboards/{id}');
    check(await c.get('/api/v1/dashboards'), 'get', '/api/v1/dashboards');
    const board = (widget_type: string, config: Record<string, unknown>, source?: { source_entity_type: string; source_entity_id: string }) => ({
      title: widget_type,
      widget_type,
      config,
      ...source,
    });
    const allTypes = check(
      await c.post('/api/v1/dashboards', {
        name: `d-${u()}`,
        filters: [{ filter_type: 'team', target_column: 'team_id', config: { value: team.id } }],
        widgets: [
          board('counter', { entity_type: 'services' }),
          board('counter', {}, { source_entity_type: 'services', source_entity_id: svc.id }),
          board('list', { entity_type: 'incidents' }),
          board('list', { entity_type: 'services' }),
          board('status_board', { entity_type: 'services' }),
          board('chart', { entity_type: 'incidents', field: 'severity' }),
          board('timeline', { entity_type: 'incidents' }),
          board('scorecard', {}, { source_entity_type: 'scorecards', source_entity_id: sc.id }),
          board('chart', { entity_type: 'teams' }),
        ],
      }),
      'post',
      '/api/v1/dashboards',
    );
    check(await c.get(`/api/v1/dashboards/${allTypes.id}/data`), 'get', '/api/v1/dashboards/{id}/data');
    const viewer = await addMember(app, admin, 'viewer');
    check(await c.post(`/api/v1/services/${svc.id}/permissions`, { user_id: viewer.id, level: 'VIEW' }), 'post', '/api/v1/services/{id}/permissions');
    check(await c.get(`/api/v1/services/${svc.id}/permissions`), 'get', '/api/v1/services/{id}/permissions');
    const comment = check(await c.post('/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'hi' }), 'post', '/api/v1/comments');
    check(await c.post(`/api/v1/comments/${comment.id}/resolve`), 'post', '/api/v1/comments/{id}/resolve');
    check(await c.get(`/api/v1/comments?entity_type=services&entity_id=${svc.id}&include_resolved=true`), 'get', '/api/v1/comments');
    const user = check(await c.post('/api/v1/users', { email: `${u()}@example.com`, display_name: 'U', role: 'editor' }), 'post', '/api/v1/users');
    check(await c.patch(`/api/v1/users/${user.id}`, { display_name: 'V' }), 'patch', '/api/v1/users/{id}');
    check(await c.get('/api/v1/users'), 'get', '/api/v1/users');
    check(await c.get('/api/v1/me'), 'get', '/api/v1/me');
    check(await c.post('/api/v1/api-keys', { name: 'k', scope: 'read' }), 'post', '/api/v1/api-keys');
    check(await c.get('/api/v1/api-keys'), 'get', '/api/v1/api-keys');
    check(await c.get('/api/v1/audit-logs?limit=5'), 'get', '/api/v1/audit-logs');
    check(await c.get('/api/v1/events?limit=5'), 'get', '/api/v1/events');
    check(
      await app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: admin.email, password: admin.password }),
      'post',
      '/api/v1/auth/login',
    );
    check(await c.post('/api/v1/auth/refresh'), 'post', '/api/v1/auth/refresh');
    check(await app.client().get('/readyz'), 'get', '/readyz');
    check(await app.client().get('/healthz'), 'get', '/healthz');
    assert.ok(checked.length >= 40, `${checked.length} answers checked`);
  });

  it('finds an undocumented field or a wrong type in an answer (the check above can fail)', () => {
    const schema = doc.paths['/api/v1/me'].get.responses['200'].content['application/json'].schema;
    const me = { data: { user: null, tenant_id: randomUUID(), actor: { type: 'user', id: randomUUID(), role: 'admin', can_write: true } } };
    assert.ok(
      mismatches(me, schema).some((m) => m.startsWith('$.data.user')),
      'a null user is not what /me documents',
    );
    const extra = { ...me, data: { ...me.data, user: undefined, secret: 1 } };
    assert.ok(mismatches(JSON.parse(JSON.stringify(extra)), schema).some((m) => m === '$.data.secret: not documented'));
  });

  it('serves the same document from a second node in the same process (each schema named once)', async () => {
    const second = await startHttpApp();
    try {
      const res = await second.client().get('/api/v1/openapi.json');
      expectStatus(res, 200);
      assert.deepEqual(res.body, raw);
    } finally {
      await second.close();
    }
  });

  it('serves the API reference at /docs: Redoc from this node, no inline script, its own CSP', async () => {
    const res = await app.client().get('/docs');
    expectStatus(res, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.text, /<redoc spec-url="\/api\/v1\/openapi.json"><\/redoc>/);
    assert.match(res.text, /<script src="\/docs\/redoc.standalone.js"><\/script>/);
    assert.ok(![...res.text.matchAll(/<script\b([^>]*)>/g)].some(([, attrs]) => !/\bsrc=/.test(attrs)), 'no inline script');
    const csp = res.headers.get('content-security-policy') ?? '';
    const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
    assert.equal(scriptSrc.trim(), "'self'", csp);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /worker-src 'self' blob:/);

    const bundle = await fetch(`${app.url}/docs/redoc.standalone.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
    const text = await bundle.text();
    assert.equal(text, readFileSync(redocBundleFile()!, 'utf8'), 'the redoc package bundle, byte for byte');
    assert.ok(bundle.headers.get('x-request-id'));
    // The API's own responses keep the strict policy.
    assert.match((await app.client().get('/api/v1/openapi.json')).headers.get('content-security-policy') ?? '', /^default-src 'none'/);
  });
});
