// Co-editing on one node: stock y-websocket providers against a real app node over a
// real PostgreSQL: access and close codes, convergence, read-only clients, durability, projection
// into the entity row through the service, REST changes into the document, unloading.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { ChangeEvent } from '../src/platform/bus.js';
import type { CollabHandle } from '../src/platform/collab/server.js';
import {
  FAST_COLLAB,
  addMember,
  collabLog,
  testCollabOptions,
  createService,
  openEditor,
  projectionNotice,
  refusedWith,
  signupTenant,
  sleep,
  waitFor,
  type Editor,
  type Member,
  type TestTenant,
} from './support/collab-client.js';
import { startTestApp, type TestApp } from './support/server.js';

describe('co-editing on one node', function () {
  this.timeout(20_000);

  let app: TestApp;
  let collab: CollabHandle;
  let tenant: TestTenant;
  let editorB: Member;
  let viewer: Member;
  const published: ChangeEvent[] = [];
  /** Every Y.Doc the server loaded, weakly held. */
  const serverDocs: WeakRef<object>[] = [];
  const open: Editor[] = [];

  const room = (svc: { id: string }) => `services/${svc.id}`;
  const edit = async (token: string, svc: { id: string }) => {
    const e = await openEditor(app.url, room(svc), token);
    open.push(e);
    return e;
  };
  const knex = () => app.db.knex;
  const documentOf = (svc: { id: string }) =>
    knex()('collab_documents').where({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id }).first();
  const storedUpdates = async (svc: { id: string }) => {
    const doc = await documentOf(svc);
    return doc ? knex()('collab_updates').where('document_id', doc.id).orderBy('id') : [];
  };

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp({
      collab: testCollabOptions({ compactAfterUpdates: 40, onDocumentLoaded: (doc) => void serverDocs.push(new WeakRef(doc)) }),
    });
    collab = app.app.collab;
    app.app.domain.bus.subscribe((events) => published.push(...events));
    tenant = await signupTenant(app.url);
    editorB = await addMember(app.url, tenant, 'editor');
    viewer = await addMember(app.url, tenant, 'viewer');
  });

  afterEach(() => {
    for (const e of open.splice(0)) e.destroy();
  });

  after(async function () {
    this.timeout(30_000);
    await collab?.close();
    await app?.close();
  });

  it('refuses before the upgrade: 4401 without a valid token, 4404 for no such record, 4403 for a record that is not co-edited', async () => {
    const svc = await createService(tenant);
    assert.equal((await refusedWith(app.url, room(svc), undefined)).code, 4401);
    assert.equal((await refusedWith(app.url, room(svc), 'not-a-token')).code, 4401);
    assert.equal((await refusedWith(app.url, `services/${randomUUID()}`, tenant.admin.token)).code, 4404);
    assert.equal((await refusedWith(app.url, 'services/not-a-uuid', tenant.admin.token)).code, 4404);
    assert.equal((await refusedWith(app.url, `widgets/${svc.id}`, tenant.admin.token)).code, 4404);
    assert.equal((await refusedWith(app.url, `services/${svc.id}/extra`, tenant.admin.token)).code, 4404);
    assert.equal((await refusedWith(app.url, 'services/%E0%A4%A', tenant.admin.token)).code, 4404, 'a malformed escape');
    const other = await signupTenant(app.url);
    const foreign = await createService(other);
    assert.equal((await refusedWith(app.url, room(foreign), tenant.admin.token)).code, 4404, "another tenant's record");
    const deleted = await createService(tenant);
    assert.equal((await tenant.admin.client.delete(`/api/v1/services/${deleted.id}`)).status, 204);
    assert.equal((await refusedWith(app.url, room(deleted), tenant.admin.token)).code, 4404, 'a deleted record');
    const incident = await tenant.admin.client.post('/api/v1/incidents', { title: 'Down', severity: 'major' });
    assert.equal(incident.status, 201, incident.text);
    assert.equal((await refusedWith(app.url, `incidents/${incident.body.data.id}`, tenant.admin.token)).code, 4403);
    assert.equal(collab.connections(), 0);
  });

  it('starts a new document from the row', async () => {
    const svc = await createService(tenant, { description: 'From the row.', attributes: { protocol: 'grpc', sla: '99.9' }, tags: ['a', 'b'] });
    const a = await edit(tenant.admin.token, svc);
    assert.equal(a.fields.get('name'), svc.name);
    assert.equal(a.fields.get('type'), 'api');
    assert.equal(a.fields.get('status'), 'active');
    assert.deepEqual(a.fields.get('tags'), ['a', 'b']);
    assert.equal(a.description.toString(), 'From the row.');
    assert.deepEqual(a.attributes.toJSON(), { protocol: 'grpc', sla: '99.9' });
    assert.ok(!a.fields.has('component_ids'), 'relation lists are not document fields');
  });

  it('writes the row at most about once per maximum delay while an editor keeps typing (no echo loop)', async () => {
    const svc = await createService(tenant);
    const a = await edit(tenant.admin.token, svc);
    const before = published.length;
    // Type for 2 s, a keystroke every 20 ms: with a 100 ms debounce and a 500 ms maximum delay the
    // row is written about every 500 ms — not once per write-back echo.
    const started = Date.now();
    while (Date.now() - started < 2_000) {
      a.description.insert(a.description.length, 'x');
      await sleep(20);
    }
    await waitFor('the last keystrokes in the row', async () => {
      const row = await app.db.knex('services').where({ id: svc.id }).first();
      return row.description === a.description.toString();
    });
    const writes = published.slice(before).filter((e) => e.entity_id === svc.id && e.type === 'services.updated').length;
    assert.ok(writes >= 2 && writes <= 8, `expected a handful of row writes, got ${writes}`);
  });

  it('converges two editors on concurrent edits of description, fields and attributes; a late joiner gets the full state', async () => {
    const svc = await createService(tenant, { description: 'middle' });
    const a = await edit(tenant.admin.token, svc);
    const b = await edit(editorB.token, svc);
    // Concurrent: both edit before either sees the other's change.
    a.doc.transact(() => {
      a.description.insert(0, 'A-start ');
      a.fields.set('name', `${svc.name}-renamed`);
      a.attributes.set('protocol', 'grpc');
    });
    b.doc.transact(() => {
      b.description.insert(b.description.length, ' B-end');
      b.fields.set('status', 'deprecated');
      b.attributes.set('sla', '99.95');
    });
    const expected = {
      description: 'A-start middle B-end',
      fields: { name: `${svc.name}-renamed`, status: 'deprecated' },
      attributes: { protocol: 'grpc', sla: '99.95' },
    };
    const matches = (e: Editor) =>
      e.description.toString() === expected.description &&
      e.fields.get('name') === expected.fields.name &&
      e.fields.get('status') === expected.fields.status &&
      isDeepStrictEqual(e.attributes.toJSON(), expected.attributes); // key order follows the random Yjs client ids
    await waitFor('both editors to converge', () => matches(a) && matches(b));
    const late = await edit(viewer.token, svc);
    assert.ok(matches(late), 'the late joiner has the full state');
    assert.deepEqual(late.doc.getMap('fields').toJSON(), a.doc.getMap('fields').toJSON());
  });

  it('stores an update before relaying it', async () => {
    const svc = await createService(tenant);
    const a = await edit(tenant.admin.token, svc);
    const b = await edit(editorB.token, svc);
    const seenAt = new Promise<number>((resolve) => b.description.observe(() => resolve(Date.now())));
    a.description.insert(0, 'durable ');
    await seenAt;
    // The instant B has it, PostgreSQL has it: the relay comes after the insert committed.
    const rows = await storedUpdates(svc);
    assert.ok(
      rows.some((r) => r.actor_id === tenant.admin.id),
      'the update is in collab_updates with its author',
    );
  });

  it("drops a viewer's edits: they reach neither other clients nor storage", async () => {
    const svc = await createService(tenant, { description: 'shared' });
    const a = await edit(tenant.admin.token, svc);
    const v = await edit(viewer.token, svc);
    v.doc.transact(() => {
      v.description.insert(0, 'VIEWER ');
      v.fields.set('name', 'viewer-was-here');
      v.attributes.set('protocol', 'viewer');
    });
    // The viewer still receives: an editor's later edit reaches it, so its own had time to travel.
    a.fields.set('status', 'maintenance');
    await waitFor('the viewer to receive the editor’s edit', () => v.fields.get('status') === 'maintenance');
    await sleep(200);
    assert.equal(a.description.toString(), 'shared');
    assert.equal(a.fields.get('name'), svc.name);
    assert.equal(a.attributes.get('protocol'), 'https');
    const rows = await storedUpdates(svc);
    assert.ok(rows.length > 0 && rows.every((r) => r.actor_id !== viewer.id), 'nothing stored from the viewer');
    const fresh = await edit(editorB.token, svc);
    assert.equal(fresh.description.toString(), 'shared');
    await waitFor('the projection', async () => (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data.status === 'maintenance');
    const row = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
    assert.equal(row.name, svc.name);
    assert.equal(row.description, 'shared');
  });

  it('lets a viewer with an EDIT grant write, and closes the connection with 4403 when the grant is revoked', async () => {
    const svc = await createService(tenant);
    const grant = await tenant.admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: viewer.id, level: 'EDIT' });
    assert.equal(grant.status, 201, grant.text);
    const a = await edit(tenant.admin.token, svc);
    const v = await edit(viewer.token, svc);
    v.description.insert(0, 'granted ');
    await waitFor('the granted edit to reach the editor', () => a.description.toString().startsWith('granted '));
    const closed = new Promise<number>((resolve) => v.provider.on('connection-close', (e) => e && resolve(e.code)));
    assert.equal((await tenant.admin.client.delete(`/api/v1/services/${svc.id}/permissions/${grant.body.data.id}`)).status, 204);
    assert.equal(await closed, 4403);
  });

  it('closes the connections of a deactivated user with 4401', async () => {
    const svc = await createService(tenant);
    const member = await addMember(app.url, tenant, 'editor');
    const m = await edit(member.token, svc);
    const closed = new Promise<number>((resolve) => m.provider.on('connection-close', (e) => e && resolve(e.code)));
    const res = await tenant.admin.client.patch(`/api/v1/users/${member.id}`, { is_active: false });
    assert.equal(res.status, 200, res.text);
    assert.equal(await closed, 4401);
  });

  it('closes the login-token connections of a user who logs out with 4401 at once, and keeps their API key’s', async () => {
    const svc = await createService(tenant);
    const member = await addMember(app.url, tenant, 'admin');
    const key = await member.client.post('/api/v1/api-keys', { name: 'stays', scope: 'read_write' });
    assert.equal(key.status, 201, key.text);
    const byToken = await edit(member.token, svc);
    const byKey = await edit(key.body.data.key, svc);
    const closed = new Promise<number>((resolve) => byToken.provider.on('connection-close', (e) => e && resolve(e.code)));
    const started = Date.now();
    assert.equal((await member.client.post('/api/v1/auth/logout')).status, 204);
    assert.equal(await closed, 4401);
    // The logout's change event re-checks the user's connections; the periodic re-check (5 s) is only the fallback.
    assert.ok(Date.now() - started < 3_000, `closed after ${Date.now() - started} ms`);
    await sleep(300);
    assert.equal(byKey.provider.wsconnected, true, 'an API key is not a session');
    assert.equal((await refusedWith(app.url, room(svc), member.token)).code, 4401, 'the ended session cannot come back');
  });

  it('closes every connection of a deactivated tenant with 4401 at once, and no other tenant’s', async () => {
    const off = await signupTenant(app.url);
    const svc = await createService(off);
    const key = await off.admin.client.post('/api/v1/api-keys', { name: 'tenant-off', scope: 'read_write' });
    assert.equal(key.status, 201, key.text);
    const editors = [await edit(off.admin.token, svc), await edit(key.body.data.key, svc)];
    const bystander = await edit(tenant.admin.token, await createService(tenant));
    const closed = editors.map((e) => new Promise<number>((resolve) => e.provider.on('connection-close', (ev) => ev && resolve(ev.code))));
    const started = Date.now();
    const slug = (await knex()('tenants').where({ id: off.tenantId }).first()).slug as string;
    await app.app.domain.tenants.setActive(slug, false);
    assert.deepEqual(await Promise.all(closed), [4401, 4401]);
    assert.ok(Date.now() - started < 3_000, `closed after ${Date.now() - started} ms (the event, not the 5 s re-check)`);
    assert.equal(bystander.provider.wsconnected, true);
    assert.equal((await refusedWith(app.url, room(svc), off.admin.token)).code, 4401);
  });

  it('closes an API key’s connections with 4401 when the key is revoked, and a demoted writer’s with 4403', async () => {
    const svc = await createService(tenant);
    const key = await tenant.admin.client.post('/api/v1/api-keys', { name: 'robot', scope: 'read_write' });
    assert.equal(key.status, 201, key.text);
    const robot = await edit(key.body.data.key, svc);
    const other = await edit(tenant.admin.token, svc);
    robot.fields.set('status', 'planned');
    await waitFor('the key’s edit to reach others', () => other.fields.get('status') === 'planned');
    const robotClosed = new Promise<number>((resolve) => robot.provider.on('connection-close', (e) => e && resolve(e.code)));
    assert.equal((await tenant.admin.client.delete(`/api/v1/api-keys/${key.body.data.id}`)).status, 204);
    assert.equal(await robotClosed, 4401);

    const member = await addMember(app.url, tenant, 'editor');
    const m = await edit(member.token, svc);
    const memberClosed = new Promise<number>((resolve) => m.provider.on('connection-close', (e) => e && resolve(e.code)));
    assert.equal((await tenant.admin.client.patch(`/api/v1/users/${member.id}`, { role: 'viewer' })).status, 200);
    assert.equal(await memberClosed, 4403);
    assert.equal(other.provider.wsconnected, true, 'others stay connected');
  });

  it('projects co-edits into the row within the debounce bound: version bump, audit entry with every editor, change event', async () => {
    const svc = await createService(tenant);
    const a = await edit(tenant.admin.token, svc);
    const b = await edit(editorB.token, svc);
    const before = published.length;
    const seqBefore = published.filter((e) => e.tenant_id === tenant.tenantId).at(-1)?.seq ?? 0;
    const started = Date.now();
    a.fields.set('name', `${svc.name}-co`);
    b.description.insert(b.description.length, ' And a second.');
    b.attributes.set('sla', '99.9');
    const row = await waitFor('the co-edits in the row', async () => {
      const data = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
      return data.name === `${svc.name}-co` && data.description === 'The first line. And a second.' && data.attributes.sla === '99.9' && data;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < FAST_COLLAB.projectionMaxDelayMs! + 2_000, `projected after ${elapsed} ms`);
    assert.ok(row.row_version > svc.row_version);
    const events = published.slice(before).filter((e) => e.entity_id === svc.id);
    assert.ok(events.length >= 1 && events.every((e) => e.type === 'services.updated'));
    const changed = new Set(events.flatMap((e) => Object.keys(e.changes ?? {})));
    for (const f of ['name', 'description', 'attributes']) assert.ok(changed.has(f), `an event carries the ${f} change`);
    // The same events are in the tenant's change log (what live-event sockets resume from).
    const log = (await tenant.admin.client.get(`/api/v1/events?since=${seqBefore}&limit=100`)).body.data as ChangeEvent[];
    assert.deepEqual(
      log.filter((e) => e.entity_id === svc.id).map((e) => e.seq),
      events.map((e) => e.seq),
    );
    const audits = await knex()('audit_logs').where({ tenant_id: tenant.tenantId, entity_id: svc.id, action: 'update' });
    assert.ok(audits.length >= 1);
    const coActors = new Set(audits.flatMap((a) => (a.metadata.co_actors ?? []) as string[]));
    assert.ok(coActors.has(tenant.admin.id) && coActors.has(editorB.id), `co_actors: ${[...coActors].join(',')}`);
    assert.ok(
      audits.every((a) => [tenant.admin.id, editorB.id].includes(a.user_id)),
      'attributed to an editor',
    );
  });

  it('does not write an invalid state, tells the editors, and writes once it is fixed', async () => {
    const svc = await createService(tenant);
    const a = await edit(tenant.admin.token, svc);
    const before = published.length;
    a.fields.set('name', '');
    a.attributes.set('not_a_service_key', 'x');
    const notice = (await waitFor('an invalid-state notice', () => (projectionNotice(a)?.status === 'invalid' ? projectionNotice(a) : undefined)))!;
    const paths = (notice.errors ?? []).map((e) => e.path);
    assert.ok(paths.includes('name'), `errors name the field: ${JSON.stringify(notice)}`);
    assert.ok(notice.detail);
    const row = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
    assert.equal(row.name, svc.name);
    assert.equal(row.row_version, svc.row_version);
    assert.equal(published.slice(before).filter((e) => e.entity_id === svc.id).length, 0, 'no event for an invalid state');
    a.doc.transact(() => {
      a.fields.set('name', 'fixed-name');
      a.attributes.delete('not_a_service_key');
    });
    await waitFor('the ok notice', () => projectionNotice(a)?.status === 'ok');
    assert.equal((await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data.name, 'fixed-name');
  });

  it('applies a REST PATCH into connected documents without losing the editors’ other edits', async () => {
    const svc = await createService(tenant, { description: 'one two three' });
    const a = await edit(editorB.token, svc);
    const b = await edit(viewer.token, svc);
    a.fields.set('status', 'planned'); // an edit that is not in the row yet
    const res = await tenant.admin.client.patch(`/api/v1/services/${svc.id}`, {
      name: 'patched-by-rest',
      description: 'one 2 three',
      attributes: { protocol: 'http2' },
    });
    assert.equal(res.status, 200, res.text);
    for (const e of [a, b]) {
      await waitFor(
        'the REST change in the document',
        () => e.fields.get('name') === 'patched-by-rest' && e.description.toString() === 'one 2 three' && e.attributes.get('protocol') === 'http2',
      );
    }
    assert.equal(a.fields.get('status'), 'planned', 'the concurrent document edit survives');
    const row = await waitFor('the document edit in the row', async () => {
      const data = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
      return data.status === 'planned' && data;
    });
    assert.equal(row.name, 'patched-by-rest');
  });

  it('merges a REST change made while the document was unloaded into it when it loads again', async () => {
    const svc = await createService(tenant);
    const a = await edit(tenant.admin.token, svc);
    a.description.insert(0, 'typed ');
    await waitFor('projection', async () => (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data.description.startsWith('typed'));
    a.destroy();
    await waitFor('unload', () => collab.documentInfo(tenant.tenantId, 'services', svc.id) === null && collab.loadedDocuments() === 0);
    assert.equal((await tenant.admin.client.patch(`/api/v1/services/${svc.id}`, { name: 'renamed-offline' })).status, 200);
    const again = await edit(editorB.token, svc);
    assert.equal(again.fields.get('name'), 'renamed-offline');
    assert.equal(again.description.toString(), 'typed The first line.');
  });

  it('compacts the update log into a snapshot; loading is snapshot + later updates', async () => {
    const svc = await createService(tenant, { description: '' });
    const a = await edit(tenant.admin.token, svc);
    for (let i = 0; i < 60; i++) {
      a.description.insert(a.description.length, `${i % 10}`);
      await sleep(2);
    }
    const text = a.description.toString();
    await waitFor('compaction', async () => (await documentOf(svc)).snapshot_update_id > 0);
    assert.ok((await storedUpdates(svc)).length < 40, 'the log was folded into the snapshot');
    a.destroy();
    await waitFor('unload', () => collab.loadedDocuments() === 0);
    assert.equal((await storedUpdates(svc)).length, 0, 'unloading compacts the rest');
    const b = await edit(editorB.token, svc);
    assert.equal(b.description.toString(), text);
  });

  it('never lets a failed load overwrite stored state', async () => {
    const svc = await createService(tenant, { description: 'precious' });
    const a = await edit(tenant.admin.token, svc);
    a.description.insert(0, 'very ');
    await waitFor('projection', async () => (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data.description === 'very precious');
    a.destroy();
    await waitFor('unload', () => collab.loadedDocuments() === 0);
    const stored = await documentOf(svc);
    await knex()('collab_documents')
      .where('id', stored.id)
      .update({ snapshot: Buffer.from([0, 255, 1, 2, 3]) });
    const refused = await refusedWith(app.url, room(svc), tenant.admin.token);
    assert.equal(refused.code, 1011);
    assert.ok(
      collabLog.some((l) => l.includes('loading a co-editing document failed') && l.includes(svc.id)),
      'the failure is logged',
    );
    assert.equal(collab.loadedDocuments(), 0, 'no document kept after a failed load');
    assert.deepEqual((await documentOf(svc)).snapshot, Buffer.from([0, 255, 1, 2, 3]), 'stored state untouched');
    assert.equal((await storedUpdates(svc)).length, 0, 'nothing appended');
    const row = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
    assert.equal(row.description, 'very precious', 'the row was not projected from an empty document');
    await knex()('collab_documents').where('id', stored.id).update({ snapshot: stored.snapshot });
    const b = await edit(tenant.admin.token, svc);
    assert.equal(b.description.toString(), 'very precious');
  });

  it('unloads documents without connections: 1,000 opened and closed leave none in memory', async function () {
    this.timeout(40_000);
    const rows = Array.from({ length: 1000 }, (_, i) => ({ tenant_id: tenant.tenantId, name: `bulk-${i}-${randomUUID().slice(0, 6)}`, type: 'api' }));
    const ids: string[] = [];
    for (let i = 0; i < rows.length; i += 500) {
      ids.push(
        ...(
          await knex()('services')
            .insert(rows.slice(i, i + 500))
            .returning('id')
        ).map((r: { id: string }) => r.id),
      );
    }
    serverDocs.length = 0;
    const concurrency = 8; // each provider adds a process 'exit' listener; stay under the default 10
    let next = 0;
    let peak = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const e = await openEditor(app.url, `services/${id}`, tenant.admin.token, 10_000);
        peak = Math.max(peak, collab.loadedDocuments());
        e.destroy();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    assert.ok(peak > 0);
    await waitFor('every document to unload', () => collab.loadedDocuments() === 0 && collab.connections() === 0, 15_000, 50);
    const documents = await knex()('collab_documents').where('tenant_id', tenant.tenantId).whereIn('entity_id', ids).count<{ count: string }[]>('* as count');
    assert.equal(Number(documents[0].count), 1000, 'every document was stored');
    // Nothing holds on to an unloaded Y.Doc: after a full GC not one of the 1,000 is reachable.
    assert.equal(serverDocs.length, 1000);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    await waitFor(
      'the unloaded documents to be garbage-collected',
      async () => {
        gc();
        await sleep(10);
        return serverDocs.every((ref) => ref.deref() === undefined);
      },
      5_000,
      50,
    );
  });
});
