// Comments through real PostgreSQL: who may comment (roles and grants), threads, resolve, author-only
// edits, soft delete of a thread, and the change events and audit rows of each write.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../src/platform/context.js';
import { CommentService } from '../src/modules/comments/service.js';
import { PermissionService } from '../src/modules/permissions/service.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';
import { rejectsWith, readOnlyKey } from './support/assertions.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe('comments', () => {
  let h: Harness;
  let comments: CommentService;
  let perms: PermissionService;
  let tenantId: string;
  let admin: ServiceContext;
  let editor: ServiceContext;
  let commander: ServiceContext;
  let otherAdmin: ServiceContext;
  let serviceId: string;
  let foreignServiceId: string;

  const on = (entityId = serviceId, entityType = 'services') => ({ entity_type: entityType, entity_id: entityId });

  before(async () => {
    h = await createHarness();
    comments = new CommentService(h.writes);
    perms = new PermissionService(h.writes);
    tenantId = await createTenant(h.knex);
    const otherTenant = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenantId, 'admin');
    editor = await actingAs(h.knex, tenantId, 'editor');
    commander = await actingAs(h.knex, tenantId, 'incident_commander');
    otherAdmin = await actingAs(h.knex, otherTenant, 'admin');
    serviceId = (await h.entities.services.create(admin, { name: 'checkout', type: 'api' })).id;
    foreignServiceId = (await h.entities.services.create(otherAdmin, { name: 'checkout', type: 'api' })).id;
  });

  after(async () => {
    await h.close();
  });

  describe('who may comment', () => {
    it('admins, editors and incident commanders may; read-only keys may not', async () => {
      for (const ctx of [admin, editor, commander]) {
        const c = await comments.create(ctx, { ...on(), body: `from ${ctx.actor.role}` });
        assert.equal(c.author_id, ctx.actor.userId);
      }
      await rejectsWith(comments.create(readOnlyKey(admin), { ...on(), body: 'nope' }), 403);
    });

    it('a viewer needs a COMMENT or EDIT grant on the record', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'grant-target', type: 'api' })).id;
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      const before = h.published.length;
      await rejectsWith(comments.create(viewer, { ...on(svc), body: 'hello' }), 403);
      assert.equal(h.published.length, before);

      const grant = await perms.grant(admin, 'services', svc, { user_id: viewer.actor.userId, level: 'VIEW' });
      await rejectsWith(comments.create(viewer, { ...on(svc), body: 'hello' }), 403);

      await perms.grant(admin, 'services', svc, { user_id: viewer.actor.userId, level: 'COMMENT' });
      const c = await comments.create(viewer, { ...on(svc), body: 'hello' });
      assert.equal(c.author_id, viewer.actor.userId);
      // The grant is for this record only.
      await rejectsWith(comments.create(viewer, { ...on(), body: 'elsewhere' }), 403);

      await perms.grant(admin, 'services', svc, { user_id: viewer.actor.userId, level: 'EDIT' });
      await comments.create(viewer, { ...on(svc), body: 'with EDIT' });

      await perms.revoke(admin, 'services', svc, grant.id);
      await rejectsWith(comments.create(viewer, { ...on(svc), body: 'after revoke' }), 403);
      // A read-only key never writes, whatever its owner's grants.
      await perms.grant(admin, 'services', svc, { user_id: viewer.actor.userId, level: 'COMMENT' });
      await rejectsWith(comments.create(readOnlyKey(viewer), { ...on(svc), body: 'key' }), 403);
    });

    it('an everyone-grant lets every viewer of the tenant comment', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'open-to-all', type: 'api' })).id;
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      await rejectsWith(comments.create(viewer, { ...on(svc), body: 'hi' }), 403);
      await perms.grant(admin, 'services', svc, { user_id: null, level: 'COMMENT' });
      await comments.create(viewer, { ...on(svc), body: 'hi' });
      await comments.create(await actingAs(h.knex, tenantId, 'viewer'), { ...on(svc), body: 'me too' });
    });

    it('the record must exist in the tenant (422 in a body, 404 in a list query), incidents included', async () => {
      await rejectsWith(comments.create(admin, { ...on(randomUUID()), body: 'x' }), 422, 'entity_id');
      await rejectsWith(comments.create(admin, { ...on(foreignServiceId), body: 'x' }), 422, 'entity_id');
      await rejectsWith(comments.create(admin, { ...on(serviceId, 'components'), body: 'x' }), 422, 'entity_id');
      await rejectsWith(comments.list(otherAdmin, on()), 404);
      const [incident] = await h.knex('incidents').insert({ tenant_id: tenantId, title: 'Checkout down', severity: 'critical' }).returning('id');
      const c = await comments.create(commander, { ...on(incident.id, 'incidents'), body: 'Rolling back.' });
      assert.equal(c.entity_type, 'incidents');
      await rejectsWith(comments.create(admin, { ...on(randomUUID(), 'dashboards'), body: 'x' }), 422, 'entity_type');
    });

    it('validates the body: 1 to 10000 characters, not blank, unknown keys refused', async () => {
      await rejectsWith(comments.create(admin, { ...on(), body: '' }), 422, 'body');
      await rejectsWith(comments.create(admin, { ...on(), body: '   \n ' }), 422, 'body');
      await rejectsWith(comments.create(admin, { ...on(), body: 'x'.repeat(10_001) }), 422, 'body');
      await rejectsWith(comments.create(admin, { ...on(), body: 'x', tenant_id: tenantId }), 422);
      await rejectsWith(comments.create(admin, { ...on('nope'), body: 'x' }), 422, 'entity_id');
      const long = await comments.create(admin, { ...on(), body: 'x'.repeat(10_000) });
      assert.equal(long.body.length, 10_000);
    });
  });

  describe('threads', () => {
    it('replies carry parent_id, list oldest first, and the parent must be on the same record', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'threaded', type: 'api' })).id;
      const other = (await h.entities.services.create(admin, { name: 'threaded-2', type: 'api' })).id;
      const root = await comments.create(editor, { ...on(svc), body: 'Should we split this service?' });
      const reply = await comments.create(admin, { ...on(svc), body: 'Yes', parent_id: root.id });
      const nested = await comments.create(editor, { ...on(svc), body: 'Agreed', parent_id: reply.id });
      const second = await comments.create(commander, { ...on(svc), body: 'Unrelated' });
      const elsewhere = await comments.create(admin, { ...on(other), body: 'Other record' });

      await rejectsWith(comments.create(admin, { ...on(svc), body: 'x', parent_id: elsewhere.id }), 422, 'parent_id');
      await rejectsWith(comments.create(admin, { ...on(svc), body: 'x', parent_id: randomUUID() }), 422, 'parent_id');

      const viewer = await actingAs(h.knex, tenantId, 'viewer'); // everyone reads
      const list = await comments.list(viewer, on(svc));
      assert.deepEqual(
        list.map((c) => [c.id, c.parent_id]),
        [
          [root.id, null],
          [reply.id, root.id],
          [nested.id, reply.id],
          [second.id, null],
        ],
      );
      assert.equal('tenant_id' in list[0], false);

      // A deleted comment is no parent.
      await comments.remove(admin, second.id);
      await rejectsWith(comments.create(admin, { ...on(svc), body: 'x', parent_id: second.id }), 422, 'parent_id');
    });

    it('resolve hides a thread unless include_resolved; unresolve brings it back', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'resolvable', type: 'api' })).id;
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      const bystander = await actingAs(h.knex, tenantId, 'viewer');
      await perms.grant(admin, 'services', svc, { user_id: null, level: 'COMMENT' });
      const root = await comments.create(viewer, { ...on(svc), body: 'Is the runbook current?' });
      const reply = await comments.create(editor, { ...on(svc), body: 'Updated it.', parent_id: root.id });
      const open = await comments.create(editor, { ...on(svc), body: 'Still open' });

      await rejectsWith(comments.resolve(bystander, root.id), 403); // neither author nor editor/admin
      await rejectsWith(comments.resolve(commander, root.id), 403);
      await rejectsWith(comments.resolve(readOnlyKey(admin), root.id), 403);

      const before = h.published.length;
      const resolved = await comments.resolve(viewer, root.id); // the author may
      assert.equal(resolved.resolved_by, viewer.actor.userId);
      assert.ok(resolved.resolved_at);
      assert.equal(resolved.row_version, root.row_version + 1);
      const row = await h.knex('comments').where({ id: root.id }).first();
      assert.ok(row.resolved_at instanceof Date);
      assert.equal(row.resolved_by, viewer.actor.userId);
      // Resolving again changes nothing.
      await comments.resolve(editor, root.id);
      const events = h.published.slice(before);
      assert.deepEqual(
        events.map((e) => e.type),
        ['comments.updated'],
      );
      assert.deepEqual(Object.keys(events[0].changes ?? {}).sort(), ['resolved_at', 'resolved_by']);

      assert.deepEqual(
        (await comments.list(viewer, on(svc))).map((c) => c.id),
        [open.id],
      );
      assert.deepEqual(
        (await comments.list(viewer, { ...on(svc), include_resolved: 'true' })).map((c) => c.id),
        [root.id, reply.id, open.id],
      );

      const reopened = await comments.unresolve(editor, root.id);
      assert.equal(reopened.resolved_at, null);
      assert.equal(reopened.resolved_by, null);
      assert.deepEqual(
        (await comments.list(viewer, on(svc))).map((c) => c.id),
        [root.id, reply.id, open.id],
      );
      await rejectsWith(comments.resolve(admin, randomUUID()), 404);
      await rejectsWith(comments.resolve(otherAdmin, root.id), 404);
    });
  });

  describe('edits and deletes', () => {
    it('only the author or an admin edits, with If-Match, and each edit is one event and one audit row', async () => {
      const c = await comments.create(editor, { ...on(), body: 'first draft' });
      const otherEditor = await actingAs(h.knex, tenantId, 'editor');
      await rejectsWith(comments.update(otherEditor, c.id, { body: 'hijack' }), 403);
      await rejectsWith(comments.update(commander, c.id, { body: 'hijack' }), 403);
      await rejectsWith(comments.update(editor, c.id, { body: '' }), 422, 'body');
      await rejectsWith(comments.update(editor, c.id, { body: 'x', author_id: randomUUID() }), 422);
      await rejectsWith(comments.update(editor, c.id, { body: 'stale' }, { expectedVersion: c.row_version + 1 }), 412);

      const before = h.published.length;
      const edited = await comments.update(editor, c.id, { body: 'second draft' }, { expectedVersion: c.row_version });
      assert.equal(edited.body, 'second draft');
      assert.equal(edited.row_version, c.row_version + 1);
      const byAdmin = await comments.update(admin, c.id, { body: 'moderated' });
      assert.equal(byAdmin.author_id, editor.actor.userId);
      // The same body again is no change.
      await comments.update(admin, c.id, { body: 'moderated' });

      const events = h.published.slice(before);
      assert.deepEqual(
        events.map((e) => e.type),
        ['comments.updated', 'comments.updated'],
      );
      assert.deepEqual(events[0].changes?.body, { old: 'first draft', new: 'second draft' });
      assert.equal(events[0].entity_id, c.id);
      assert.deepEqual(events[1].data, byAdmin);

      const audit = await h.knex('audit_logs').where({ entity_type: 'comments', entity_id: c.id }).orderBy('timestamp');
      assert.deepEqual(
        audit.map((a) => a.action),
        ['create', 'update', 'update'],
      );
      assert.deepEqual(
        audit.map((a) => a.user_id),
        [editor.actor.userId, editor.actor.userId, admin.actor.userId],
      );
      const logged = await h.knex('change_events').where({ entity_type: 'comments', entity_id: c.id }).orderBy('seq');
      assert.deepEqual(
        logged.map((e) => e.type),
        ['comments.created', 'comments.updated', 'comments.updated'],
      );
    });

    it('an author whose grant was revoked may no longer edit', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'revocable', type: 'api' })).id;
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      const grant = await perms.grant(admin, 'services', svc, { user_id: viewer.actor.userId, level: 'COMMENT' });
      const c = await comments.create(viewer, { ...on(svc), body: 'mine' });
      await comments.update(viewer, c.id, { body: 'mine, edited' });
      await perms.revoke(admin, 'services', svc, grant.id);
      await rejectsWith(comments.update(viewer, c.id, { body: 'again' }), 403);
    });

    it('remove is a soft delete by the author or an admin, taking the replies with it', async () => {
      const svc = (await h.entities.services.create(admin, { name: 'deletable', type: 'api' })).id;
      const root = await comments.create(editor, { ...on(svc), body: 'root' });
      const reply = await comments.create(commander, { ...on(svc), body: 'reply', parent_id: root.id });
      const keep = await comments.create(commander, { ...on(svc), body: 'keep' });
      await rejectsWith(comments.remove(commander, root.id), 403);
      await rejectsWith(comments.remove(otherAdmin, root.id), 404);

      const before = h.published.length;
      await comments.remove(editor, root.id);
      const rows = await h.knex('comments').whereIn('id', [root.id, reply.id, keep.id]).orderBy('created_at');
      assert.ok(rows[0].deleted_at && rows[1].deleted_at);
      assert.equal(rows[2].deleted_at, null);
      const events = h.published.slice(before);
      assert.deepEqual(
        events.map((e) => [e.type, e.entity_id]),
        [
          ['comments.deleted', root.id],
          ['comments.deleted', reply.id],
        ],
      );
      assert.ok((events[0].data as { deleted_at: string }).deleted_at);
      assert.deepEqual(
        (await comments.list(admin, { ...on(svc), include_resolved: true })).map((c) => c.id),
        [keep.id],
      );
      await rejectsWith(comments.update(editor, root.id, { body: 'ghost' }), 404);
      await rejectsWith(comments.remove(editor, root.id), 404);
      const deleted = await comments.get(admin, root.id, { includeDeleted: true });
      assert.ok(deleted.deleted_at);
    });
  });
});
