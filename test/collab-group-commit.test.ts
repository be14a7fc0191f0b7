// Co-editing group commit: an update that arrives while no INSERT of its document is in flight is
// appended at once; the updates that arrive while one is in flight wait and go together in the next
// INSERT; nothing is relayed (to other clients or Redis) before it is stored, and relaying keeps the
// order of arrival. Pinned by behaviour, not timing: the storage's append is wrapped so that the
// test holds an INSERT open on a promise of its own. Then once through real clients.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import * as Y from 'yjs';
import { CLIENT, CollabDocument, type DocClient } from '../src/platform/collab/document.js';
import { readClientMessage } from '../src/platform/collab/protocol.js';
import { RELAY_UPDATE, type RedisRelay, type RelayMessage } from '../src/platform/collab/redis-relay.js';
import { CollabStorage, type PendingUpdate } from '../src/platform/collab/storage.js';
import { createService, openEditor, signupTenant, testCollabOptions, waitFor, type Editor } from './support/collab-client.js';
import { createTenant } from './support/factories.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { startTestApp, type TestApp } from './support/server.js';

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
/** Lets every pending callback and I/O completion of this turn run (no timer involved). */
const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

const gates: (() => void)[] = [];
/** A test-controlled gate: `held` until `open()` (or `fail()`); a failed test's gates open in `after`. */
function gate() {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const held = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  held.catch(() => {});
  gates.push(open);
  return { held, open, fail };
}

describe('co-editing group commit', function () {
  this.timeout(20_000);

  describe('one document, its append held open by the test', () => {
    let db: TestDatabase;
    let tenantId: string;
    const documents: CollabDocument[] = [];

    before(async function () {
      this.timeout(60_000);
      db = await createTestDatabase();
      tenantId = await createTenant(db.knex);
    });

    after(async () => {
      for (const open of gates.splice(0)) open();
      for (const d of documents.splice(0)) if (d.state !== 'closed') await d.unload().catch(() => {});
      await db?.drop();
    });

    /**
     * A loaded document over real PostgreSQL whose storage append is wrapped: every call is logged
     * (`append`, then `stored` once the real INSERT committed), and the call can be held open with
     * `holdNext(gate)`. Two fake clients (a, the author; b, who receives) and a fake relay log what
     * they are sent, in one event list with the appends.
     */
    async function setup() {
      const storage = new CollabStorage(db.knex);
      const events: string[] = [];
      const appends: string[][] = [];
      const names = new Map<string, string>();
      const nameOf = (u: Uint8Array) => names.get(hex(u)) ?? `?${hex(u).slice(0, 8)}`;
      let nextHold: Promise<void> | null = null;
      let failing: Error | null = null;
      const realAppend = storage.append.bind(storage);
      storage.append = async (documentId: string, updates: PendingUpdate[]) => {
        const batch = updates.map((u) => nameOf(u.update));
        appends.push(batch);
        events.push(`append ${batch.join(',')}`);
        const hold = nextHold;
        nextHold = null;
        if (hold) await hold;
        if (failing) throw failing;
        await realAppend(documentId, updates);
        events.push(`stored ${batch.join(',')}`);
      };

      const closed: { who: string; code: number }[] = [];
      const client = (who: string): DocClient => ({
        [CLIENT]: true,
        author: { id: null, tag: who },
        awarenessIds: new Set<number>(),
        send(message: Uint8Array) {
          const m = readClientMessage(message);
          if (m.type === 'update') events.push(`sent ${who} ${nameOf(m.update)}`);
        },
        close(code: number) {
          closed.push({ who, code });
        },
      });
      const relay = {
        subscribe: async () => {},
        unsubscribe: async () => {},
        publish: (_key: string, m: RelayMessage) => {
          if (m.kind === RELAY_UPDATE) events.push(`published ${nameOf(m.payload)}`);
        },
        claim: async () => true,
        release: async () => {},
      } as unknown as RedisRelay;

      let unloadRequested = 0;
      const address = { tenantId, entityType: 'services', entityId: randomUUID() };
      const document = new CollabDocument(`k-${randomUUID()}`, address, {
        storage,
        relay,
        logger: testCollabOptions().logger!, // captured, not printed
        options: { compactAfterUpdates: 10_000, compactIdleMs: 60_000, unloadDelayMs: 60_000 },
        createInitialState: async () => Y.encodeStateAsUpdate(new Y.Doc()),
        requestUnload: () => void unloadRequested++,
      });
      documents.push(document);
      await document.load();
      const a = client('a');
      const b = client('b');
      document.attach(a);
      document.attach(b);

      // The author's edits, one update each, named u0, u1, … in the order they are made.
      const source = new Y.Doc();
      const made: Uint8Array[] = [];
      source.on('update', (u: Uint8Array) => {
        names.set(hex(u), `u${made.length}`);
        made.push(u);
      });
      const edit = (text: string) => {
        source.getText('t').insert(source.getText('t').length, text);
        return made[made.length - 1];
      };
      /** What collab_updates holds for this document, by name, in id order. */
      const storedRows = async () => {
        const { id } = await db.knex('collab_documents').where({ tenant_id: tenantId, entity_type: 'services', entity_id: address.entityId }).first('id');
        const rows = await db.knex('collab_updates').where('document_id', id).orderBy('id');
        return rows.map((r: { update: Buffer }) => nameOf(new Uint8Array(r.update)));
      };
      return {
        document,
        a,
        b,
        events,
        appends,
        closed,
        edit,
        storedRows,
        /** Names the next update of the server's document (one the server makes itself). */
        nameNextServerUpdate(name: string) {
          document.doc.once('update', (u: Uint8Array) => void names.set(hex(u), name));
        },
        holdNext(g: { held: Promise<void> }) {
          nextHold = g.held;
        },
        failFromNowOn(err: Error) {
          failing = err;
        },
        get unloadRequested() {
          return unloadRequested;
        },
      };
    }

    it('appends an update at once when nothing is in flight: one INSERT of its own, no tick, no timer', async () => {
      const t = await setup();
      t.document.applyClientUpdate(t.a, t.edit('x'));
      // Called before this synchronous code ends: nothing waited for a tick, a timer or other updates.
      assert.deepEqual(t.appends, [['u0']]);
      await t.document.whenDurable();
      assert.deepEqual(t.events, ['append u0', 'stored u0', 'sent b u0', 'published u0']);
      assert.deepEqual(await t.storedRows(), ['u0']);

      // Idle again: the next single update is again written at once, on its own.
      t.document.applyClientUpdate(t.a, t.edit('y'));
      assert.deepEqual(t.appends, [['u0'], ['u1']]);
      await t.document.whenDurable();
      assert.deepEqual(await t.storedRows(), ['u0', 'u1']);
    });

    it('while one INSERT is in flight, the updates arriving meanwhile wait and go together in the next one; none is relayed before it is stored', async () => {
      const t = await setup();
      const first = gate();
      t.holdNext(first);
      t.document.applyClientUpdate(t.a, t.edit('a'));
      assert.deepEqual(t.appends, [['u0']], 'the first update is appended at once');

      for (const text of ['b', 'c', 'd', 'e']) {
        t.document.applyClientUpdate(t.a, t.edit(text));
        await turns(3); // arrivals spread over several turns of the event loop
      }
      let durable = false;
      void t.document.whenDurable().then(() => (durable = true));
      await turns();
      assert.deepEqual(t.appends, [['u0']], 'no second INSERT while the first is in flight');
      assert.deepEqual(t.events, ['append u0'], 'nothing sent or published while nothing is stored');
      assert.equal(durable, false, 'whenDurable waits for the held INSERT and the updates behind it');

      first.open();
      await t.document.whenDurable();
      assert.equal(durable, true);
      assert.deepEqual(t.appends, [['u0'], ['u1', 'u2', 'u3', 'u4']], 'exactly two INSERTs: the first update, then all the rest in arrival order');
      assert.deepEqual(
        t.events,
        [
          'append u0',
          'stored u0',
          'sent b u0',
          'published u0',
          'append u1,u2,u3,u4',
          'stored u1,u2,u3,u4',
          'sent b u1',
          'published u1',
          'sent b u2',
          'published u2',
          'sent b u3',
          'published u3',
          'sent b u4',
          'published u4',
        ],
        'each update relayed only after its INSERT committed, in the order of arrival; never back to its author',
      );
      assert.deepEqual(await t.storedRows(), ['u0', 'u1', 'u2', 'u3', 'u4']);
    });

    it('a server edit (no client) waits behind the INSERT in flight like any other update', async () => {
      const t = await setup();
      const first = gate();
      t.holdNext(first);
      t.document.applyClientUpdate(t.a, t.edit('a'));
      t.nameNextServerUpdate('server');
      t.document.doc.getMap('meta').set('k', 1); // the server's own origin: stored and relayed like a client's
      t.document.applyClientUpdate(t.a, t.edit('b'));
      await turns();
      assert.deepEqual(t.appends, [['u0']]);
      first.open();
      await t.document.whenDurable();
      assert.deepEqual(t.appends, [['u0'], ['server', 'u1']], 'arrival order kept');
      // The server's edit reaches both clients, the author's edit only the other one; all after the INSERT.
      assert.deepEqual(t.events, [
        'append u0',
        'stored u0',
        'sent b u0',
        'published u0',
        'append server,u1',
        'stored server,u1',
        'sent a server',
        'sent b server',
        'published server',
        'sent b u1',
        'published u1',
      ]);
    });

    it('failure handling is unchanged: the held INSERT keeps failing (retries), the waiting updates are never stored or relayed, the clients are closed with 1011', async function () {
      this.timeout(15_000);
      const t = await setup();
      const first = gate();
      t.holdNext(first);
      t.document.applyClientUpdate(t.a, t.edit('a'));
      t.document.applyClientUpdate(t.a, t.edit('b'));
      t.document.applyClientUpdate(t.a, t.edit('c'));
      t.failFromNowOn(new Error('database away'));
      first.open();
      await t.document.whenDurable(); // resolves once storage gave up
      assert.deepEqual(t.appends, [['u0'], ['u0'], ['u0'], ['u0']], 'the first batch tried 1 + 3 times; the waiting ones never');
      assert.ok(!t.events.some((e) => e.startsWith('sent ') || e.startsWith('published ') || e.startsWith('stored ')), t.events.join('\n'));
      assert.deepEqual(t.closed, [
        { who: 'a', code: 1011 },
        { who: 'b', code: 1011 },
      ]);
      assert.equal(t.document.state, 'failed');
      assert.equal(t.unloadRequested, 1);
      assert.deepEqual(await t.storedRows(), []);
    });
  });

  describe('through real clients', () => {
    let app: TestApp;
    const editors: Editor[] = [];

    before(async function () {
      this.timeout(60_000);
      app = await startTestApp({ collab: testCollabOptions() });
    });

    after(async function () {
      this.timeout(30_000);
      for (const e of editors.splice(0)) e.destroy();
      await app?.app.collab.close();
      await app?.close();
    });

    it('many edits from two providers: fewer INSERTs than updates, every edit converged and stored', async () => {
      const tenant = await signupTenant(app.url);
      const svc = await createService(tenant, { description: '', attributes: {} });
      const room = `services/${svc.id}`;
      const a = await openEditor(app.url, room, tenant.admin.token);
      const b = await openEditor(app.url, room, tenant.admin.token);
      editors.push(a, b);
      const { id: documentId } = await app.db
        .knex('collab_documents')
        .where({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id })
        .first('id');

      let inserts = 0;
      let rows = 0;
      const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
        if (!/^insert into "?collab_updates"?/i.test(q.sql) || q.bindings?.[0] !== documentId) return;
        inserts++;
        rows += (q.bindings![1] as unknown[]).length; // document_id, then the batch's updates and actors as arrays
      };
      (app.db.knex as Knex).on('query', onQuery);
      try {
        const perEditor = 100;
        for (let i = 0; i < perEditor; i++) {
          a.description.insert(0, 'a');
          b.attributes.set(`k${i}`, String(i));
        }
        const expectedText = 'a'.repeat(perEditor);
        await waitFor(
          'both editors converged',
          () =>
            a.description.toString() === expectedText &&
            b.description.toString() === expectedText &&
            a.attributes.size === perEditor &&
            b.attributes.size === perEditor,
          10_000,
        );
        // What PostgreSQL holds (snapshot plus log) is the whole document.
        const rebuilt = await waitFor(
          'every edit stored',
          async () => {
            const stored = await new CollabStorage(app.db.knex).read(documentId);
            const doc = new Y.Doc();
            if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
            for (const u of stored.updates) Y.applyUpdate(doc, u.update);
            return doc.getText('description').toString() === expectedText && doc.getMap('attributes').size === perEditor ? doc : null;
          },
          10_000,
        );
        assert.deepEqual(rebuilt?.getMap('attributes').toJSON(), a.attributes.toJSON());
        assert.ok(rows >= 2 * perEditor, `${rows} updates appended`);
        assert.ok(inserts < 2 * perEditor, `${inserts} INSERTs for ${rows} updates: updates arriving during an INSERT share the next one`);
      } finally {
        (app.db.knex as Knex).off('query', onQuery);
      }
    });
  });
});
