// Black-box HTTP: a record's history (`GET /<kind>/:id/history`) after REST writes, a grant and a
// real co-edit through stock y-websocket providers, read by a plain viewer and an admin; and the
// change log filtered by record (`GET /events?entity_type=&entity_id=`).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openEditor, testCollabOptions, waitFor, type Editor } from './support/collab-client.js';
import { addMember, assertProblem, expectStatus, signupTenant, walkPages, type Member, type Tenant } from './support/http-assertions.js';
import { startTestApp, type TestApp } from './support/server.js';
import { counted, isPrincipalRead } from './support/sql.js';

interface Entry {
  id: string;
  at: string;
  actor: { type: string; id: string | null; user_id: string | null; display_name: string | null };
  action: string;
  target: { entity_type: string; entity_id: string | null };
  changes: Record<string, { old: unknown; new: unknown }> | null;
  contributors: { id: string; display_name: string | null }[];
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
}

const uniq = () => randomUUID().slice(0, 8);

describe('record history and the change log by record', function () {
  this.timeout(60_000);
  let app: TestApp;
  let admin: Tenant;
  let stranger: Tenant;
  let editor: Member;
  let coEditor: Member;
  let viewer: Member;
  let grantedViewer: Member;
  let commenter: Member;
  let svc: Record<string, any>;
  let grantId: string;
  let viewGrantId: string;
  const requestId = `history-${uniq()}`;
  const editors: Editor[] = [];
  const historyOf = (id: string, q = '') => `/api/v1/services/${id}/history${q}`;

  before(async () => {
    app = await startTestApp({ collab: testCollabOptions() });
    admin = await signupTenant(app);
    stranger = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    coEditor = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    grantedViewer = await addMember(app, admin, 'viewer');
    commenter = await addMember(app, admin, 'viewer');

    // REST: created by the admin, changed by an editor.
    const res = await admin.client.post('/api/v1/services', { name: `hist-${uniq()}`, type: 'api', description: 'First.' }, { 'x-request-id': requestId });
    expectStatus(res, 201);
    svc = res.body.data;
    expectStatus(await editor.client.patch(`/api/v1/services/${svc.id}`, { status: 'deprecated' }), 200);
    // Grants on the record (admin-only data): VIEW to a viewer, and VIEW raised to COMMENT for another.
    const view = await admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: grantedViewer.id, level: 'VIEW' });
    expectStatus(view, 201);
    viewGrantId = view.body.data.id;
    const grant = await admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: commenter.id, level: 'VIEW' });
    expectStatus(grant, 201);
    grantId = grant.body.data.id;
    expectStatus(await admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: commenter.id, level: 'COMMENT' }), 201);

    // A co-edit: two editors in the same document, written back through the service.
    const a = await openEditor(app.url, `services/${svc.id}`, editor.token);
    const b = await openEditor(app.url, `services/${svc.id}`, coEditor.token);
    editors.push(a, b);
    a.fields.set('name', `${svc.name}-co`);
    b.description.insert(b.description.length, ' Second.');
    await waitFor(
      'the co-edits in the row',
      async () => {
        const row = (await viewer.client.get(`/api/v1/services/${svc.id}`)).body.data;
        return row.name === `${svc.name}-co` && row.description === 'First. Second.';
      },
      10_000,
    );
    for (const e of editors.splice(0)) e.destroy();

    // The newest write: REST again, by the editor.
    expectStatus(await editor.client.patch(`/api/v1/services/${svc.id}`, { tags: ['after-co-edit'] }), 200);
    // Noise: another record of this tenant and one of the stranger's.
    expectStatus(await editor.client.post('/api/v1/services', { name: `other-${uniq()}`, type: 'api' }), 201);
    expectStatus(await stranger.client.post('/api/v1/services', { name: `stranger-${uniq()}`, type: 'api' }), 201);
    // The co-edited document unloads and folds its update log in the background (a transaction of
    // its own): done before the tests below count a request's statements.
    await waitFor('the co-edited document unloaded', async () => app.app.collab!.loadedDocuments() === 0, 10_000);
  });

  after(async function () {
    this.timeout(30_000);
    for (const e of editors.splice(0)) e.destroy();
    await app?.app.collab?.close();
    await app?.close();
  });

  /** The whole history in one page (it is short), as the member reads it. */
  async function history(member: { client: Tenant['client'] }, id = svc.id as string): Promise<Entry[]> {
    const res = await member.client.get(historyOf(id, '?limit=200'));
    expectStatus(res, 200);
    assert.equal(res.body.meta.next_cursor, null);
    assert.equal(res.body.meta.total, res.body.data.length);
    return res.body.data as Entry[];
  }

  it('shows a plain viewer every change to the record and its grants, newest first, with who made it', async () => {
    const entries = await history(viewer);
    const at = entries.map((e) => Date.parse(e.at));
    assert.deepEqual(
      at,
      [...at].sort((x, y) => y - x),
      'newest first',
    );
    // The record's own entries are exactly what the (admin-only) audit log holds for it, in its order.
    const audit = (await admin.client.get(`/api/v1/audit-logs?entity_type=services&entity_id=${svc.id}&limit=200`)).body.data as { id: string }[];
    assert.deepEqual(
      entries.filter((e) => e.target.entity_type === 'services').map((e) => e.id),
      audit.map((e) => e.id),
    );
    const newest = entries[0];
    assert.equal(newest.action, 'update');
    assert.deepEqual(newest.actor, { type: 'user', id: editor.id, user_id: editor.id, display_name: 'The editor' });
    assert.deepEqual(newest.changes, { tags: { old: [], new: ['after-co-edit'] } });
    assert.deepEqual(newest.contributors, [], 'a REST write has no co-editing contributors');
    const oldest = entries[entries.length - 1];
    assert.equal(oldest.action, 'create');
    assert.deepEqual(oldest.actor, { type: 'user', id: admin.userId, user_id: admin.userId, display_name: 'Admin' });
    assert.deepEqual(oldest.target, { entity_type: 'services', entity_id: svc.id });
    // Between them: the editor's PATCH, the grant given and changed, and the co-edit's write-backs.
    const middle = entries.slice(1, -1);
    const grants = middle.filter((e) => e.target.entity_type === 'entity_permissions');
    assert.deepEqual(
      grants.map((e) => [e.action, e.target.entity_id, e.actor.id]),
      [
        ['update', grantId, admin.userId],
        ['create', grantId, admin.userId],
        ['create', viewGrantId, admin.userId],
      ],
    );
    const coEdits = middle.filter((e) => e.contributors.length > 0);
    assert.ok(coEdits.length >= 1, 'the co-edit is in the history');
    const contributors = new Map(coEdits.flatMap((e) => e.contributors.map((c) => [c.id, c.display_name])));
    assert.deepEqual([...contributors.keys()].sort(), [editor.id, coEditor.id].sort(), 'both editors contributed');
    assert.ok([...contributors.values()].every((name) => name === 'The editor'));
    for (const e of coEdits) {
      assert.equal(e.action, 'update');
      assert.ok(
        e.contributors.some((c) => c.id === e.actor.id),
        'a write-back is attributed to one of its contributors',
      );
    }
    const changed = new Set(coEdits.flatMap((e) => Object.keys(e.changes ?? {})));
    assert.ok(changed.has('name') && changed.has('description'), `co-edited fields: ${[...changed].join(', ')}`);
    const patch = middle.filter((e) => e.contributors.length === 0 && e.target.entity_type === 'services');
    assert.deepEqual(
      patch.map((e) => [e.actor.id, e.changes]),
      [[editor.id, { status: { old: 'active', new: 'deprecated' } }]],
    );
  });

  it('leaves out what only admins see: request id, address, User-Agent and the change of a grant', async () => {
    const seen = await history(viewer);
    const full = await history(admin);
    assert.deepEqual(
      seen.map((e) => e.id),
      full.map((e) => e.id),
      'the same entries',
    );
    assert.ok(seen.every((e) => e.request_id === null && e.ip === null && e.user_agent === null));
    assert.ok(
      full.every((e) => e.contributors.length > 0 || (typeof e.user_agent === 'string' && e.user_agent.length > 0)),
      'an admin sees the User-Agent of each write made over HTTP (a co-editing write-back has contributors instead)',
    );
    const grantUpdate = (entries: Entry[]) => entries.find((e) => e.target.entity_type === 'entity_permissions' && e.action === 'update')!;
    assert.equal(grantUpdate(seen).changes, null);
    assert.deepEqual(grantUpdate(full).changes, { level: { old: 'VIEW', new: 'COMMENT' } });
    const created = full[full.length - 1];
    assert.equal(created.request_id, requestId);
    assert.ok(created.ip, 'admins see the address');
    // Everything else is the same for both readers.
    const strip = (e: Entry) => ({
      ...e,
      request_id: null,
      ip: null,
      user_agent: null,
      changes: e.target.entity_type === 'entity_permissions' ? null : e.changes,
    });
    assert.deepEqual(seen, full.map(strip));
    // Viewers holding a VIEW or a COMMENT grant on the record read the same history.
    assert.deepEqual(await history(grantedViewer), seen);
    assert.deepEqual(await history(commenter), seen);
  });

  it('pages newest first with a cursor, the total on every page, and bounds limit', async () => {
    const all = await history(viewer);
    const { items, metas } = await walkPages(viewer.client, historyOf(svc.id, '?limit=2'));
    assert.deepEqual(items, all);
    assert.equal(metas.length, Math.ceil(all.length / 2));
    assert.ok(metas.every((m) => m.limit === 2 && m.total === all.length));
    assertProblem(await viewer.client.get(historyOf(svc.id, '?limit=0')), 422, { path: 'query.limit' });
    assertProblem(await viewer.client.get(historyOf(svc.id, '?limit=201')), 422, { path: 'query.limit' });
    assertProblem(await viewer.client.get(historyOf(svc.id, '?since=1')), 422, { path: 'query' });
    assertProblem(await viewer.client.get(historyOf(svc.id, '?cursor=not-a-cursor')), 400);
  });

  it('reads the record and a page of its history in one statement', async () => {
    const first = await counted(app.db.knex, () => viewer.client.get(historyOf(svc.id, '?limit=2')));
    expectStatus(first.result, 200);
    assert.deepEqual(first.statements.filter((sql) => !isPrincipalRead(sql)).length, 1, first.origins.join('\n---\n'));
    const cursor = first.result.body.meta.next_cursor as string;
    const second = await counted(app.db.knex, () => viewer.client.get(historyOf(svc.id, `?limit=2&cursor=${encodeURIComponent(cursor)}`)));
    expectStatus(second.result, 200);
    assert.equal(second.statements.filter((sql) => !isPrincipalRead(sql)).length, 1, second.origins.join('\n---\n'));
  });

  it("answers 404 for another tenant's record, an unknown id and a soft-deleted record (but to admins)", async () => {
    assertProblem(await stranger.client.get(historyOf(svc.id)), 404);
    assertProblem(await viewer.client.get(historyOf(randomUUID())), 404);
    assertProblem(await viewer.client.get(historyOf('not-a-uuid')), 400, { path: 'id' });
    assertProblem(await viewer.client.get(`/api/v1/teams/${svc.id}/history`), 404, {}); // a service's id is no team
    const gone = (await editor.client.post('/api/v1/services', { name: `gone-${uniq()}`, type: 'api' })).body.data;
    expectStatus(await editor.client.delete(`/api/v1/services/${gone.id}`), 204);
    assertProblem(await viewer.client.get(historyOf(gone.id)), 404);
    assert.deepEqual(
      (await history(admin, gone.id)).map((e) => e.action),
      ['delete', 'create'],
    );
  });

  describe('GET /events by record', () => {
    const eventsOf = (id: string, q: string) => `/api/v1/events?entity_type=services&entity_id=${id}${q}`;

    it("gives the record's events only, in seq order, with an exact has_more", async () => {
      const res = await viewer.client.get(eventsOf(svc.id, '&limit=1000'));
      expectStatus(res, 200);
      const events = res.body.data as { seq: number; entity_type: string; entity_id: string; type: string }[];
      assert.equal(res.body.meta.has_more, false);
      assert.ok(events.every((e) => e.entity_type === 'services' && e.entity_id === svc.id));
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
      // One event per audit entry of the record.
      const own = (await history(viewer)).filter((e) => e.target.entity_type === 'services');
      assert.equal(events.length, own.length);
      assert.equal(events[0].type, 'services.created');
      assert.ok(events.length >= 4);
      // A page holding exactly the rest is the last one; one short of it is not.
      const n = events.length;
      let page = await viewer.client.get(eventsOf(svc.id, `&limit=${n}`));
      assert.deepEqual([page.body.data.length, page.body.meta.has_more], [n, false]);
      page = await viewer.client.get(eventsOf(svc.id, `&limit=${n - 1}`));
      assert.deepEqual([page.body.data.length, page.body.meta.has_more, page.body.meta.next_since], [n - 1, true, seqs[n - 2]]);
      page = await viewer.client.get(eventsOf(svc.id, `&limit=${n - 1}&since=${page.body.meta.next_since}`));
      assert.deepEqual([page.body.data.map((e: { seq: number }) => e.seq), page.body.meta.has_more], [[seqs[n - 1]], false]);
      // By type alone: every service event of the tenant, the other service's too.
      const byType = (await viewer.client.get('/api/v1/events?entity_type=services&limit=1000')).body.data as { entity_id: string }[];
      assert.ok(byType.length > n);
      assert.ok(byType.every((e) => (e as unknown as { entity_type: string }).entity_type === 'services'));
      // The unfiltered log is exact too.
      const everything = (await viewer.client.get('/api/v1/events?limit=1000')).body;
      const total = everything.data.length as number;
      assert.equal((await viewer.client.get(`/api/v1/events?limit=${total}`)).body.meta.has_more, false);
      assert.equal((await viewer.client.get(`/api/v1/events?limit=${total - 1}`)).body.meta.has_more, true);
    });

    it('redacts as the unfiltered log does, shows another tenant nothing, and refuses a bad filter', async () => {
      const grants = (await viewer.client.get(`/api/v1/events?entity_type=entity_permissions&entity_id=${grantId}`)).body.data as {
        data: unknown;
        changes: unknown;
      }[];
      assert.equal(grants.length, 2);
      assert.ok(grants.every((e) => JSON.stringify(e.data) === JSON.stringify({ id: grantId }) && e.changes === null));
      const forAdmin = (await admin.client.get(`/api/v1/events?entity_type=entity_permissions&entity_id=${grantId}`)).body.data as {
        changes: unknown;
      }[];
      assert.deepEqual(forAdmin[1].changes, { level: { old: 'VIEW', new: 'COMMENT' } });
      const theirs = await stranger.client.get(eventsOf(svc.id, ''));
      expectStatus(theirs, 200);
      assert.deepEqual(theirs.body.data, []);
      assert.equal(theirs.body.meta.has_more, false);
      assertProblem(await viewer.client.get(`/api/v1/events?entity_id=${svc.id}`), 422, { path: 'query.entity_type' });
      assertProblem(await viewer.client.get('/api/v1/events?entity_type=services&entity_id=nope'), 422, { path: 'query.entity_id' });
      assertProblem(await viewer.client.get('/api/v1/events?entity_type='), 422, { path: 'query.entity_type' });
    });
  });
});
