// The typed client in console/client is generated from the served OpenAPI document: the checked-in
// types must be exactly what that document generates now (run `npm run client:generate` after an
// API change), and the console's own code must typecheck against them (npm run typecheck). And the
// console's page and bundle as a node serves them (the browser suite is test/console.test.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONSOLE_OUT_DIR } from '../scripts/build-console.js';
import { CLIENT_TYPES_FILE, clientTypes } from '../scripts/generate-client.js';
import { CONSOLE_CSP } from '../src/platform/http/console.js';
import { startTestApp, type TestApp } from './support/server.js';

describe('the typed API client (console/client)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let served: { paths: Record<string, unknown> };

  before(async () => {
    t = await startTestApp();
    const res = await t.client().get('/api/v1/openapi.json');
    assert.equal(res.status, 200);
    served = res.body;
  });
  after(() => t.close());

  it('is what the served OpenAPI document generates (npm run client:generate when this fails)', async () => {
    const expected = await clientTypes(served);
    const checkedIn = readFileSync(CLIENT_TYPES_FILE, 'utf8');
    assert.ok(checkedIn === expected, 'console/client/schema.d.ts is stale: run `npm run client:generate` and commit it');
  });

  it('differs when the document does (the check above can fail)', async () => {
    const changed = structuredClone(served);
    changed.paths['/api/v1/not-served'] = { get: { operationId: 'notServed', responses: { 204: { description: 'No content' } } } };
    assert.notEqual(await clientTypes(changed), readFileSync(CLIENT_TYPES_FILE, 'utf8'));
  });
});

describe('the console, as every node serves it', function () {
  this.timeout(60_000);
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('serves the page at / under a policy that allows this origin only, and its bundle under /console', async () => {
    const page = await fetch(`${t.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /script-src 'self';/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe/);
    const html = await page.text();
    for (const asset of ['/console/main.js', '/console/main.css']) {
      assert.ok(html.includes(asset), asset);
      const res = await fetch(`${t.url}${asset}`);
      assert.equal(res.status, 200, asset);
      assert.equal((await res.arrayBuffer()).byteLength, statSync(path.join(CONSOLE_OUT_DIR, asset.slice('/console/'.length))).size);
      assert.ok(res.headers.get('etag'), `${asset}: revalidated by ETag`);
    }
  });

  it('answers 404 for any other name under /console, the build stamp and a path outside included', async () => {
    for (const name of ['nope.js', '.build-hash', 'index.html', '..%2Fpackage.json', '%2e%2e%2fpackage.json']) {
      const res = await fetch(`${t.url}/console/${name}`);
      assert.equal(res.status, 404, name);
      assert.match(res.headers.get('content-type') ?? '', /problem\+json/, name);
    }
  });

  it('answers 503 with a problem at / on a node whose console is not built', async () => {
    const express = (await import('express')).default;
    const { consoleRoutes } = await import('../src/platform/http/console.js');
    const { errorHandler } = await import('../src/platform/http/problem.js');
    const { quietLogger } = await import('./support/factories.js');
    const app = express();
    app.use(consoleRoutes({ dir: path.join(tmpdir(), `no-console-${process.pid}`) }).router);
    app.use(errorHandler(quietLogger));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      assert.equal(res.status, 503);
      assert.match((await res.json()).detail, /npm run build:console/);
    } finally {
      server.close();
    }
  });
});
