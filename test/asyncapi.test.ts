// GET /api/v1/asyncapi.json: the live-event and co-editing protocols as an AsyncAPI 3 document.
// It validates with the AsyncAPI parser, and it names everything the code can send: the events
// and close codes are found in src/ by the TypeScript checker (every Socket.IO emit, every
// `record()` of a change, every close code), so an event added without documentation fails here.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { io as ioClient, type Socket } from 'socket.io-client';
import ts from 'typescript';
import { CHANGE_EVENT_TYPES } from '../src/modules/changelog/event-types.js';
import type { z } from 'zod';
import { CLIENT_EVENTS, CONNECT_ERRORS, SERVER_EVENTS, connectErrorSchema, handshakeAuth } from '../src/platform/realtime/events.js';
import { changeMessageSchema } from '../src/platform/realtime/contract.js';
import { signupTenant, type Tenant } from './support/http-assertions.js';
import { startTestApp, type TestApp } from './support/server.js';
import { waitFor } from './support/live-events.js';

type Json = any;

const SRC = path.resolve('src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The string or number literals a type can be (a union of literals); null when it is wider. */
function literalsOf(type: ts.Type): Array<string | number> | null {
  const members = type.isUnion() ? type.types : [type];
  const out: Array<string | number> = [];
  for (const member of members) {
    if (member.isStringLiteral() || member.isNumberLiteral()) out.push(member.value);
    else return null;
  }
  return out;
}

interface Found {
  /** First arguments of Socket.IO `emit` calls: the events the server sends. */
  emitted: Set<string>;
  /** First arguments of Socket.IO `on` calls on a server socket: the events it handles. */
  handled: Set<string>;
  /** `<entityType>.<action>` of every `record({entityType, action})` call. */
  recorded: Set<string>;
  /** Close codes given to a co-editing connection: `close(code, …)`, `closeClients(code, …)`, `{code: …}`. */
  closeCodes: Set<number>;
  /** What could not be told statically (a `where: type` line each). */
  unknown: string[];
}

/** Walks src/ with the type checker. */
function scanSources(): Found {
  const files = sourceFiles(SRC);
  const config = ts.readConfigFile('tsconfig.json', (file) => ts.sys.readFile(file)).config;
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, process.cwd());
  const program = ts.createProgram(files, { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const found: Found = { emitted: new Set(), handled: new Set(), recorded: new Set(), closeCodes: new Set(), unknown: [] };
  const where = (node: ts.Node) => {
    const sf = node.getSourceFile();
    return `${path.relative(process.cwd(), sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  };
  const literals = (node: ts.Expression, what: string) => {
    // What is written wins over what it is cast to (`'x' as 'change'` emits 'x').
    let written: ts.Expression = node;
    while (ts.isAsExpression(written) || ts.isParenthesizedExpression(written) || ts.isTypeAssertionExpression(written) || ts.isSatisfiesExpression(written)) {
      written = written.expression;
    }
    if (ts.isStringLiteralLike(written)) return [written.text];
    if (ts.isNumericLiteral(written)) return [Number(written.text)];
    const values = literalsOf(checker.getTypeAtLocation(node));
    if (!values) found.unknown.push(`${where(node)} ${what}: ${checker.typeToString(checker.getTypeAtLocation(node))}`);
    return values ?? [];
  };
  const fromSocketIo = (call: ts.CallExpression) => {
    const declaration = checker.getResolvedSignature(call)?.getDeclaration();
    return !!declaration && /node_modules\/socket\.io\//.test(declaration.getSourceFile().fileName);
  };
  const collabFile = (file: string) => /src\/(platform\/collab|modules\/coediting)\/|src\/app\.ts$/.test(file);

  for (const sf of program.getSourceFiles()) {
    if (!sf.fileName.startsWith(SRC)) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.arguments.length > 0) {
        const method = node.expression.name.text;
        const [first] = node.arguments;
        if (method === 'emit' && fromSocketIo(node)) for (const v of literals(first, 'emitted event')) found.emitted.add(String(v));
        if (method === 'on' && fromSocketIo(node)) for (const v of literals(first, 'handled event')) found.handled.add(String(v));
        if (method === 'record' && ts.isObjectLiteralExpression(first)) {
          const value = (name: string) => {
            const p = first.properties.find((q) => q.name && ts.isIdentifier(q.name) && q.name.text === name);
            if (p && ts.isPropertyAssignment(p)) return p.initializer;
            return p && ts.isShorthandPropertyAssignment(p) ? (p.name as ts.Expression) : undefined;
          };
          const entityType = value('entityType');
          const action = value('action');
          if (entityType && action) {
            const types = literals(entityType, 'recorded entityType');
            const actions = literals(action, 'recorded action');
            for (const t of types) for (const a of actions) found.recorded.add(`${t}.${a}`);
          }
        }
        if (collabFile(sf.fileName) && ['close', 'closeClients', 'refuseEarly'].includes(method)) {
          const values = literalsOf(checker.getTypeAtLocation(first));
          for (const v of values ?? []) if (typeof v === 'number') found.closeCodes.add(v);
        }
      }
      if (collabFile(sf.fileName) && ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'code') {
        for (const v of literalsOf(checker.getTypeAtLocation(node.initializer)) ?? []) if (typeof v === 'number' && v >= 1000) found.closeCodes.add(v);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

describe('AsyncAPI document (GET /api/v1/asyncapi.json)', () => {
  let app: TestApp;
  let tenant: Tenant;
  let doc: Json;
  let found: Found;

  before(async function () {
    // Type-checking src/ for the scan takes a few seconds, more on a busy machine.
    this.timeout(180_000);
    app = await startTestApp();
    tenant = await signupTenant(app);
    const res = await fetch(`${app.url}/api/v1/asyncapi.json`);
    assert.equal(res.status, 200, 'public, like openapi.json: no token');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    doc = await res.json();
    found = scanSources();
  });
  after(async () => {
    await app?.close();
  });

  /** Messages of the channel's operations with this action, by message id. */
  const messagesOf = (channel: string, action: 'send' | 'receive'): Json[] =>
    Object.values(doc.operations as Record<string, Json>)
      .filter((op) => op.action === action && op.channel.$ref === `#/channels/${channel}`)
      .flatMap((op) => op.messages.map((m: Json) => doc.components.messages[m.$ref.split('/').pop()]));

  it('is AsyncAPI 3 and validates with the AsyncAPI parser: 0 errors (warnings printed)', async () => {
    assert.equal(doc.asyncapi.split('.')[0], '3');
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
    const errors = diagnostics.filter((d) => Number(d.severity) === 0);
    const warnings = diagnostics.filter((d) => Number(d.severity) === 1);
    for (const d of warnings) console.log(`      AsyncAPI warning ${d.code}: ${d.message} at ${d.path.join('.')}`);
    console.log(
      `      AsyncAPI parser: ${errors.length} errors, ${warnings.length} warnings, ${diagnostics.length - errors.length - warnings.length} infos/hints`,
    );
    assert.deepEqual(
      errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
      [],
    );
    assert.ok(document, 'the parser returns a document');
    assert.deepEqual(
      document
        .channels()
        .all()
        .map((c) => c.address())
        .sort(),
      ['/collab/{entity_type}/{entity_id}', '/socket.io/'],
    );
  });

  it('names the host the client asked for, and only a well-formed one', async () => {
    assert.equal(doc.servers.node.host, new URL(app.url).host);
    assert.equal(doc.servers.node.protocol, 'ws');
    const askedAs = (host: string) =>
      new Promise<Json>((resolve, reject) => {
        const req = http.get(`${app.url}/api/v1/asyncapi.json`, { headers: { host } }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve(JSON.parse(body)));
        });
        req.on('error', reject);
      });
    assert.equal((await askedAs('inventory.example.com')).servers.node.host, 'inventory.example.com');
    assert.equal((await askedAs('a b/<c>')).servers.node.host, 'localhost:3000', 'a malformed Host is not echoed');
  });

  it('documents every event the server emits (every Socket.IO emit in src/), each with a schema', () => {
    assert.deepEqual(found.unknown, [], 'every emit, on and record names its event with a literal type');
    assert.ok(found.emitted.size >= 4, `found ${[...found.emitted].join(', ')}`);
    const sent = new Set(messagesOf('liveEvents', 'send').map((m) => m.name));
    for (const event of [...found.emitted, ...Object.keys(SERVER_EVENTS)]) {
      assert.ok(sent.has(event), `the server emits '${event}' but the document has no message for it`);
    }
    for (const m of messagesOf('liveEvents', 'send')) assert.equal(m.payload.type, 'object', m.name);
  });

  it('documents every event a socket handles (every socket.on in src/) with its ack', () => {
    const lifecycle = new Set(['disconnect', 'disconnecting', 'error', 'connection', 'connect']);
    const handled = [...found.handled].filter((e) => !lifecycle.has(e));
    assert.deepEqual(handled.sort(), Object.keys(CLIENT_EVENTS).sort());
    for (const event of handled) {
      const op = Object.values(doc.operations as Record<string, Json>).find(
        (o) => o.action === 'receive' && o.messages.some((m: Json) => m.$ref.endsWith(`/messages/${event}`)),
      );
      assert.ok(op, `no receive operation for '${event}'`);
      assert.ok(
        op.reply?.messages.some((m: Json) => m.$ref.endsWith(`/messages/${event}.ack`)),
        `'${event}' has no documented ack`,
      );
    }
  });

  it('documents every change event type a service records (every record() call in src/), one change message per entity type', () => {
    assert.ok(found.recorded.size > 40, `found ${found.recorded.size}`);
    const documented = new Set<string>();
    for (const m of messagesOf('liveEvents', 'send').filter((m) => m.name === 'change')) {
      for (const type of m.payload.properties.type.enum) documented.add(type);
    }
    for (const type of found.recorded) assert.ok(documented.has(type), `${type} is recorded but not documented`);
    for (const [entityType, entry] of Object.entries(CHANGE_EVENT_TYPES)) {
      for (const action of entry.actions) {
        assert.ok(found.recorded.has(`${entityType}.${action}`), `${entityType}.${action} is documented but nothing records it`);
      }
    }
    for (const type of ['incidents.status_changed', 'incidents.timeline_entry', 'services.restored', 'api_keys.deleted', 'tenants.updated']) {
      assert.ok(documented.has(type), type);
    }
  });

  it('documents the handshake with its auth, and every connect_error message', () => {
    const handshake = doc.components.messages.handshake;
    assert.deepEqual(Object.keys(handshake.payload.properties).sort(), ['since', 'token']);
    const connectError = doc.components.messages.connect_error;
    assert.deepEqual([...connectError.payload.properties.message.enum].sort(), Object.keys(CONNECT_ERRORS).sort());
    assert.ok(doc.operations.connect.security.length > 0);
  });

  it('documents /collab: its parameters, token, the y-websocket messages and every close code the code sends', () => {
    const channel = doc.channels.coediting;
    assert.ok(channel.parameters.entity_type.enum.includes('services'));
    assert.ok(!channel.parameters.entity_type.enum.includes('incidents'), 'incidents are not co-edited');
    assert.ok(channel.bindings.ws.query.properties.token);
    const names = new Set(Object.keys(channel.messages).map((id) => doc.components.messages[id].name));
    for (const name of ['sync-step-1', 'sync-step-2', 'update', 'awareness', 'query-awareness']) assert.ok(names.has(name), name);
    const documented = new Set(channel['x-close-codes'].map((c: Json) => c.code));
    assert.ok(found.closeCodes.size >= 12, `found ${[...found.closeCodes].join(', ')}`);
    for (const code of found.closeCodes) {
      assert.ok(documented.has(code), `close code ${code} is sent but not documented`);
      assert.match(channel.description, new RegExp(`- ${code}: `));
    }
    for (const code of [4401, 4403, 4404, 4413, 4422, 4429]) assert.ok(documented.has(code), String(code));
  });

  it('gives examples that the schemas they illustrate accept', () => {
    const schemaOf = (id: string, name: string): z.ZodType | undefined => {
      if (id === 'handshake') return handshakeAuth;
      if (id === 'connect_error') return connectErrorSchema;
      if (id.startsWith('change.')) return changeMessageSchema(id.slice('change.'.length), CHANGE_EVENT_TYPES[id.slice('change.'.length)]);
      if (id.endsWith('.ack')) return CLIENT_EVENTS[id.slice(0, -'.ack'.length) as keyof typeof CLIENT_EVENTS]?.ack;
      return (SERVER_EVENTS[name as keyof typeof SERVER_EVENTS] ?? CLIENT_EVENTS[name as keyof typeof CLIENT_EVENTS])?.payload;
    };
    let checked = 0;
    for (const [id, message] of Object.entries(doc.components.messages as Record<string, Json>)) {
      for (const example of message.examples ?? []) {
        const schema = schemaOf(id, message.name);
        assert.ok(schema, `no schema known for ${id}`);
        const parsed = schema.safeParse(example.payload);
        assert.ok(parsed.success, `${id} example ${example.name}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
        checked += 1;
      }
    }
    assert.ok(checked >= 10, `${checked} examples`);
  });

  it('describes what is really sent: live change events of several entity types match their documented schema exactly', async () => {
    const socket: Socket = ioClient(app.url, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: tenant.token } });
    const received: Json[] = [];
    socket.on('change', (e: Json) => received.push(e));
    try {
      await waitFor(() => socket.connected, 'the socket to connect');
      const service = await tenant.client.post('/api/v1/services', { name: `svc-${Date.now()}`, type: 'api' });
      assert.equal(service.status, 201);
      const id = service.body.data.id;
      assert.equal((await tenant.client.patch(`/api/v1/services/${id}`, { description: 'changed' })).status, 200);
      assert.equal((await tenant.client.delete(`/api/v1/services/${id}`)).status, 204);
      assert.equal((await tenant.client.post(`/api/v1/services/${id}/restore`)).status, 200);
      const incident = await tenant.client.post('/api/v1/incidents', {
        title: 'Down',
        severity: 'major',
        affected: [{ entity_type: 'services', entity_id: id }],
      });
      assert.equal(incident.status, 201, incident.text);
      const update = await tenant.client.post(`/api/v1/incidents/${incident.body.data.id}/updates`, { status: 'identified', message: 'Found it' });
      assert.equal(update.status, 201, update.text);
      const key = await tenant.client.post('/api/v1/api-keys', { name: `k-${Date.now()}`, scope: 'read' });
      assert.equal(key.status, 201);
      await waitFor(() => received.some((e) => e.type === 'api_keys.created'), 'the api key event');
    } finally {
      socket.close();
    }
    const types = new Set(received.map((e) => e.type));
    for (const type of [
      'services.created',
      'services.updated',
      'services.deleted',
      'services.restored',
      'incidents.created',
      'incidents.status_changed',
      'incidents.timeline_entry',
    ]) {
      assert.ok(types.has(type), `${type} among ${[...types].join(', ')}`);
    }
    for (const event of received) {
      const entry = CHANGE_EVENT_TYPES[event.entity_type];
      assert.ok(entry, `an event of an undocumented entity type: ${event.entity_type}`);
      const parsed = changeMessageSchema(event.entity_type, entry).strict().safeParse(event);
      assert.ok(parsed.success, `${event.type}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
    }
  });
});
