// Black-box HTTP, issue 11 findings 8 and 9: a body nested deeper than the bound, or sent in a
// Content-Encoding it is not in, gets a 4xx naming the problem, never a 500; URL fields take http(s)
// only; __proto__, constructor and prototype keys are refused at any depth. Nothing refused is written.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { HTTP_DEFAULTS } from '../src/platform/config.js';
import {
  addMember,
  assertProblem,
  created,
  expectStatus,
  globalCounts,
  httpSuite,
  refusedWriteOf,
  signupTenant,
  startHttpApp,
  type Member,
} from './support/http-assertions.js';
import type { ApiResponse, TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);
/** `depth` nested objects, the outermost included: nest(1) is {}. */
const nest = (depth: number): string => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;

/** Any body, bytes included, with the headers given (and the token, when there is one). */
async function send(app: TestApp, url: string, body: Uint8Array | string, headers: Record<string, string>, token?: string): Promise<ApiResponse> {
  const res = await fetch(`${app.url}${url}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

describe('HTTP body bounds, URLs and reserved keys (issue 11: findings 8, 9)', () => {
  const suite = httpSuite();
  let editor: Member;
  let dashboardId: string;

  const refusedWrite = refusedWriteOf(
    () => suite.app,
    () => suite.admin,
  );

  before(async () => {
    editor = await addMember(suite.app, suite.admin, 'editor');
    dashboardId = (await created(suite.admin.client, '/api/v1/dashboards', { name: `deep-${uniq()}` })).id;
  });

  describe('JSON depth (finding 8)', () => {
    const widgets = () => `/api/v1/dashboards/${dashboardId}/widgets`;
    const widgetBody = (config: string) => `{"title":"w","widget_type":"list","config":${config}}`;

    it('refuses a widget config nested 5,000 and 40,000 deep with a 422 naming the bound, never a 500', async () => {
      for (const depth of [5_000, 40_000]) {
        await refusedWrite(
          () => suite.admin.client.request('POST', widgets(), { raw: widgetBody(nest(depth)) }),
          422,
          { path: 'config', detail: /deeper than 32 levels/ },
          ['widgets', 'dashboards'],
        );
      }
    });

    it('takes a body exactly 32 levels deep and refuses one 33 deep, at the path where it goes too deep', async () => {
      // The body is level 1, its config level 2: a config 31 deep makes a body 32 deep.
      const ok = await suite.admin.client.request('POST', widgets(), { raw: widgetBody(nest(31)) });
      expectStatus(ok, 201);
      const res = await refusedWrite(
        () => suite.admin.client.request('POST', widgets(), { raw: widgetBody(nest(32)) }),
        422,
        { path: `config${'.a'.repeat(31)}`, detail: /deeper than 32 levels/ },
        ['widgets'],
      );
      assert.equal(res.body.errors.length, 1);
    });

    it('bounds every body, arrays included, on public routes too', async () => {
      const deepArray = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      await refusedWrite(() => editor.client.request('POST', '/api/v1/services', { raw: `{"name":"n","type":"api","tags":${deepArray}}` }), 422, {
        path: 'tags',
        detail: /deeper than 32 levels/,
      });
      await refusedWrite(
        () => suite.admin.client.request('PATCH', `/api/v1/dashboards/${dashboardId}`, { raw: `{"widgets":[${widgetBody(nest(40))}]}` }),
        422,
        { path: 'widgets.0.config', detail: /deeper than 32 levels/ },
        ['widgets', 'dashboards'],
      );
      const before = await globalCounts(suite.app.db.knex);
      assertProblem(await suite.app.client().request('POST', '/api/v1/auth/signup', { raw: `{"tenant_name":${nest(50)}}` }), 422, {
        path: 'tenant_name',
        detail: /deeper than 32 levels/,
      });
      assert.deepEqual(await globalCounts(suite.app.db.knex), before);
    });

    it('honours a configured bound (BODY_MAX_DEPTH)', async () => {
      const shallow = await startHttpApp({ http: { ...HTTP_DEFAULTS, bodyMaxDepth: 4 } });
      try {
        const t = await signupTenant(shallow);
        const dash = await created(t.client, '/api/v1/dashboards', { name: 'd' });
        expectStatus(await t.client.request('POST', `/api/v1/dashboards/${dash.id}/widgets`, { raw: widgetBody(nest(3)) }), 201);
        assertProblem(await t.client.request('POST', `/api/v1/dashboards/${dash.id}/widgets`, { raw: widgetBody(nest(4)) }), 422, {
          path: 'config',
          detail: /deeper than 4 levels/,
        });
      } finally {
        await shallow.close();
      }
    });
  });

  describe('Content-Encoding (finding 8)', () => {
    const json = () => JSON.stringify({ name: `enc-${uniq()}`, type: 'api' });

    it('refuses a body that is not in the Content-Encoding it claims with 400, never a 500', async () => {
      const probes: [string, Uint8Array | string][] = [
        ['gzip', json()],
        ['gzip', gzipSync(json()).subarray(0, 20)],
        ['deflate', json()],
        ['br', Buffer.from('not brotli at all, just some text that is long enough')],
        ['GZIP', 'garbage'],
      ];
      for (const [encoding, body] of probes) {
        await refusedWrite(() => send(suite.app, '/api/v1/services', body, { 'content-encoding': encoding }, editor.token), 400, {
          detail: /Content-Encoding/,
        });
      }
      // Public routes go through the same gate.
      const before = await globalCounts(suite.app.db.knex);
      assertProblem(await send(suite.app, '/api/v1/auth/login', '{"tenant_slug":"x"}', { 'content-encoding': 'gzip' }), 400);
      assert.deepEqual(await globalCounts(suite.app.db.knex), before);
    });

    it('refuses an encoding it does not support with 415', async () => {
      for (const encoding of ['compress', 'x-custom', 'gzip, br']) {
        await refusedWrite(() => send(suite.app, '/api/v1/services', json(), { 'content-encoding': encoding }, editor.token), 415, {
          detail: /Content-Encoding/,
        });
      }
    });

    it('takes gzip, deflate and br bodies that are what they say, and bounds their inflated size (413)', async () => {
      for (const [encoding, pack] of [
        ['gzip', gzipSync],
        ['deflate', deflateSync],
        ['br', brotliCompressSync],
      ] as const) {
        expectStatus(await send(suite.app, '/api/v1/services', pack(json()), { 'content-encoding': encoding }, editor.token), 201, encoding);
      }
      // 1 MiB of description from about a kilobyte on the wire.
      const bomb = gzipSync(JSON.stringify({ name: `bomb-${uniq()}`, type: 'api', description: 'x'.repeat(1024 * 1024) }));
      assert.ok(bomb.length < 8 * 1024);
      await refusedWrite(() => send(suite.app, '/api/v1/services', bomb, { 'content-encoding': 'gzip' }, editor.token), 413);
    });

    it('bounds a descriptor import at 1 MB after decoding, past the JSON bound, and refuses a bad encoding of it', async () => {
      const yaml = { 'content-type': 'application/yaml' };
      const group = (description: string) => `kind: Group\nmetadata:\n  name: big-${uniq()}\n  description: "${description}"\n`;
      // Past BODY_MAX_BYTES (256 KiB), under 1 MB: read (a dry run, to write nothing).
      const big = group('x'.repeat(512 * 1024));
      assert.ok(big.length > HTTP_DEFAULTS.bodyMaxBytes);
      const dry = await send(suite.app, '/api/v1/import?dry_run=true', gzipSync(big), { ...yaml, 'content-encoding': 'gzip' }, editor.token);
      expectStatus(dry, 200, 'a gzipped 512 KiB descriptor');
      const bomb = gzipSync(group('x'.repeat(1024 * 1024)));
      assert.ok(bomb.length < 8 * 1024);
      await refusedWrite(() => send(suite.app, '/api/v1/import', bomb, { ...yaml, 'content-encoding': 'gzip' }, editor.token), 413, {}, ['teams']);
      await refusedWrite(() => send(suite.app, '/api/v1/import', 'not gzip', { ...yaml, 'content-encoding': 'gzip' }, editor.token), 400, {}, ['teams']);
    });
  });

  describe('URLs and reserved keys (finding 9)', () => {
    const repos = '/api/v1/repositories';

    it('refuses a repository url that is not http(s) with 422 at url, on create and patch', async () => {
      const repo = await created(editor.client, repos, { name: `r-${uniq()}`, provider: 'github', url: 'https://github.com/acme/r' });
      for (const url of [
        'javascript:alert(1)',
        'JavaScript:alert(document.cookie)',
        'data:text/html,<script>alert(1)</script>',
        'vbscript:msgbox(1)',
        'file:///etc/passwd',
        'ftp://example.com/repo',
      ]) {
        await refusedWrite(() => editor.client.post(repos, { name: `r-${uniq()}`, provider: 'github', url }), 422, { path: 'url' }, ['repositories']);
        await refusedWrite(() => editor.client.patch(`${repos}/${repo.id}`, { url }), 422, { path: 'url' }, ['repositories']);
      }
      const after = await editor.client.get(`${repos}/${repo.id}`);
      assert.equal(after.body.data.url, 'https://github.com/acme/r');
      assert.equal(after.body.data.row_version, repo.row_version);
      expectStatus(await editor.client.patch(`${repos}/${repo.id}`, { url: 'http://git.internal.example:8080/acme/r' }), 200);
    });

    it('refuses __proto__, constructor and prototype keys in attributes with 422, leaving the stored attributes alone', async () => {
      const svc = await created(editor.client, '/api/v1/services', { name: `attr-${uniq()}`, type: 'api', attributes: { endpoint: 'https://keep' } });
      for (const key of ['__proto__', 'constructor', 'prototype']) {
        const raw = `{"name":"p-${uniq()}","type":"api","attributes":{"${key}":{"endpoint":"x"},"endpoint":"https://e"}}`;
        await refusedWrite(() => editor.client.request('POST', '/api/v1/services', { raw }), 422, { path: `attributes.${key}` });
        await refusedWrite(() => editor.client.request('PATCH', `/api/v1/services/${svc.id}`, { raw: `{"attributes":{"${key}":{"sla":"99"}}}` }), 422, {
          path: `attributes.${key}`,
        });
      }
      const row = await suite.app.db.knex('services').where({ id: svc.id }).first('attributes', 'row_version');
      assert.deepEqual(row.attributes, { endpoint: 'https://keep' });
      assert.equal(row.row_version, svc.row_version);
    });

    it('refuses them at any depth of a free-form config, and at the top of any body', async () => {
      const widgets = `/api/v1/dashboards/${dashboardId}/widgets`;
      for (const [config, path] of [
        ['{"view":{"columns":{"__proto__":{"isAdmin":true}}}}', 'config.view.columns.__proto__'],
        ['{"a":[1,{"constructor":{"prototype":{}}}]}', 'config.a.1.constructor'],
        ['{"prototype":1}', 'config.prototype'],
      ]) {
        await refusedWrite(() => suite.admin.client.request('POST', widgets, { raw: `{"title":"w","widget_type":"list","config":${config}}` }), 422, { path }, [
          'widgets',
        ]);
      }
      await refusedWrite(
        () => editor.client.request('POST', '/api/v1/services', { raw: `{"name":"top-${uniq()}","type":"api","__proto__":{"tenant_id":"${randomUUID()}"}}` }),
        422,
        { path: '__proto__' },
      );
    });
  });
});
