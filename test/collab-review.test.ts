// Co-editing review fixes: malformed and oversize messages close only their sender (never the node),
// nothing reaches the row on behalf of someone who may not write it (never as the system), and
// revocations whose change event was lost still close sockets within the re-check bound.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { InProcessEventBus, type ChangeEvent, type ChangeListener, type EventBus } from '../src/platform/bus.js';
import { Attribution, changedPaths, parseContributor } from '../src/modules/coediting/attribution.js';
import {
  addMember,
  createService,
  openEditor,
  projectionNotice,
  signupTenant,
  sleep,
  testCollabOptions,
  waitFor,
  type Editor,
  type Member,
  type ServiceRow,
  type TestTenant,
} from './support/collab-client.js';
import { startTestApp, type TestApp } from './support/server.js';

/** Delivers every committed event except those that take access away: a Redis blip, made permanent. */
class LossyBus implements EventBus {
  private readonly inner = new InProcessEventBus();
  readonly dropped: ChangeEvent[] = [];
  private readonly lost = new Set(['api_keys', 'users', 'entity_permissions']);

  async publish(events: ChangeEvent[]): Promise<void> {
    this.dropped.push(...events.filter((e) => this.lost.has(e.entity_type)));
    await this.inner.publish(events.filter((e) => !this.lost.has(e.entity_type)));
  }

  subscribe(listener: ChangeListener): () => void {
    return this.inner.subscribe(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const collabUrl = (httpUrl: string, room: string, token: string) => `${httpUrl.replace(/^http/, 'ws')}/collab/${room}?token=${encodeURIComponent(token)}`;

/** A raw WebSocket client, with its close code and first message as promises (listened for from the start). */
function rawClient(httpUrl: string, room: string, token: string) {
  const ws = new WebSocket(collabUrl(httpUrl, room, token));
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const firstMessage = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed before open: ${code}`)));
  });
  return { ws, closed, firstMessage, opened };
}

const within = <T>(what: string, p: Promise<T>, ms = 5_000) =>
  Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }),
  ]);

describe('co-editing review fixes', function () {
  this.timeout(30_000);

  const open: Editor[] = [];
  const sockets: WebSocket[] = [];
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);

  const edit = async (url: string, svc: { id: string }, token: string) => {
    const e = await openEditor(url, `services/${svc.id}`, token);
    open.push(e);
    return e;
  };
  const raw = (url: string, svc: { id: string }, token: string) => {
    const client = rawClient(url, `services/${svc.id}`, token);
    sockets.push(client.ws);
    return client;
  };
  const closedWith = (e: Editor) => new Promise<number>((resolve) => e.provider.on('connection-close', (ev) => ev && resolve(ev.code)));

  before(() => {
    process.on('unhandledRejection', onRejection);
  });

  afterEach(() => {
    for (const e of open.splice(0)) e.destroy();
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  after(() => {
    process.off('unhandledRejection', onRejection);
  });

  describe('attribution', () => {
    it('names the top-level value a transaction changed, nested types included', () => {
      const doc = new Y.Doc();
      const seen: Set<string>[] = [];
      doc.on('afterTransaction', (tr: Y.Transaction) => void seen.push(changedPaths(doc, tr)));
      const nested = new Y.Map<unknown>();
      doc.transact(() => {
        doc.getMap('fields').set('name', 'x');
        doc.getMap('fields').set('tags', nested);
      });
      nested.set('inner', 1); // inside a value: still `fields.tags`
      doc.getText('description').insert(0, 'text');
      doc.getMap('attributes').set('sla', '99');
      doc.getMap('attributes').delete('sla');
      doc.getMap('meta').set('row_version', 2);
      doc.getMap('elsewhere').set('k', 1);
      assert.deepEqual(
        seen.map((p) => [...p].sort()),
        [['fields.name', 'fields.tags'], ['fields.tags'], ['description'], ['attributes.sla'], ['attributes.sla'], ['meta'], []],
      );
      doc.destroy();
    });

    it('keeps the latest touch per contributor and forgets only what a projection reconciled', () => {
      const a = new Attribution();
      a.note('user:a', ['description']);
      const mark = a.mark;
      a.note('user:b', ['description', 'fields.name']);
      a.note('user:a', ['description']);
      assert.deepEqual(
        a.touchers('description').map((t) => t.contributor),
        ['user:b', 'user:a'],
      );
      a.clearPaths(mark, ['description']);
      assert.deepEqual(
        a.touchers('description').map((t) => t.contributor),
        ['user:b', 'user:a'],
        'later touches stay',
      );
      a.clearPaths(a.mark, ['description']);
      assert.deepEqual(a.touchers('description'), []);
      assert.deepEqual([...a.contributors()], ['user:b']);
      const id = randomUUID();
      const key = randomUUID();
      assert.deepEqual(parseContributor(id), { key: `user:${id}`, userId: id, apiKeyId: null });
      assert.deepEqual(parseContributor(`key:${key}:${id}`), { key: `key:${key}:${id}`, userId: id, apiKeyId: key });
      assert.equal(parseContributor('system'), null);
      assert.equal(parseContributor(''), null);
    });
  });

  describe('hostile clients', () => {
    let app: TestApp;
    let tenant: TestTenant;
    let viewer: Member;

    before(async function () {
      this.timeout(60_000);
      app = await startTestApp({ collab: testCollabOptions() });
      tenant = await signupTenant(app.url);
      viewer = await addMember(app.url, tenant, 'viewer');
    });

    after(async function () {
      this.timeout(30_000);
      await app?.close();
    });

    /** Holds the record's collab_documents row uncommitted: the document cannot load until `release`. */
    async function holdDocumentLoad(svc: ServiceRow): Promise<{ release(): Promise<void> }> {
      const trx: Knex.Transaction = await app.db.knex.transaction();
      await trx('collab_documents').insert({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id });
      return { release: async () => void (await trx.rollback()) };
    }

    /** Another editor still syncs and its edits still travel: the node is fine. */
    async function nodeStillServes(svc: ServiceRow): Promise<void> {
      const a = await edit(app.url, svc, tenant.admin.token);
      const b = await edit(app.url, svc, viewer.token);
      a.fields.set('status', 'maintenance');
      await waitFor('an edit to reach the other editor', () => b.fields.get('status') === 'maintenance');
      assert.equal((await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).status, 200);
    }

    it('closes a client that sends a malformed sync, update or awareness message with 1007, and stays up', async () => {
      const svc = await createService(tenant);
      const bad: [string, number[], string][] = [
        ['a state vector that ends early', [0, 0, 1, 5], tenant.admin.token],
        ['a state vector with an out-of-range integer', [0, 0, 10, ...Array(10).fill(0xff)], tenant.admin.token],
        ['a state vector that is cut off after a client id', [0, 0, 3, 1, 1, 0x80], viewer.token],
        ['ten 0xff bytes', Array(10).fill(0xff), tenant.admin.token],
        ['an empty message', [], tenant.admin.token],
        ['a sync message without a step', [0], tenant.admin.token],
        ['an unknown sync step', [0, 7, 0], tenant.admin.token],
        ['a garbage update', [0, 2, 3, 1, 2, 3], tenant.admin.token],
        ['a garbage sync step 2', [0, 1, 3, 1, 2, 3], tenant.admin.token],
        ['a garbage awareness update', [1, 3, 1, 2, 3], viewer.token],
        ['an awareness state that is not JSON', [1, 5, 1, 5, 1, 1, 0x7b], viewer.token],
      ];
      for (const [what, bytes, token] of bad) {
        const client = raw(app.url, svc, token);
        await client.opened;
        await within(`${what}: the server's sync step 1`, client.firstMessage);
        client.ws.send(new Uint8Array(bytes));
        assert.equal(await within(`${what}: the close`, client.closed), 1007, what);
      }
      await nodeStillServes(svc);
      assert.deepEqual(rejections, [], 'no unhandled rejection');
    });

    it('closes a client whose malformed state vector was queued before the document loaded with 1007', async () => {
      const svc = await createService(tenant);
      const hold = await holdDocumentLoad(svc);
      const client = raw(app.url, svc, tenant.admin.token);
      try {
        await client.opened;
        client.ws.send(new Uint8Array([0, 0, 1, 5]));
        client.ws.send(new Uint8Array([0, 0, 10, ...Array(10).fill(0xff)]));
        await sleep(100);
      } finally {
        await hold.release();
      }
      assert.equal(await within('the close', client.closed), 1007);
      await nodeStillServes(svc);
      assert.deepEqual(rejections, [], 'no unhandled rejection');
    });

    it('refuses a message above 2 MiB with 1009', async () => {
      const svc = await createService(tenant);
      const client = raw(app.url, svc, tenant.admin.token);
      await client.opened;
      await within("the server's sync step 1", client.firstMessage);
      client.ws.send(new Uint8Array(3 * 1024 * 1024).fill(1));
      assert.equal(await within('the close', client.closed), 1009);
      await nodeStillServes(svc);
    });

    it('refuses more than 4 MiB sent before the document loaded with 1009', async () => {
      const svc = await createService(tenant);
      const hold = await holdDocumentLoad(svc);
      const client = raw(app.url, svc, viewer.token);
      let code: number;
      try {
        await client.opened;
        // Each message is under the 2 MiB frame limit; together they exceed the early-buffer cap.
        for (let i = 0; i < 3; i++) client.ws.send(new Uint8Array(1536 * 1024).fill(1));
        // Closed while the document is still loading: the cap does not wait for the load.
        code = await within('the close', client.closed);
      } finally {
        await hold.release();
      }
      assert.equal(code, 1009);
      await nodeStillServes(svc);
      await waitFor('the refused client to be gone', () => app.app.collab.connections() === 2);
    });
  });

  describe('write-back only on behalf of who may write, with lost revocation events', () => {
    let app: TestApp;
    let bus: LossyBus;
    let tenant: TestTenant;
    let editor: Member;
    const RECHECK_MS = 300;

    before(async function () {
      this.timeout(60_000);
      bus = new LossyBus();
      app = await startTestApp({
        bus,
        // Projection only when the document unloads or the row changes: a revocation can come in between.
        collab: testCollabOptions({ projectionDelayMs: 60_000, projectionMaxDelayMs: 60_000, accessRecheckMs: RECHECK_MS }),
      });
      tenant = await signupTenant(app.url);
      editor = await addMember(app.url, tenant, 'editor');
    });

    after(async function () {
      this.timeout(30_000);
      await app?.close();
    });

    const knex = () => app.db.knex;
    const row = async (svc: { id: string }) => (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
    const documentOf = (svc: { id: string }) =>
      knex()('collab_documents').where({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id }).first();
    const storedUpdates = async (svc: { id: string }) => {
      const doc = await documentOf(svc);
      return doc ? knex()('collab_updates').where('document_id', doc.id) : [];
    };
    const audits = (svc: { id: string }) => knex()('audit_logs').where({ tenant_id: tenant.tenantId, entity_id: svc.id }).orderBy('timestamp');
    const unloaded = () => waitFor('every document to unload', () => app.app.collab.loadedDocuments() === 0, 10_000);
    const grantEdit = async (svc: { id: string }, member: Member) => {
      const res = await tenant.admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: member.id, level: 'EDIT' });
      assert.equal(res.status, 201, res.text);
      return res.body.data.id as string;
    };
    const assertNoSystemWrites = async (svc: { id: string }) => {
      for (const a of await audits(svc)) {
        assert.notEqual(a.actor_type, 'system', `audit ${a.action} by the system`);
        assert.ok(a.user_id, `audit ${a.action} without a user`);
      }
    };

    it('never writes an edit whose author lost the grant before it was projected, not even after compaction and reload', async () => {
      const viewer = await addMember(app.url, tenant, 'viewer');
      const svc = await createService(tenant, { description: 'Original.' });
      const grant = await grantEdit(svc, viewer);
      const v = await edit(app.url, svc, viewer.token);
      v.description.insert(0, 'REFUSED ');
      await waitFor('the viewer’s edit in the log', async () => (await storedUpdates(svc)).some((u) => u.actor_id === viewer.id));
      assert.equal((await tenant.admin.client.delete(`/api/v1/services/${svc.id}/permissions/${grant}`)).status, 204);
      // Everyone leaves: the last projection, then compaction.
      for (const e of open.splice(0)) e.destroy();
      await unloaded();
      assert.equal((await storedUpdates(svc)).length, 0, 'the log was compacted');
      const again = await edit(app.url, svc, editor.token);
      assert.equal(again.description.toString(), 'Original.', 'the refused edit is gone from the document');
      again.fields.set('status', 'planned');
      for (const e of open.splice(0)) e.destroy();
      await unloaded();
      const data = await row(svc);
      assert.equal(data.description, 'Original.', 'the refused edit never reached the row');
      assert.equal(data.status, 'planned');
      await assertNoSystemWrites(svc);
      const updates = (await audits(svc)).filter((a) => a.action === 'update');
      assert.deepEqual(
        updates.map((a) => a.user_id),
        [editor.id],
      );
      assert.deepEqual(updates[0].metadata.co_actors, [editor.id]);
      assert.ok(!('description' in (updates[0].changes ?? {})));
    });

    it('does not write a refused edit under whoever edits next; it is reverted and the editors are told', async () => {
      const viewer = await addMember(app.url, tenant, 'viewer');
      const svc = await createService(tenant, { description: 'Original.' });
      const grant = await grantEdit(svc, viewer);
      const v = await edit(app.url, svc, viewer.token);
      const e = await edit(app.url, svc, editor.token);
      v.description.insert(0, 'REFUSED ');
      await waitFor('the viewer’s edit at the editor', () => e.description.toString() === 'REFUSED Original.');
      assert.equal((await tenant.admin.client.delete(`/api/v1/services/${svc.id}/permissions/${grant}`)).status, 204);
      v.destroy();
      e.fields.set('status', 'maintenance');
      e.attributes.set('sla', '99.9');
      await waitFor('the editor’s edits in the log', async () => (await storedUpdates(svc)).some((u) => u.actor_id === editor.id));
      // A REST write merges at once (no debounce): the projection runs while the editor is there.
      assert.equal((await tenant.admin.client.patch(`/api/v1/services/${svc.id}`, { tags: ['rest'] })).status, 200);
      const notice = (await waitFor('the forbidden notice', () => (projectionNotice(e)?.status === 'forbidden' ? projectionNotice(e) : undefined)))!;
      assert.deepEqual(
        notice.errors?.map((x) => x.path),
        ['description'],
      );
      await waitFor('the refused edit reverted in the document', () => e.description.toString() === 'Original.');
      const data = await waitFor('the editor’s edits in the row', async () => {
        const d = await row(svc);
        return d.status === 'maintenance' && d.attributes.sla === '99.9' && d;
      });
      assert.equal(data.description, 'Original.');
      assert.deepEqual(data.tags, ['rest']);
      await assertNoSystemWrites(svc);
      const projected = (await audits(svc)).filter((a) => a.action === 'update' && a.metadata.co_actors);
      assert.equal(projected.length, 1);
      assert.equal(projected[0].user_id, editor.id);
      assert.deepEqual(projected[0].metadata.co_actors, [editor.id]);
      for (const x of open.splice(0)) x.destroy();
      await unloaded();
      assert.equal((await row(svc)).description, 'Original.');
    });

    it('refuses (and reverts) a stored difference whose authors are unknown instead of writing it as the system', async () => {
      const svc = await createService(tenant, { description: 'Original.' });
      const first = await edit(app.url, svc, editor.token);
      first.destroy();
      open.splice(0);
      await unloaded();
      // A snapshot that folded an unprojected edit and kept no author (as compaction did before).
      const stored = await documentOf(svc);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, new Uint8Array(stored.snapshot));
      doc.getText('description').insert(0, 'ORPHAN ');
      await knex()('collab_documents')
        .where('id', stored.id)
        .update({ snapshot: Buffer.from(Y.encodeStateAsUpdate(doc)) });
      doc.destroy();
      const e = await edit(app.url, svc, editor.token);
      await waitFor('the orphaned edit reverted', () => e.description.toString() === 'Original.');
      await waitFor('the forbidden notice', () => projectionNotice(e)?.status === 'forbidden');
      const data = await row(svc);
      assert.equal(data.description, 'Original.');
      assert.equal(data.row_version, svc.row_version);
      await assertNoSystemWrites(svc);
    });

    it('keeps an unprojected draft’s authors in the log across an unload, and writes it on their behalf once valid', async () => {
      const svc = await createService(tenant, { description: 'Original.' });
      const second = await addMember(app.url, tenant, 'editor');
      const first = await edit(app.url, svc, editor.token);
      first.doc.transact(() => {
        first.fields.set('name', ''); // invalid: the whole draft waits
        first.description.insert(0, 'Drafted. ');
      });
      await waitFor('the draft in the log', async () => (await storedUpdates(svc)).some((u) => u.actor_id === editor.id));
      for (const x of open.splice(0)) x.destroy();
      await unloaded();
      assert.ok(
        (await storedUpdates(svc)).some((u) => u.actor_id === editor.id),
        'not folded: the log keeps the draft’s author',
      );
      assert.equal((await row(svc)).row_version, svc.row_version, 'nothing written');
      const e = await edit(app.url, svc, second.token);
      assert.equal(e.description.toString(), 'Drafted. Original.');
      await waitFor('the invalid notice', () => projectionNotice(e)?.status === 'invalid');
      e.fields.set('name', `${svc.name}-fixed`);
      for (const x of open.splice(0)) x.destroy();
      await unloaded();
      const data = await row(svc);
      assert.equal(data.name, `${svc.name}-fixed`);
      assert.equal(data.description, 'Drafted. Original.');
      assert.equal((await storedUpdates(svc)).length, 0, 'reconciled: folded');
      const [update] = (await audits(svc)).filter((a) => a.action === 'update');
      assert.equal(update.user_id, second.id, 'the latest contributor acts');
      assert.deepEqual(update.metadata.co_actors, [editor.id, second.id]);
    });

    it('closes a revoked API key’s connection within the re-check bound although the event was lost, and never writes its edits', async () => {
      const svc = await createService(tenant, { description: 'Original.' });
      const key = await tenant.admin.client.post('/api/v1/api-keys', { name: `robot-${randomUUID().slice(0, 6)}`, scope: 'read_write' });
      assert.equal(key.status, 201, key.text);
      const robot = await edit(app.url, svc, key.body.data.key);
      robot.description.insert(0, 'ROBOT ');
      await waitFor('the key’s edit in the log', async () => (await storedUpdates(svc)).length > 0);
      const closed = closedWith(robot);
      const revokedAt = Date.now();
      assert.equal((await tenant.admin.client.delete(`/api/v1/api-keys/${key.body.data.id}`)).status, 204);
      assert.ok(
        bus.dropped.some((ev) => ev.entity_type === 'api_keys' && ev.entity_id === key.body.data.id),
        'the event was lost',
      );
      assert.equal(await within('the key’s connection to be closed', closed, RECHECK_MS + 3_000), 4401);
      const elapsed = Date.now() - revokedAt;
      assert.ok(elapsed < RECHECK_MS + 2_000, `closed after ${elapsed} ms`);
      for (const x of open.splice(0)) x.destroy();
      await unloaded();
      // The key's owner is an admin who may write: the key itself is what was revoked.
      assert.equal((await row(svc)).description, 'Original.');
      assert.equal((await audits(svc)).filter((a) => a.action === 'update').length, 0);
      const again = await edit(app.url, svc, editor.token);
      assert.equal(again.description.toString(), 'Original.');
    });

    it('closes a writer whose grant was revoked with 4403 within the re-check bound although the event was lost', async () => {
      const viewer = await addMember(app.url, tenant, 'viewer');
      const svc = await createService(tenant);
      const grant = await grantEdit(svc, viewer);
      const v = await edit(app.url, svc, viewer.token);
      const reader = await edit(app.url, svc, (await addMember(app.url, tenant, 'viewer')).token);
      const closed = closedWith(v);
      assert.equal((await tenant.admin.client.delete(`/api/v1/services/${svc.id}/permissions/${grant}`)).status, 204);
      assert.ok(
        bus.dropped.some((e) => e.entity_type === 'entity_permissions' && e.action === 'deleted'),
        'the event was lost',
      );
      assert.equal(await within('the writer to be closed', closed, RECHECK_MS + 3_000), 4403);
      await sleep(RECHECK_MS * 2);
      assert.equal(reader.provider.wsconnected, true, 'a reader stays connected');
    });

    it('closes a deactivated user’s connection within the re-check bound although the event was lost', async () => {
      const svc = await createService(tenant);
      const member = await addMember(app.url, tenant, 'editor');
      const m = await edit(app.url, svc, member.token);
      const reader = await edit(app.url, svc, (await addMember(app.url, tenant, 'viewer')).token);
      const closed = closedWith(m);
      assert.equal((await tenant.admin.client.patch(`/api/v1/users/${member.id}`, { is_active: false })).status, 200);
      assert.ok(bus.dropped.some((ev) => ev.entity_type === 'users' && ev.entity_id === member.id));
      assert.equal(await within('the connection to be closed', closed, RECHECK_MS + 3_000), 4401);
      await sleep(RECHECK_MS * 2);
      assert.equal(reader.provider.wsconnected, true, 'others stay connected');
    });

    it('lets a writer whose access stands keep writing through the re-checks', async () => {
      const svc = await createService(tenant);
      const e = await edit(app.url, svc, editor.token);
      await sleep(RECHECK_MS * 3);
      assert.equal(e.provider.wsconnected, true);
      e.fields.set('name', `${svc.name}-kept`);
      for (const x of open.splice(0)) x.destroy();
      await unloaded();
      assert.equal((await row(svc)).name, `${svc.name}-kept`);
      await assertNoSystemWrites(svc);
    });
  });
});
