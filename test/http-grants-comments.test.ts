// Black-box HTTP: per-record grants (VIEW/COMMENT/EDIT) and threaded, resolvable comments on any
// entity or incident; COMMENT is the level that allows commenting.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, assertProblem, created, expectStatus, refused, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP grants and comments', () => {
  let app: TestApp;
  let admin: Tenant;
  let editor: Member;
  let editor2: Member;
  let viewer: Member;
  let granted: Record<string, any>;
  let notGranted: Record<string, any>;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    editor = await addMember(app, admin, 'editor');
    editor2 = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    granted = await created(admin.client, '/api/v1/services', { name: `granted-${uniq()}`, type: 'api' });
    notGranted = await created(admin.client, '/api/v1/services', { name: `plain-${uniq()}`, type: 'api' });
  });
  after(async () => {
    await app?.close();
  });

  describe('grants', () => {
    it('EDIT lets a viewer PATCH that service only; revoking the grant makes it 403 again', async () => {
      await refused(
        app.db.knex,
        admin.tenantId,
        ['services'],
        () => viewer.client.patch(`/api/v1/services/${granted.id}`, { description: 'before grant' }),
        403,
      );

      const grant = await admin.client.post(`/api/v1/services/${granted.id}/permissions`, { user_id: viewer.id, level: 'EDIT' });
      expectStatus(grant, 201);
      assert.equal(grant.body.data.level, 'EDIT');
      assert.equal(grant.body.data.user_id, viewer.id);

      const list = await admin.client.get(`/api/v1/services/${granted.id}/permissions`);
      expectStatus(list, 200);
      assert.deepEqual(
        list.body.data.map((g: { id: string }) => g.id),
        [grant.body.data.id],
      );

      const patched = await viewer.client.patch(`/api/v1/services/${granted.id}`, { description: 'edited by a viewer with EDIT' });
      expectStatus(patched, 200);
      assert.equal(patched.body.data.description, 'edited by a viewer with EDIT');
      assert.equal(patched.body.data.updated_by, viewer.id);

      await refused(
        app.db.knex,
        admin.tenantId,
        ['services'],
        () => viewer.client.patch(`/api/v1/services/${notGranted.id}`, { description: 'no grant here' }),
        403,
      );
      await refused(app.db.knex, admin.tenantId, ['services'], () => viewer.client.post('/api/v1/services', { name: `viewer-${uniq()}`, type: 'api' }), 403);

      expectStatus(await admin.client.delete(`/api/v1/services/${granted.id}/permissions/${grant.body.data.id}`), 204);
      await refused(
        app.db.knex,
        admin.tenantId,
        ['services'],
        () => viewer.client.patch(`/api/v1/services/${granted.id}`, { description: 'after revoke' }),
        403,
      );
    });

    it('is managed by admins only (403 for an editor)', async () => {
      await refused(
        app.db.knex,
        admin.tenantId,
        ['entity_permissions'],
        () => editor.client.post(`/api/v1/services/${granted.id}/permissions`, { user_id: viewer.id, level: 'EDIT' }),
        403,
      );
      assertProblem(await editor.client.get(`/api/v1/services/${granted.id}/permissions`), 403);
    });

    it('refuses a bad level and a user of another tenant with 422', async () => {
      const other = await signupTenant(app);
      await refused(
        app.db.knex,
        admin.tenantId,
        ['entity_permissions'],
        () => admin.client.post(`/api/v1/services/${granted.id}/permissions`, { user_id: viewer.id, level: 'OWN' }),
        422,
        { path: 'level' },
      );
      await refused(
        app.db.knex,
        admin.tenantId,
        ['entity_permissions'],
        () => admin.client.post(`/api/v1/services/${granted.id}/permissions`, { user_id: other.userId, level: 'VIEW' }),
        422,
        { path: 'user_id' },
      );
    });
  });

  describe('comments', () => {
    it('COMMENT lets a viewer comment on that record only; revoking the grant makes it 403 again', async () => {
      const tables = ['comments'];
      const comment = (entityId: string) => viewer.client.post('/api/v1/comments', { entity_type: 'services', entity_id: entityId, body: 'viewer says hi' });
      await refused(app.db.knex, admin.tenantId, tables, () => comment(granted.id), 403);
      const grant = await admin.client.post(`/api/v1/services/${granted.id}/permissions`, { user_id: viewer.id, level: 'COMMENT' });
      expectStatus(grant, 201);
      const res = await comment(granted.id);
      expectStatus(res, 201);
      assert.equal(res.body.data.author_id, viewer.id);
      assert.equal(res.headers.get('location'), `/api/v1/comments/${res.body.data.id}`);
      await refused(app.db.knex, admin.tenantId, tables, () => comment(notGranted.id), 403);
      // COMMENT is not EDIT.
      await refused(
        app.db.knex,
        admin.tenantId,
        ['services'],
        () => viewer.client.patch(`/api/v1/services/${granted.id}`, { description: 'comment grant only' }),
        403,
      );
      expectStatus(await admin.client.delete(`/api/v1/services/${granted.id}/permissions/${grant.body.data.id}`), 204);
      await refused(app.db.knex, admin.tenantId, tables, () => comment(granted.id), 403);
    });

    it('threads replies, resolves and unresolves a thread', async () => {
      const svc = await created(admin.client, '/api/v1/services', { name: `thread-${uniq()}`, type: 'api' });
      const root = await created(admin.client, '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'Who owns this?' });
      const reply = await created(editor.client, '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'We do.', parent_id: root.id });
      const second = await created(editor2.client, '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'Unrelated note' });
      assert.equal(reply.parent_id, root.id);

      const listUrl = `/api/v1/comments?entity_type=services&entity_id=${svc.id}`;
      let list = await viewer.client.get(listUrl);
      expectStatus(list, 200);
      assert.deepEqual(
        list.body.data.map((c: { id: string }) => c.id),
        [root.id, reply.id, second.id],
        'oldest first',
      );

      const resolved = await editor.client.post(`/api/v1/comments/${root.id}/resolve`);
      expectStatus(resolved, 200);
      assert.ok(resolved.body.data.resolved_at);
      assert.equal(resolved.body.data.resolved_by, editor.id);
      list = await viewer.client.get(listUrl);
      assert.deepEqual(
        list.body.data.map((c: { id: string }) => c.id),
        [second.id],
        'a resolved thread is hidden with its replies',
      );
      list = await viewer.client.get(`${listUrl}&include_resolved=true`);
      assert.deepEqual(
        list.body.data.map((c: { id: string }) => c.id),
        [root.id, reply.id, second.id],
      );

      const reopened = await editor.client.post(`/api/v1/comments/${root.id}/unresolve`);
      expectStatus(reopened, 200);
      assert.equal(reopened.body.data.resolved_at, null);
      list = await viewer.client.get(listUrl);
      assert.equal(list.body.data.length, 3);

      // A reply must hang off a comment on the same record.
      const elsewhere = await created(admin.client, '/api/v1/comments', { entity_type: 'services', entity_id: notGranted.id, body: 'elsewhere' });
      await refused(
        app.db.knex,
        admin.tenantId,
        ['comments'],
        () =>
          editor.client.post('/api/v1/comments', {
            entity_type: 'services',
            entity_id: svc.id,
            body: 'crossed wires',
            parent_id: elsewhere.id,
          }),
        422,
        { path: 'parent_id' },
      );
    });

    it('lets only the author (or an admin) edit a comment: 403 for another editor', async () => {
      const svc = await created(admin.client, '/api/v1/services', { name: `authored-${uniq()}`, type: 'api' });
      const mine = await created(editor.client, '/api/v1/comments', { entity_type: 'services', entity_id: svc.id, body: 'first draft' });
      await refused(app.db.knex, admin.tenantId, ['comments'], () => editor2.client.patch(`/api/v1/comments/${mine.id}`, { body: 'hijacked' }), 403);
      await refused(app.db.knex, admin.tenantId, ['comments'], () => editor2.client.delete(`/api/v1/comments/${mine.id}`), 403);
      const edited = await editor.client.patch(`/api/v1/comments/${mine.id}`, { body: 'second draft' }, { 'if-match': '"1"' });
      expectStatus(edited, 200);
      assert.equal(edited.body.data.body, 'second draft');
      assert.equal(edited.headers.get('etag'), '"2"');
      await refused(
        app.db.knex,
        admin.tenantId,
        ['comments'],
        () => editor.client.patch(`/api/v1/comments/${mine.id}`, { body: 'stale' }, { 'if-match': '"1"' }),
        412,
      );
      expectStatus(await admin.client.patch(`/api/v1/comments/${mine.id}`, { body: 'moderated' }), 200);
      const got = await viewer.client.get(`/api/v1/comments/${mine.id}`);
      assert.equal(got.body.data.body, 'moderated');
      await refused(app.db.knex, admin.tenantId, ['comments'], () => editor.client.patch(`/api/v1/comments/${mine.id}`, { body: '   ' }), 422, {
        path: 'body',
      });
      expectStatus(await editor.client.delete(`/api/v1/comments/${mine.id}`), 204);
      assertProblem(await viewer.client.get(`/api/v1/comments/${mine.id}`), 404);
    });
  });
});
