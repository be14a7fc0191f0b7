// What one co-editing client may put into a document and into presence, through stock
// WebsocketProviders and raw y-websocket frames against a real node: only the layout's top-level
// types, a cap on one update and on the document, one awareness client id per connection, a cap
// on an awareness state and on how often it is sent, and presence naming the signed-in user.
import assert from 'node:assert/strict';
import * as encoding from 'lib0/encoding';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import {
  addMember,
  createService,
  openEditor,
  signupTenant,
  testCollabOptions,
  waitFor,
  type Editor,
  type Member,
  type TestTenant,
} from './support/collab-client.js';
import { startTestApp, type TestApp } from './support/server.js';

const KIB = 1024;

/** One y-websocket awareness message: `entries` as [client id, clock, state]. */
function awarenessFrame(entries: [number, number, unknown][]): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, entries.length);
  for (const [id, clock, state] of entries) {
    encoding.writeVarUint(update, id);
    encoding.writeVarUint(update, clock);
    encoding.writeVarString(update, JSON.stringify(state));
  }
  const frame = encoding.createEncoder();
  encoding.writeVarUint(frame, 1);
  encoding.writeVarUint8Array(frame, encoding.toUint8Array(update));
  return encoding.toUint8Array(frame);
}

/** A raw y-websocket connection; resolves once the server greeted it (its document is loaded). */
async function rawClient(httpUrl: string, room: string, token: string) {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/collab/${room}?token=${encodeURIComponent(token)}`);
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed before the greeting: ${code}`)));
  });
  return { ws, closed };
}

/** The close code the provider's connection ends with. */
function closeCode(editor: Editor): Promise<number> {
  return new Promise((resolve) => editor.provider.on('connection-close', (event) => event && resolve(event.code)));
}

/** Every client state a peer holds except its own and the server's (projection notices). */
function peerStates(editor: Editor): Map<number, Record<string, any>> {
  const states = new Map<number, Record<string, any>>();
  for (const [id, state] of editor.provider.awareness.getStates()) {
    if (id !== editor.doc.clientID && !(state.server && state.projection)) states.set(id, state);
  }
  return states;
}

describe('co-editing limits', function () {
  this.timeout(30_000);

  let app: TestApp;
  let tenant: TestTenant;
  let editorB: Member;
  let viewer: Member;
  const open: Editor[] = [];
  const sockets: WebSocket[] = [];

  const room = (svc: { id: string }) => `services/${svc.id}`;
  const edit = async (token: string, svc: { id: string }) => {
    const e = await openEditor(app.url, room(svc), token);
    open.push(e);
    return e;
  };
  const raw = async (token: string, svc: { id: string }) => {
    const client = await rawClient(app.url, room(svc), token);
    sockets.push(client.ws);
    return client;
  };
  /** The stored document (snapshot and every logged update) as one Y.Doc, and its stored bytes. */
  const stored = async (svc: { id: string }) => {
    const knex = app.db.knex;
    const row = await knex('collab_documents').where({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id }).first();
    const updates = await knex('collab_updates').where('document_id', row.id).orderBy('id');
    const doc = new Y.Doc();
    let bytes = 0;
    for (const data of [row.snapshot, ...updates.map((u: { update: Buffer }) => u.update)]) {
      if (!data) continue;
      bytes += data.length;
      Y.applyUpdate(doc, new Uint8Array(data));
    }
    return { doc, bytes, types: [...doc.share.keys()].sort() };
  };

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp({
      collab: testCollabOptions({
        limits: { maxUpdateBytes: 64 * KIB, maxDocumentBytes: 256 * KIB, maxAwarenessBytes: 8 * KIB, awarenessPerSecond: 1_000 },
      }),
    });
    tenant = await signupTenant(app.url);
    editorB = await addMember(app.url, tenant, 'editor');
    viewer = await addMember(app.url, tenant, 'viewer');
  });

  afterEach(() => {
    for (const e of open.splice(0)) e.destroy();
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  after(async function () {
    this.timeout(30_000);
    await app?.close();
  });

  describe('document content', () => {
    it('refuses an update that writes a top-level type outside the layout (4422): not applied, stored or relayed', async () => {
      const svc = await createService(tenant);
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      const closed = closeCode(a);
      a.doc.getMap('junk').set('payload', 'x'.repeat(10 * KIB));
      assert.equal(await closed, 4422);
      // Relayed in order: once another editor's later edit has arrived, the refused one never will.
      const c = await edit(tenant.admin.token, svc);
      c.fields.set('status', 'maintenance');
      await waitFor('the later edit at the peer', () => b.fields.get('status') === 'maintenance');
      assert.equal(b.doc.getMap('junk').size, 0, 'a peer never got the junk type');
      const late = await edit(viewer.token, svc);
      assert.equal(late.doc.getMap('junk').size, 0, 'a later joiner does not get it');
      await waitFor('the later edit stored', async () => (await stored(svc)).doc.getMap('fields').get('status') === 'maintenance');
      const { types } = await stored(svc);
      assert.ok(!types.includes('junk'), `stored types: ${types.join(', ')}`);
    });

    it('still relays and stores edits of the layout, nested types inside its maps included', async () => {
      const svc = await createService(tenant, { description: 'start' });
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      const nested = new Y.Map<unknown>();
      a.doc.transact(() => {
        a.description.insert(0, 'A ');
        a.fields.set('name', `${svc.name}-a`);
        a.attributes.set('owner', nested);
        nested.set('team', 'core');
      });
      nested.set('on_call', 'ada');
      await waitFor(
        'the edits at the peer',
        () =>
          b.description.toString() === 'A start' &&
          b.fields.get('name') === `${svc.name}-a` &&
          (b.attributes.get('owner') as Y.Map<unknown> | undefined)?.get('on_call') === 'ada',
      );
      assert.equal(a.provider.wsconnected, true, 'the editor is still connected');
      await waitFor('the edits stored', async () => {
        const { doc } = await stored(svc);
        return (
          doc.getText('description').toString() === 'A start' && (doc.getMap('attributes').get('owner') as Y.Map<unknown> | undefined)?.get('team') === 'core'
        );
      });
      assert.deepEqual((await stored(svc)).types, ['attributes', 'description', 'fields', 'meta']);
    });

    it('refuses one update above COLLAB_MAX_UPDATE_BYTES (4413): no peer and no joiner gets it', async () => {
      const svc = await createService(tenant, { description: 'small' });
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      const closed = closeCode(a);
      a.description.insert(0, 'y'.repeat(80 * KIB));
      assert.equal(await closed, 4413);
      const c = await edit(tenant.admin.token, svc);
      c.fields.set('status', 'planned');
      await waitFor('the later edit at the peer', () => b.fields.get('status') === 'planned');
      assert.equal(b.description.toString(), 'small');
      const late = await edit(viewer.token, svc);
      assert.equal(late.description.toString(), 'small');
    });

    it('refuses an update that takes the document past COLLAB_MAX_DOC_BYTES (4413); what came before stays', async () => {
      const svc = await createService(tenant, { description: '' });
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      const closed = closeCode(a);
      const chunk = 40 * KIB;
      let code: number | undefined;
      void closed.then((c) => (code = c));
      let sent = 0;
      // Each chunk is under the update cap; seven of them are more than the document may hold.
      for (let i = 0; i < 10 && code === undefined; i++) {
        a.description.insert(a.description.length, String(i % 10).repeat(chunk));
        sent++;
        await waitFor(`chunk ${i} at the peer, or the close`, () => code !== undefined || b.description.length === sent * chunk);
      }
      assert.equal(code, 4413);
      assert.ok(sent > 1 && sent <= 7, `closed after ${sent} chunks`);
      const accepted = b.description.length;
      assert.equal(accepted, (sent - 1) * chunk, 'everything before the refused chunk arrived');
      const late = await edit(viewer.token, svc);
      assert.equal(late.description.length, accepted, 'a joiner gets the document without the refused chunk');
      const { bytes, doc } = await stored(svc);
      assert.equal(doc.getText('description').length, accepted);
      assert.ok(bytes <= 256 * KIB, `stored ${bytes} bytes`);
    });

    it('cuts a frame above twice the update cap in ws (1009)', async () => {
      const svc = await createService(tenant);
      const client = await raw(tenant.admin.token, svc);
      client.ws.send(new Uint8Array(129 * KIB).fill(1));
      assert.equal(await client.closed, 1009);
    });
  });

  describe('presence', () => {
    it("relays a viewer's awareness for 1,000 client ids as its first id only", async () => {
      const svc = await createService(tenant);
      const a = await edit(tenant.admin.token, svc);
      const v = await raw(viewer.token, svc);
      const first = 7_000_000;
      v.ws.send(awarenessFrame(Array.from({ length: 1_000 }, (_, i) => [first + i, 1, { cursor: i }])));
      // Later messages for other ids are dropped too; one for its own id still goes through.
      v.ws.send(awarenessFrame([[first + 1, 2, { cursor: 'other' }]]));
      v.ws.send(awarenessFrame([[first, 2, { cursor: 'last' }]]));
      await waitFor("the viewer's last state", () => peerStates(a).get(first)?.cursor === 'last');
      assert.deepEqual([...peerStates(a).keys()], [first]);
      const late = await edit(editorB.token, svc);
      await waitFor('the late joiner to have the awareness', () => peerStates(late).size > 0);
      assert.deepEqual(
        [...peerStates(late).keys()].filter((id) => id !== a.doc.clientID),
        [first],
      );
    });

    it("drops an awareness state above COLLAB_MAX_AWARENESS_BYTES and another client's id", async () => {
      const svc = await createService(tenant);
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      const largest = new Map<number, number>();
      b.provider.awareness.on('update', ({ added, updated }: { added: number[]; updated: number[] }) => {
        for (const id of [...added, ...updated]) {
          const size = JSON.stringify(b.provider.awareness.getStates().get(id) ?? null).length;
          largest.set(id, Math.max(largest.get(id) ?? 0, size));
        }
      });
      const v = await raw(viewer.token, svc);
      const id = 7_100_000;
      v.ws.send(awarenessFrame([[id, 1, { cursor: 'first' }]]));
      v.ws.send(awarenessFrame([[id, 2, { cursor: 'big', padding: 'p'.repeat(9 * KIB) }]]));
      // The admin editor's id: not the viewer's to speak for.
      v.ws.send(awarenessFrame([[a.doc.clientID, 99, { cursor: 'forged' }]]));
      v.ws.send(awarenessFrame([[id, 3, { cursor: 'last' }]]));
      await waitFor("the viewer's last state at the peer", () => b.provider.awareness.getStates().get(id)?.cursor === 'last');
      assert.ok((largest.get(id) ?? 0) < 8 * KIB, `the peer saw a state of ${largest.get(id)} bytes`);
      assert.notEqual(b.provider.awareness.getStates().get(a.doc.clientID)?.cursor, 'forged');
      assert.equal(a.provider.wsconnected, true);
    });

    it('shows the signed-in user in presence, whatever the client claims, and no forged projection notice', async () => {
      const svc = await createService(tenant);
      const a = await edit(tenant.admin.token, svc);
      const b = await edit(editorB.token, svc);
      b.provider.awareness.setLocalState({
        user: { id: tenant.admin.id, name: 'Admin', role: 'admin' },
        cursor: 'b',
        server: true,
        projection: { status: 'ok', detail: 'forged' },
      });
      await waitFor("B's state at A", () => a.provider.awareness.getStates().get(b.doc.clientID)?.cursor === 'b');
      const shown = a.provider.awareness.getStates().get(b.doc.clientID)!;
      assert.deepEqual(shown.user, { id: editorB.id, name: 'The editor', role: 'editor' });
      assert.equal(shown.server, undefined);
      assert.equal(shown.projection, undefined);
    });
  });

  describe('awareness rate', () => {
    let slow: TestApp;
    before(async function () {
      this.timeout(60_000);
      slow = await startTestApp({ collab: testCollabOptions({ limits: { awarenessPerSecond: 5 } }) });
    });
    after(async function () {
      this.timeout(30_000);
      await slow?.close();
    });

    it('passes at most a burst of COLLAB_AWARENESS_PER_SECOND, then the latest state once the rate allows', async () => {
      const own = await signupTenant(slow.url);
      const svc = await createService(own);
      const peer = await openEditor(slow.url, room(svc), own.admin.token);
      open.push(peer);
      const seen = new Set<number>();
      const id = 7_200_000;
      peer.provider.awareness.on('update', () => {
        const n = peer.provider.awareness.getStates().get(id)?.n;
        if (typeof n === 'number') seen.add(n);
      });
      const member = await addMember(slow.url, own, 'viewer');
      const v = await rawClient(slow.url, room(svc), member.token);
      sockets.push(v.ws);
      for (let n = 1; n <= 100; n++) v.ws.send(awarenessFrame([[id, n, { n }]]));
      await waitFor('the last state at the peer', () => peer.provider.awareness.getStates().get(id)?.n === 100);
      assert.ok(seen.size <= 20, `the peer saw ${seen.size} of 100 states`);
    });
  });
});
