// Traces: `npm start`'s entry (src/main.ts) in a child process, with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an OTLP/HTTP receiver (JSON encoding) this test runs. A PATCH gives one trace holding
// the HTTP server span, the SQL spans and the write path's spans (transaction, append, publish and
// the Redis PUBLISH under it), and its request log line names that trace; an edit gives the co-editing spans; a `token` in a URL is never
// exported as it was sent.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { ConfigError, loadConfig } from '../src/platform/config.js';
import { openEditor, waitFor } from './support/collab-client.js';
import { rest, signup } from './support/live-events.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const MODULE_WATCH = fileURLToPath(new URL('./support/module-watch.mjs', import.meta.url));

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  scope: string;
  attributes: Record<string, unknown>;
}

const SERVER_KIND = 2;

function valueOf(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

/** An OTLP/HTTP traces receiver (JSON): every span it was sent, flattened. */
async function startReceiver(): Promise<{ url: string; spans: ExportedSpan[]; resources: Record<string, unknown>[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const resources: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: {
            resource?: { attributes?: { key: string; value: OtlpValue }[] };
            scopeSpans: {
              scope?: { name: string };
              spans: (Omit<ExportedSpan, 'attributes' | 'scope'> & { attributes?: { key: string; value: OtlpValue }[] })[];
            }[];
          }[];
        };
        for (const rs of body.resourceSpans) {
          resources.push(Object.fromEntries((rs.resource?.attributes ?? []).map((a) => [a.key, valueOf(a.value)])));
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                name: s.name,
                kind: s.kind,
                scope: ss.scope?.name ?? '',
                attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, valueOf(a.value)])),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, resources, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * `npm start` (tsx src/main.ts) as a cluster node; resolves with its URL once it listens. Every
 * OpenTelemetry module it resolves is listed in `watchFile` (test/support/module-watch.mjs).
 */
async function startMain(env: NodeJS.ProcessEnv, lines: Record<string, unknown>[], watchFile: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', MODULE_WATCH, MAIN], {
    env: { ...process.env, ...env, MODULE_WATCH_FILE: watchFile, MODULE_WATCH_PATTERN: '/node_modules/@opentelemetry/' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let buffered = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the node did not start in time:\n${stderr}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        lines.push(record);
        if (record.msg === 'listening' && typeof record.url === 'string') {
          clearTimeout(timer);
          resolve(record.url);
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the node exited (${code ?? signal}) before it listened:\n${stderr}`));
    });
  });
  return { url, child };
}

/** Every string an exported span carries in its attributes (arrays included). */
function strings(span: ExportedSpan): string[] {
  return Object.values(span.attributes)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter((v): v is string => typeof v === 'string');
}

describe('traces: OpenTelemetry over OTLP/HTTP', function () {
  requireRedis(this);
  this.timeout(120_000);

  let db: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let node: { url: string; child: ChildProcess };
  /** The same app without OTEL_EXPORTER_OTLP_ENDPOINT. */
  let untraced: { url: string; child: ChildProcess };
  let watchDir: string;
  const logLines: Record<string, unknown>[] = [];

  const trace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  /** The first exported span that matches, once there is one. */
  const spanWhere = async (what: string, match: (s: ExportedSpan) => boolean, timeoutMs = 15_000): Promise<ExportedSpan> => {
    const span = await waitFor(what, () => receiver.spans.find(match), timeoutMs);
    assert.ok(span);
    return span;
  };
  const ancestors = (span: ExportedSpan): ExportedSpan[] => {
    const chain: ExportedSpan[] = [];
    for (let at = span; at.parentSpanId;) {
      const parent = receiver.spans.find((s) => s.spanId === at.parentSpanId && s.traceId === at.traceId);
      if (!parent) break;
      chain.push(parent);
      at = parent;
    }
    return chain;
  };

  before(async function () {
    const redis = await getRedis();
    db = await createTestDatabase();
    receiver = await startReceiver();
    watchDir = await fs.mkdtemp(path.join(os.tmpdir(), 'appinventory-test-otel-'));
    const env = {
      DATABASE_URL: db.runtimeUrl,
      MIGRATION_DATABASE_URL: db.ownerUrl,
      REDIS_URL: redis!.url,
      JWT_SECRET: `tracing-test-secret-${randomUUID()}`,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    };
    [node, untraced] = await Promise.all([
      startMain(
        {
          ...env,
          NODE_ID: 'traced-node',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          // Export each batch soon after it ends, so the test waits less (what is exported is the same).
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
        logLines,
        path.join(watchDir, 'traced'),
      ),
      startMain({ ...env, NODE_ID: 'untraced-node', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, [], path.join(watchDir, 'untraced')),
    ]);
  });

  after(async function () {
    await Promise.all(
      [node, untraced].map(async (n) => {
        if (!n || n.child.exitCode !== null) return;
        const exited = new Promise((resolve) => n.child.once('exit', resolve));
        n.child.kill('SIGTERM');
        await exited;
      }),
    );
    await receiver?.close();
    await db?.drop();
    if (watchDir) await fs.rm(watchDir, { recursive: true, force: true });
  });

  it('loads nothing of the SDK or the instrumentations without an endpoint (the API alone, a no-op)', async () => {
    const admin = await signup(untraced.url);
    const created = await rest(untraced.url, 'POST', '/services', admin.token, { name: `off-${randomUUID().slice(0, 8)}`, type: 'api' });
    assert.equal((await rest(untraced.url, 'PATCH', `/services/${created.body.data.id}`, admin.token, { description: 'x' })).status, 200);
    const loaded = (file: string) => readFileSync(path.join(watchDir, file), 'utf8').split('\n').filter(Boolean);
    const packageOf = (url: string) => /\/node_modules\/(@opentelemetry\/[^/]+)\//.exec(url)?.[1];
    assert.deepEqual([...new Set(loaded('untraced').map(packageOf))], ['@opentelemetry/api']);
    // The same watch on the traced node sees the SDK and the instrumentations.
    const traced = new Set(loaded('traced').map(packageOf));
    for (const name of ['@opentelemetry/sdk-node', '@opentelemetry/instrumentation-http', '@opentelemetry/instrumentation-pg']) {
      assert.ok(traced.has(name), `${name} among ${[...traced].join(', ')}`);
    }
  });

  it('exports one trace per PATCH: the HTTP server span, Express, the SQL spans and the write path down to the Redis PUBLISH; its log line has the trace id', async () => {
    const admin = await signup(node.url);
    const created = await rest(node.url, 'POST', '/services', admin.token, { name: `svc-${randomUUID().slice(0, 8)}`, type: 'api' });
    assert.equal(created.status, 201);
    const marker = `written-value-${randomUUID()}`;
    const requestId = `trace-test-${randomUUID()}`;
    const patched = await fetch(`${node.url}/api/v1/services/${created.body.data.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ description: marker }),
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.headers.get('x-request-id'), requestId);

    const server = await spanWhere('the PATCH server span', (s) => s.kind === SERVER_KIND && s.attributes['http.request.method'] === 'PATCH');
    assert.equal(server.attributes['http.route'], '/api/v1/services/:id');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.parentSpanId, undefined, 'the server span is the root of its trace');

    const publish = await spanWhere('the publish span of the PATCH', (s) => s.traceId === server.traceId && s.name === 'write.publish');
    const redisPublish = await spanWhere('the Redis PUBLISH under it', (s) => s.parentSpanId === publish.spanId && /^publish$/i.test(s.name));
    assert.equal(redisPublish.scope, '@opentelemetry/instrumentation-ioredis');
    const spans = trace(server.traceId);
    const names = spans.map((s) => s.name);
    for (const name of ['write.transaction', 'write.append']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    assert.ok(ancestors(publish).includes(server), 'the publish span descends from the HTTP server span');

    const sql = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && typeof s.attributes['db.query.text'] === 'string');
    assert.ok(
      sql.some((s) => /FOR UPDATE/i.test(String(s.attributes['db.query.text']))),
      'the row lock',
    );
    const append = sql.find((s) => /INSERT INTO change_events/.test(String(s.attributes['db.query.text'])));
    assert.ok(append, 'the change-log append is a SQL span');
    assert.ok(
      ancestors(append).some((s) => s.name === 'write.append'),
      'under the append span',
    );
    assert.ok(
      spans.some((s) => s.scope === '@opentelemetry/instrumentation-express'),
      'Express middleware and route spans',
    );
    // The PATCH's statements are prepared ones run on knex's connection (platform/db.ts): pg sees
    // them, knex's runner does not. Its own queries (the sign-up's, the POST's) are knex spans.
    assert.ok(
      receiver.spans.some((s) => s.scope === '@opentelemetry/instrumentation-knex' && s.attributes['db.query.text']),
      'knex query spans',
    );
    // The append writes its rows as literals; a span keeps the statement's shape, never the values.
    for (const span of spans) for (const value of strings(span)) assert.ok(!value.includes(marker), `${span.name} carries a written value`);

    // The request's log line names the same trace (the pino instrumentation adds trace_id and span_id).
    const line = await waitFor('the PATCH request log line', () => logLines.find((l) => l.req_id === requestId));
    assert.ok(line);
    assert.equal(line.route, '/api/v1/services/:id');
    assert.equal(line.trace_id, server.traceId);
    assert.ok(
      spans.some((s) => s.spanId === line.span_id),
      `span_id ${String(line.span_id)} is a span of the trace`,
    );

    const resource = receiver.resources.find((r) => r['service.instance.id'] === 'traced-node');
    assert.equal(resource?.['service.name'], 'appinventory-live');
  });

  it('exports the co-editing spans: the update stored, then relayed, and the projection writing the row through the write path', async () => {
    const admin = await signup(node.url);
    const created = await rest(node.url, 'POST', '/services', admin.token, { name: `doc-${randomUUID().slice(0, 8)}`, type: 'api' });
    const editor = await openEditor(node.url, `services/${created.body.data.id}`, admin.token, 10_000);
    try {
      editor.description.insert(0, 'typed in the document ');
      const store = await spanWhere('a collab.store span', (s) => s.name === 'collab.store');
      const relay = await spanWhere('its collab.relay span', (s) => s.name === 'collab.relay' && s.parentSpanId === store.spanId);
      assert.equal(relay.traceId, store.traceId);
      assert.ok(
        trace(store.traceId).some(
          (s) => s.scope === '@opentelemetry/instrumentation-pg' && /INSERT INTO collab_updates/.test(String(s.attributes['db.query.text'])),
        ),
      );
      const projection = await spanWhere(
        'a collab.projection span that wrote the row',
        (s) => s.name === 'collab.projection' && trace(s.traceId).some((t) => t.name === 'write.publish'),
        20_000,
      );
      assert.equal(projection.attributes['appinventory.collab.document'], `services/${created.body.data.id}`);
      assert.ok(trace(projection.traceId).some((s) => s.name === 'write.transaction' && s.parentSpanId === projection.spanId));
    } finally {
      editor.destroy();
    }
  });

  it('never exports a token sent in a /collab or Socket.IO URL', async () => {
    const admin = await signup(node.url);
    const created = await rest(node.url, 'POST', '/services', admin.token, { name: `tok-${randomUUID().slice(0, 8)}`, type: 'api' });
    const collabSecret = `collab-secret-${randomUUID()}`;
    // A plain GET of a /collab URL (an HTTP span), and a real co-editing connection with the login token in its URL.
    await fetch(`${node.url}/collab/services/${created.body.data.id}?token=${collabSecret}&x=1`).then((r) => r.arrayBuffer());
    const editor = await openEditor(node.url, `services/${created.body.data.id}`, admin.token, 10_000);
    editor.destroy();
    // Socket.IO over long-polling first: its handshake requests are HTTP spans, with the token in the query.
    const socket = io(node.url, { auth: { token: admin.token }, query: { token: admin.token }, transports: ['polling'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    // A write while it is connected: the live event's emit is a Socket.IO span.
    const delivered = new Promise((resolve) => socket.once('change', resolve));
    assert.equal((await rest(node.url, 'POST', '/teams', admin.token, { name: `team-${randomUUID().slice(0, 8)}` })).status, 201);
    await delivered;
    socket.disconnect();
    await spanWhere('a Socket.IO emit span', (s) => s.scope === '@opentelemetry/instrumentation-socket.io');

    const collabGet = await spanWhere('the /collab GET span', (s) => s.kind === SERVER_KIND && String(s.attributes['url.path']).startsWith('/collab/'));
    assert.equal(collabGet.attributes['url.query'], 'token=[REDACTED]&x=1');
    const polling = await spanWhere('a Socket.IO polling span', (s) => s.kind === SERVER_KIND && s.attributes['url.path'] === '/socket.io/');
    assert.match(String(polling.attributes['url.query']), /(^|&)token=\[REDACTED\](&|$)/);
    for (const span of receiver.spans) {
      for (const value of strings(span)) {
        assert.ok(!value.includes(collabSecret), `${span.name} exports the /collab token: ${value}`);
        assert.ok(!value.includes(admin.token), `${span.name} exports a login token: ${value}`);
      }
    }
  });
});

describe('traces: configuration', () => {
  it('is off without an OTLP endpoint (or with OTEL_SDK_DISABLED=true), on with either endpoint variable', () => {
    assert.equal(loadConfig({}).tracing, undefined);
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing, undefined);
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing, undefined);
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing, {
      endpoint: 'http://collector:4318',
      protocol: 'http/protobuf',
      serviceName: 'appinventory-live',
    });
    assert.deepEqual(
      loadConfig({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/v1/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'inventory-eu',
      }).tracing,
      { endpoint: 'https://collector/v1/traces', protocol: 'http/json', serviceName: 'inventory-eu' },
    );
    // A service.name given as a resource attribute is left to the SDK.
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_RESOURCE_ATTRIBUTES: 'env=prod, service.name=inv' }).tracing, {
      endpoint: 'http://c:4318',
      protocol: 'http/protobuf',
    });
  });

  it('refuses an endpoint that is not an http(s) URL and a protocol other than OTLP over HTTP, naming the variable', () => {
    const issues = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.issues.map((i) => i.variable);
        throw err;
      }
      return [];
    };
    assert.deepEqual(issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), ['OTEL_EXPORTER_OTLP_ENDPOINT']);
    assert.deepEqual(issues({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }), ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
    assert.deepEqual(issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), ['OTEL_EXPORTER_OTLP_PROTOCOL']);
    assert.deepEqual(issues({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }), ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']);
  });
});
