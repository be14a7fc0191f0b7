// The clients printed in README.md and docs/CO-EDITING.md, run as their readers run them: every
// code block marked `<!-- client: <file> -->` is written to that file (beside a node_modules link
// to the checkout's) and started with `node <file>` against a test node, with the URL, token and
// record id in the environment variables it reads. A change to the server or to the text that
// breaks a printed client fails here.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KINDS } from '../src/modules/catalog/kinds.js';
import { coeditingPorts } from '../src/ports.js';
import { addMember, createService, openEditor, signupTenant, testCollabOptions, waitFor, type Member, type TestTenant } from './support/collab-client.js';
import { holdHandshake } from './support/live-events.js';
import { startTestApp, type TestApp } from './support/server.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const readDoc = (file: string) => readFileSync(path.join(repo, file), 'utf8');

/** The code blocks marked `<!-- client: <file> -->` in a Markdown text, by file name. */
function markedClients(markdown: string): Map<string, string> {
  const clients = new Map<string, string>();
  for (const [, file, code] of markdown.matchAll(/<!-- client: ([\w.-]+) -->\n```js\n([\s\S]*?)\n```/g)) {
    assert.ok(!clients.has(file!), `${file} is marked twice`);
    clients.set(file!, `${code}\n`);
  }
  return clients;
}

/** One `node <file>` process of a documented client: its output by line, and its exit. */
class ClientRun {
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(dir: string, file: string, env: Record<string, string>) {
    const inherited = { ...process.env };
    for (const name of ['APP_URL', 'TOKEN', 'SINCE', 'SERVICE_ID', 'APPEND']) delete inherited[name];
    this.child = spawn(process.execPath, [file], { cwd: dir, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop()!;
        into.push(...lines);
      };
    };
    this.child.stdout!.on('data', collect(this.out));
    this.child.stderr!.on('data', collect(this.err));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The first stdout line that satisfies `test`, once it is printed. */
  async line(what: string, test: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    try {
      return (await waitFor(what, () => this.out.find(test), timeoutMs))!;
    } catch (err) {
      throw new Error(`${(err as Error).message}; the client printed:\n${[...this.out, ...this.err].join('\n')}`, { cause: err });
    }
  }

  /** The seqs of the `#<seq> <type> …` lines printed so far. */
  seqs(): number[] {
    return this.out.filter((l) => l.startsWith('#')).map((l) => Number(l.slice(1, l.indexOf(' '))));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

describe('the clients printed in the docs', function () {
  this.timeout(60_000);

  let app: TestApp;
  let tenant: TestTenant;
  let editor: Member;
  let dir: string;
  const runs: ClientRun[] = [];
  const readme = markedClients(readDoc('README.md'));
  const coediting = markedClients(readDoc('docs/CO-EDITING.md'));

  const run = (file: string, env: Record<string, string>) => {
    const r = new ClientRun(dir, file, { APP_URL: app.url, ...env });
    runs.push(r);
    return r;
  };

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp({ collab: testCollabOptions() });
    tenant = await signupTenant(app.url);
    editor = await addMember(app.url, tenant, 'editor');
    // As a reader runs them: files in a folder whose node_modules holds the project's packages.
    dir = mkdtempSync(path.join(os.tmpdir(), 'ail-doc-clients-'));
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    for (const [file, code] of [...readme, ...coediting]) writeFileSync(path.join(dir, file), code);
  });

  afterEach(async () => {
    await Promise.all(runs.splice(0).map((r) => r.stop()));
  });

  after(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('README.md and docs/CO-EDITING.md mark the clients this suite runs', () => {
    assert.deepEqual([...readme.keys()].sort(), ['co-edit.mjs', 'live-events.mjs']);
    assert.deepEqual([...coediting.keys()], ['dump-document.mjs']);
  });

  it('live-events.mjs replays from SINCE, prints the subscribed changes, and resumes after a reconnect from its last seq', async () => {
    const svc = await createService(tenant);
    const client = run('live-events.mjs', { TOKEN: tenant.admin.token, SINCE: '0' });
    await client.line('the first connection', (l) => l === 'connected (since 0)');
    await client.line('the replayed creation', (l) => l.includes(`services.created ${svc.id}`));
    await client.line('the subscribe ack', (l) => l === 'subscribed {"ok":true}');

    // After the ack only services and incidents are printed: the team, committed first, never is.
    const team = await editor.client.post('/api/v1/teams', { name: `readme-${Date.now()}` });
    assert.equal(team.status, 201, team.text);
    assert.equal((await editor.client.patch(`/api/v1/services/${svc.id}`, { description: 'first live' })).status, 200);
    await client.line('the live update', (l) => l.includes(`services.updated ${svc.id}`) && l.includes('first live'));
    assert.ok(!client.out.some((l) => l.includes(team.body.data.id)), 'a team event passed the subscription');

    // The connection drops; a write commits while the client cannot be connected (its handshake is
    // held); the client reconnects with the seq it printed last and gets the write once.
    const lastSeq = client.seqs().at(-1)!;
    const handshake = holdHandshake(app.app.domain.auth, tenant.admin.token);
    try {
      for (const socket of app.app.live.io.of('/').sockets.values()) socket.conn.close();
      await client.line('the disconnect', (l) => l === 'disconnected: transport close');
      await waitFor('the reconnection to be held', () => handshake.held(), 10_000);
      assert.equal((await editor.client.patch(`/api/v1/services/${svc.id}`, { description: 'missed while away' })).status, 200);
      handshake.release();
      await client.line('the reconnection with the last seq', (l) => l === `connected (since ${lastSeq})`);
      await client.line('the missed update', (l) => l.includes('missed while away'));
    } finally {
      handshake.restore();
    }
    assert.equal(client.out.filter((l) => l === 'subscribed {"ok":true}').length, 2, 'subscribed again after the reconnection');

    // Every seq printed once, in order, and every services event of the log among them.
    const printed = client.seqs();
    assert.ok(
      printed.every((seq, i) => i === 0 || seq > printed[i - 1]!),
      `seqs printed out of order or twice: ${printed.join(',')}`,
    );
    const log = await tenant.admin.client.get('/api/v1/events?since=0&limit=1000');
    const services = (log.body.data as { seq: number; entity_type: string }[]).filter((e) => e.entity_type === 'services').map((e) => e.seq);
    assert.ok(services.length >= 3);
    assert.deepEqual(
      services.filter((seq) => !printed.includes(seq)),
      [],
      'services events the client never printed',
    );
  });

  it('live-events.mjs stops with exit code 1 on a refused token', async () => {
    const client = run('live-events.mjs', { TOKEN: 'not-a-token' });
    assert.deepEqual(await client.exited, { code: 1, signal: null });
    assert.ok(client.err.includes('connect_error: unauthorized'), client.err.join('\n'));
  });

  it('co-edit.mjs prints the record, its edit reaches the row, and it prints REST writes, co-editors’ edits and projection notices', async () => {
    const svc = await createService(tenant, { description: 'The first line.' });
    const client = run('co-edit.mjs', { TOKEN: tenant.admin.token, SERVICE_ID: svc.id, APPEND: ' (edited from Node)' });
    await client.line('the synced record', (l) => l === `synced: ${JSON.stringify(svc.name)}, "The first line."`);
    await client.line('its own edit', (l) => l === 'description = "The first line. (edited from Node)"');
    await waitFor(
      'the edit in the row',
      async () => {
        const row = await editor.client.get(`/api/v1/services/${svc.id}`);
        return row.body.data.description === 'The first line. (edited from Node)';
      },
      10_000,
    );

    assert.equal((await editor.client.patch(`/api/v1/services/${svc.id}`, { name: 'renamed-over-rest' })).status, 200);
    await client.line('the REST write', (l) => l === 'fields.name = "renamed-over-rest"');

    const other = await openEditor(app.url, `services/${svc.id}`, editor.token);
    try {
      other.fields.set('name', '');
      await client.line('the co-editor’s edit', (l) => l === 'fields.name = ""');
      await client.line('the invalid-state notice', (l) => l.startsWith('projection: invalid'));
      other.fields.set('name', 'fixed-by-a-co-editor');
      await client.line('the ok notice', (l) => l === 'projection: ok');
    } finally {
      other.destroy();
    }
    assert.equal((await editor.client.get(`/api/v1/services/${svc.id}`)).body.data.name, 'fixed-by-a-co-editor');
  });

  it('co-edit.mjs stops with exit code 1 on 4401', async () => {
    const svc = await createService(tenant);
    const client = run('co-edit.mjs', { TOKEN: 'not-a-token', SERVICE_ID: svc.id });
    assert.deepEqual(await client.exited, { code: 1, signal: null });
    assert.ok(client.err.includes('refused: 4401 unauthorized'), client.err.join('\n'));
  });

  it('dump-document.mjs (docs/CO-EDITING.md) prints a synced document in the documented layout and exits', async () => {
    const svc = await createService(tenant, { description: 'Dumped.', attributes: { protocol: 'grpc' } });
    const client = run('dump-document.mjs', { TOKEN: editor.token, SERVICE_ID: svc.id });
    assert.deepEqual(await client.exited, { code: 0, signal: null }, client.err.join('\n'));
    const dumped = JSON.parse(client.out.join('\n')) as {
      fields: Record<string, unknown>;
      description: string;
      attributes: Record<string, unknown>;
      meta: Record<string, unknown>;
    };
    const layout = coeditingPorts(app.app.domain).layoutOf('services')!;
    assert.deepEqual(Object.keys(dumped.fields).sort(), [...layout.fields].sort());
    assert.equal(dumped.fields.name, svc.name);
    assert.equal(dumped.description, 'Dumped.');
    assert.deepEqual(dumped.attributes, { protocol: 'grpc' });
    assert.equal(dumped.meta.row_version, svc.row_version);
  });

  it('the layout table in docs/CO-EDITING.md is the layout every kind is served with', () => {
    const rows = [...readDoc('docs/CO-EDITING.md').matchAll(/^\| `(\w+)` \| ((?:`\w+`(?:, )?)+) \| (yes|no) \| (yes|no) \|$/gm)];
    const documented = Object.fromEntries(
      rows.map(([, kind, fields, description, attributes]) => [
        kind,
        {
          fields: fields!.split(', ').map((f) => f.replaceAll('`', '')),
          description: description === 'yes',
          attributes: attributes === 'yes',
        },
      ]),
    );
    const ports = coeditingPorts(app.app.domain);
    const kinds = Object.values(KINDS).map((k) => k.type);
    assert.deepEqual(Object.keys(documented), kinds);
    for (const kind of kinds) assert.deepEqual(documented[kind], ports.layoutOf(kind), kind);
    for (const kind of ['incidents', 'scorecards', 'dashboards']) assert.equal(ports.layoutOf(kind), null, `${kind} are not co-edited`);
  });
});
