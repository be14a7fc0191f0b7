// The authorization table, pinned over real HTTP before the access rules move into one policy:
// every kind × every actor × every write route, with the exact status. A refused write changes no
// row, appends no audit entry and no change event. Rules as the services implement them today:
//  - catalog kinds (7): admin/editor write; others need an EDIT grant on the record (personal or
//    to everyone); creating never honours grants (there is no record yet).
//  - incidents: admin/editor/incident_commander; per-record grants are IGNORED (an EDIT grant on an
//    incident does not let a viewer write it).
//  - scorecards: admin/editor; grants IGNORED (no grant routes either; a grant row is inserted directly).
//  - dashboards and their widgets: admin/editor, or an EDIT grant on the dashboard.
//  - comments: admin/editor/incident_commander comment anywhere, others need COMMENT or EDIT on the
//    record; edit/delete by the author (while still allowed to comment) or an admin; resolve and
//    unresolve by the author or an admin/editor. Surprising: a grant on an incident, ignored for
//    writing the incident, IS honoured for commenting on it. The read-only key of an admin cannot
//    comment at all (every comment write needs a writing actor).
//  - a grantee may restore a record it holds EDIT on (grants are looked up without the record's
//    liveness), though a grant can only be created on a live record.
//  - users, API keys, grants: admins only.
//  - a read-only API key never writes, whatever its owner's role.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import { ACTOR_NAMES, CATALOG, assertRefused, assertWritten, castOf, countOf, rowOf, uniq, type Actor, type ActorName, type Cast } from './support/pins.js';
import type { ApiResponse, TestApp } from './support/server.js';

type Route = 'create' | 'patch' | 'delete' | 'restore' | 'incident_update' | 'widget_add' | 'widget_patch' | 'widget_delete';

interface KindSpec {
  path: string;
  table: string;
  create: () => Record<string, unknown>;
  patch: () => Record<string, unknown>;
  routes: Route[];
  /** Roles that write by role. */
  writers: string[];
  /** Whether an EDIT grant on the record lets a viewer write it. */
  honoursGrants: boolean;
  /** Grants for the kind exist as routes; otherwise the grant row is inserted directly. */
  grantRoute: boolean;
}

const KIND_SPECS: Record<string, KindSpec> = {
  ...Object.fromEntries(
    Object.entries(CATALOG).map(([path, create]) => [
      path,
      {
        path,
        table: path,
        create,
        patch: () => ({ name: `renamed-${uniq()}` }),
        routes: ['create', 'patch', 'delete', 'restore'] as Route[],
        writers: ['admin', 'editor'],
        honoursGrants: true,
        grantRoute: true,
      },
    ]),
  ),
  incidents: {
    path: 'incidents',
    table: 'incidents',
    create: () => ({ title: `incident-${uniq()}`, severity: 'major' }),
    patch: () => ({ title: `retitled-${uniq()}` }),
    routes: ['create', 'patch', 'delete', 'restore', 'incident_update'],
    writers: ['admin', 'editor', 'incident_commander'],
    honoursGrants: false,
    grantRoute: true,
  },
  scorecards: {
    path: 'scorecards',
    table: 'scorecards',
    create: () => ({
      name: `card-${uniq()}`,
      entity_types: ['services'],
      criteria: [{ name: 'has team', check_type: 'has_field', check_config: { field: 'team_id' } }],
    }),
    patch: () => ({ name: `card-renamed-${uniq()}` }),
    routes: ['create', 'patch', 'delete', 'restore'],
    writers: ['admin', 'editor'],
    honoursGrants: false,
    grantRoute: false,
  },
  dashboards: {
    path: 'dashboards',
    table: 'dashboards',
    create: () => ({ name: `board-${uniq()}` }),
    patch: () => ({ name: `board-renamed-${uniq()}` }),
    routes: ['create', 'patch', 'delete', 'restore', 'widget_add', 'widget_patch', 'widget_delete'],
    writers: ['admin', 'editor'],
    honoursGrants: true,
    grantRoute: true,
  },
};

/** The rule the table pins: may this actor take this route on this kind? */
function allowed(kind: KindSpec, route: Route, actor: Actor): boolean {
  if (!actor.canWrite) return false;
  if (kind.writers.includes(actor.role)) return true;
  return route !== 'create' && kind.honoursGrants && actor.grant !== undefined;
}

const SUCCESS: Record<Route, number> = {
  create: 201,
  patch: 200,
  delete: 204,
  restore: 200,
  incident_update: 201,
  widget_add: 201,
  widget_patch: 200,
  widget_delete: 204,
};

describe('authorization table: every kind × actor × write route', function () {
  this.timeout(120_000);
  let app: TestApp;
  let tenant: Tenant;
  let cast: Cast;
  let knex: Knex;

  before(async function () {
    this.timeout(60_000);
    app = await startHttpApp();
    knex = app.db.knex;
    tenant = await signupTenant(app);
    cast = await castOf(app, tenant);
  });
  after(async () => {
    await app?.close();
  });

  const admin = () => cast.actors.admin.client;

  async function createRecord(
    kind: KindSpec,
    opts: { deleted?: boolean; withWidget?: boolean; grantTo?: Actor } = {},
  ): Promise<{ id: string; widgetId?: string }> {
    const body = kind.create();
    if (opts.withWidget) Object.assign(body, { widgets: [{ title: 'w', widget_type: 'counter' }] });
    const res = await admin().post(`/api/v1/${kind.path}`, body);
    expectStatus(res, 201, `creating a ${kind.path}`);
    // Granted while live: the grant routes only take live records.
    if (opts.grantTo) await grantFor(kind, res.body.data.id, opts.grantTo);
    if (opts.deleted) expectStatus(await admin().delete(`/api/v1/${kind.path}/${res.body.data.id}`), 204, 'deleting');
    return { id: res.body.data.id, widgetId: res.body.data.widgets?.[0]?.id };
  }

  /** Gives the actor its grant on the record (EDIT, personally or to everyone), as the admin would. */
  async function grantFor(kind: KindSpec, id: string, actor: Actor): Promise<void> {
    if (!actor.grant) return;
    const userId = actor.grant === 'personal' ? actor.userId : null;
    if (kind.grantRoute) {
      expectStatus(await admin().post(`/api/v1/${kind.path}/${id}/permissions`, { user_id: userId, level: 'EDIT' }), 201, 'granting');
    } else {
      // Scorecards have no grant routes: a grant row as the grant service would store it.
      await knex('entity_permissions').insert({
        tenant_id: tenant.tenantId,
        entity_type: kind.path,
        entity_id: id,
        user_id: userId,
        level: 'EDIT',
        created_by: tenant.userId,
      });
    }
  }

  function request(kind: KindSpec, route: Route, actor: Actor, target: { id?: string; widgetId?: string }): Promise<ApiResponse> {
    const c = actor.client;
    const base = `/api/v1/${kind.path}`;
    switch (route) {
      case 'create':
        return c.post(base, kind.create());
      case 'patch':
        return c.patch(`${base}/${target.id}`, kind.patch());
      case 'delete':
        return c.delete(`${base}/${target.id}`);
      case 'restore':
        return c.post(`${base}/${target.id}/restore`);
      case 'incident_update':
        return c.post(`${base}/${target.id}/updates`, { message: `update by ${actor.name}` });
      case 'widget_add':
        return c.post(`${base}/${target.id}/widgets`, { title: `w-${uniq()}`, widget_type: 'list' });
      case 'widget_patch':
        return c.patch(`${base}/${target.id}/widgets/${target.widgetId}`, { title: `w-${uniq()}` });
      case 'widget_delete':
        return c.delete(`${base}/${target.id}/widgets/${target.widgetId}`);
    }
  }

  /** Everything a write on this kind could touch: the record's row and its dependent rows, or the table's count. */
  function snapshotOf(kind: KindSpec, target: { id?: string }) {
    return async () => {
      if (!target.id) return countOf(knex, kind.table, { tenant_id: tenant.tenantId });
      const extra: Record<string, unknown> = {};
      if (kind.path === 'dashboards') extra.widgets = await knex('widgets').where({ dashboard_id: target.id }).orderBy('id');
      if (kind.path === 'incidents') extra.timeline = await countOf(knex, 'incident_timeline_entries', { incident_id: target.id });
      if (kind.path === 'scorecards') extra.criteria = await countOf(knex, 'scorecard_criteria', { scorecard_id: target.id });
      return JSON.parse(JSON.stringify({ row: await rowOf(knex, kind.table, target.id), ...extra }));
    };
  }

  for (const [name, kind] of Object.entries(KIND_SPECS)) {
    describe(name, () => {
      for (const route of kind.routes) {
        it(`${route}: ${ACTOR_NAMES.map((a) => `${a}=${allowed(kind, route, { ...dummyActor(a) })}`).join(' ')}`, async () => {
          // Shared targets for the actors refused without a grant: they must stay untouched.
          const needsWidget = route.startsWith('widget_') && route !== 'widget_add';
          const shared = route === 'create' ? {} : await createRecord(kind, { deleted: route === 'restore', withWidget: needsWidget });
          // Fresh targets (set up in parallel) where the write may succeed or the actor holds a grant on it.
          const targets = await Promise.all(
            ACTOR_NAMES.map(async (actorName): Promise<{ id?: string; widgetId?: string }> => {
              const actor = cast.actors[actorName];
              if (route === 'create' || !(allowed(kind, route, actor) || actor.grant)) return shared;
              return createRecord(kind, { deleted: route === 'restore', withWidget: needsWidget, grantTo: actor });
            }),
          );
          for (const [i, actorName] of ACTOR_NAMES.entries()) {
            const actor = cast.actors[actorName];
            const ok = allowed(kind, route, actor);
            const what = `${name} ${route} by ${actorName}`;
            const target = targets[i];
            if (ok) {
              const res = await assertWritten(knex, tenant.tenantId, () => request(kind, route, actor, target), SUCCESS[route], what);
              if (route === 'create') assert.equal(res.body.data.created_by, actor.userId, `${what}: created_by is the user the actor speaks for`);
            } else {
              await assertRefused(knex, tenant.tenantId, snapshotOf(kind, target), () => request(kind, route, actor, target), 403, what);
            }
          }
        });
      }
    });
  }

  it('pins explicitly: an EDIT grant lets a viewer write a catalog record and a dashboard, never an incident or a scorecard', async () => {
    const grantee = cast.actors.viewer_edit_grant;
    for (const path of ['services', 'dashboards']) {
      const { id } = await createRecord(KIND_SPECS[path]);
      await grantFor(KIND_SPECS[path], id, grantee);
      const res = await grantee.client.patch(`/api/v1/${path}/${id}`, { name: `by-grant-${uniq()}` });
      expectStatus(res, 200, `${path} with an EDIT grant`);
      assert.equal(res.body.data.updated_by, grantee.userId);
    }
    for (const path of ['incidents', 'scorecards']) {
      const kind = KIND_SPECS[path];
      const { id } = await createRecord(kind);
      await grantFor(kind, id, grantee);
      await grantFor(kind, id, cast.actors.viewer_everyone_grant);
      assert.equal(await countOf(knex, 'entity_permissions', { entity_id: id, level: 'EDIT' }), 2, 'both grants are stored');
      await assertRefused(
        knex,
        tenant.tenantId,
        snapshotOf(kind, { id }),
        () => grantee.client.patch(`/api/v1/${path}/${id}`, kind.patch()),
        403,
        `${path} with an EDIT grant`,
      );
      await assertRefused(
        knex,
        tenant.tenantId,
        snapshotOf(kind, { id }),
        () => cast.actors.viewer_everyone_grant.client.delete(`/api/v1/${path}/${id}`),
        403,
        `${path} with an everyone EDIT grant`,
      );
    }
  });

  it('a grant can only be created on a live record (404 on a deleted one), yet an existing grant lets its holder restore', async () => {
    const grantee = cast.actors.viewer_edit_grant;
    const deleted = await createRecord(KIND_SPECS.services, { deleted: true });
    await assertRefused(
      knex,
      tenant.tenantId,
      () => countOf(knex, 'entity_permissions', { entity_id: deleted.id }),
      () => admin().post(`/api/v1/services/${deleted.id}/permissions`, { user_id: grantee.userId, level: 'EDIT' }),
      404,
      'grant on a deleted record',
    );
    const held = await createRecord(KIND_SPECS.services, { deleted: true, grantTo: grantee });
    const res = await assertWritten(knex, tenant.tenantId, () => grantee.client.post(`/api/v1/services/${held.id}/restore`), 200, 'restore by the grantee');
    assert.equal(res.body.data.deleted_at, null);
    assert.equal(res.body.data.updated_by, grantee.userId);
  });

  it('a VIEW or COMMENT grant does not let a viewer write a catalog record or a dashboard', async () => {
    const viewer = cast.actors.viewer;
    for (const level of ['VIEW', 'COMMENT']) {
      for (const path of ['services', 'dashboards']) {
        const { id } = await createRecord(KIND_SPECS[path]);
        expectStatus(await admin().post(`/api/v1/${path}/${id}/permissions`, { user_id: viewer.userId, level }), 201);
        await assertRefused(
          knex,
          tenant.tenantId,
          snapshotOf(KIND_SPECS[path], { id }),
          () => viewer.client.patch(`/api/v1/${path}/${id}`, { name: `nope-${uniq()}` }),
          403,
          `${path} with ${level}`,
        );
      }
    }
  });

  // ---- comments ---------------------------------------------------------------------------------

  describe('comments', () => {
    const STAFF = ['admin', 'editor', 'incident_commander'];
    const RESOLVERS = ['admin', 'editor'];

    /** A service the actor's grant (if any) applies to; a COMMENT-level grant holder is tested apart. */
    async function recordFor(actor: Actor): Promise<string> {
      const { id } = await createRecord(KIND_SPECS.services);
      await grantFor(KIND_SPECS.services, id, actor);
      return id;
    }
    const mayComment = (a: Actor) => a.canWrite && (STAFF.includes(a.role) || a.grant !== undefined);

    async function commentBy(client: Actor['client'], entityId: string, resolved = false): Promise<Record<string, any>> {
      const res = await client.post('/api/v1/comments', { entity_type: 'services', entity_id: entityId, body: `c-${uniq()}` });
      expectStatus(res, 201, 'commenting');
      if (resolved) expectStatus(await admin().post(`/api/v1/comments/${res.body.data.id}/resolve`), 200);
      return res.body.data;
    }
    const commentSnapshot = (id: string) => () => rowOf(knex, 'comments', id);
    const commentCount = (entityId: string) => () => countOf(knex, 'comments', { entity_id: entityId });

    it(`create: staff roles anywhere, others with a COMMENT/EDIT grant; never a read-only key`, async () => {
      for (const name of ACTOR_NAMES) {
        const actor = cast.actors[name];
        const entityId = await recordFor(actor);
        const send = () => actor.client.post('/api/v1/comments', { entity_type: 'services', entity_id: entityId, body: `hello from ${name}` });
        if (mayComment(actor)) {
          const res = await assertWritten(knex, tenant.tenantId, send, 201, `comment by ${name}`);
          assert.equal(res.body.data.author_id, actor.userId);
        } else {
          await assertRefused(knex, tenant.tenantId, commentCount(entityId), send, 403, `comment by ${name}`);
        }
      }
      // A COMMENT grant is enough to comment (and an incident commander comments on incidents without one).
      const viewer = cast.actors.viewer;
      const { id } = await createRecord(KIND_SPECS.services);
      expectStatus(await admin().post(`/api/v1/services/${id}/permissions`, { user_id: viewer.userId, level: 'COMMENT' }), 201);
      await assertWritten(
        knex,
        tenant.tenantId,
        () => viewer.client.post('/api/v1/comments', { entity_type: 'services', entity_id: id, body: 'with COMMENT' }),
        201,
        'COMMENT grant',
      );
      const { id: viewOnly } = await createRecord(KIND_SPECS.services);
      expectStatus(await admin().post(`/api/v1/services/${viewOnly}/permissions`, { user_id: viewer.userId, level: 'VIEW' }), 201);
      await assertRefused(
        knex,
        tenant.tenantId,
        commentCount(viewOnly),
        () => viewer.client.post('/api/v1/comments', { entity_type: 'services', entity_id: viewOnly, body: 'VIEW only' }),
        403,
        'VIEW grant',
      );
    });

    for (const op of ['patch', 'delete', 'resolve', 'unresolve'] as const) {
      const status = op === 'delete' ? 204 : 200;
      const send = (actor: Actor, id: string) =>
        op === 'patch'
          ? actor.client.patch(`/api/v1/comments/${id}`, { body: `edited by ${actor.name}` })
          : op === 'delete'
            ? actor.client.delete(`/api/v1/comments/${id}`)
            : actor.client.post(`/api/v1/comments/${id}/${op}`);
      const privileged = op === 'patch' || op === 'delete' ? ['admin'] : RESOLVERS;

      it(`${op} someone else's comment: ${privileged.join('/')} only (keys as their owner, read-only never)`, async () => {
        const comments = await Promise.all(
          ACTOR_NAMES.map(async (name) => commentBy(cast.editor2.client, await recordFor(cast.actors[name]), op === 'unresolve')),
        );
        for (const [i, name] of ACTOR_NAMES.entries()) {
          const actor = cast.actors[name];
          const comment = comments[i];
          const ok = actor.canWrite && privileged.includes(actor.role);
          if (ok) await assertWritten(knex, tenant.tenantId, () => send(actor, comment.id), status, `${op} by ${name}`);
          else await assertRefused(knex, tenant.tenantId, commentSnapshot(comment.id), () => send(actor, comment.id), 403, `${op} by ${name}`);
        }
      });

      it(`${op} one's own comment: every author who may still comment (a read-only key of the author never)`, async () => {
        for (const name of ACTOR_NAMES) {
          const actor = cast.actors[name];
          const entityId = await recordFor(actor);
          // The read-only key's owner (the admin) wrote it; the key itself cannot comment.
          const authorClient = mayComment(actor) ? actor.client : name === 'ro_admin_key' ? admin() : null;
          if (!authorClient) continue; // a plain viewer can author no comment: covered by the next test
          const comment = await commentBy(authorClient, entityId, op === 'unresolve');
          if (actor.canWrite) await assertWritten(knex, tenant.tenantId, () => send(actor, comment.id), status, `${op} own by ${name}`);
          else await assertRefused(knex, tenant.tenantId, commentSnapshot(comment.id), () => send(actor, comment.id), 403, `${op} own by ${name}`);
        }
      });
    }

    it('surprising but today’s rule: a grant on an INCIDENT is honoured for commenting, though never for writing it', async () => {
      const viewer = cast.actors.viewer_edit_grant;
      const { id } = await createRecord(KIND_SPECS.incidents, { grantTo: viewer });
      await assertRefused(
        knex,
        tenant.tenantId,
        snapshotOf(KIND_SPECS.incidents, { id }),
        () => viewer.client.patch(`/api/v1/incidents/${id}`, { title: 'nope' }),
        403,
        'incident PATCH with EDIT',
      );
      const res = await assertWritten(
        knex,
        tenant.tenantId,
        () => viewer.client.post('/api/v1/comments', { entity_type: 'incidents', entity_id: id, body: 'on the incident' }),
        201,
        'incident comment with EDIT',
      );
      assert.equal(res.body.data.author_id, viewer.userId);
      // Without the grant a viewer may not comment on an incident; an incident commander may.
      const { id: other } = await createRecord(KIND_SPECS.incidents);
      await assertRefused(
        knex,
        tenant.tenantId,
        commentCount(other),
        () => cast.actors.viewer.client.post('/api/v1/comments', { entity_type: 'incidents', entity_id: other, body: 'no grant' }),
        403,
        'incident comment without grant',
      );
      await assertWritten(
        knex,
        tenant.tenantId,
        () => cast.actors.incident_commander.client.post('/api/v1/comments', { entity_type: 'incidents', entity_id: other, body: 'ic' }),
        201,
        'incident comment by an IC',
      );
      // Dashboards and scorecards take no comments at all (422 naming entity_type), whoever asks.
      const { id: board } = await createRecord(KIND_SPECS.dashboards);
      const bad = await assertRefused(
        knex,
        tenant.tenantId,
        commentCount(board),
        () => admin().post('/api/v1/comments', { entity_type: 'dashboards', entity_id: board, body: 'x' }),
        422,
        'comment on a dashboard',
      );
      assert.ok(
        bad.body.errors.some((e: { path: string }) => e.path === 'entity_type'),
        bad.text,
      );
    });

    it('an author who lost the right to comment may no longer edit, delete or resolve their comment', async () => {
      const viewer = cast.actors.viewer;
      const { id } = await createRecord(KIND_SPECS.services);
      const grant = await admin().post(`/api/v1/services/${id}/permissions`, { user_id: viewer.userId, level: 'COMMENT' });
      expectStatus(grant, 201);
      const mine = await commentBy(viewer.client, id);
      expectStatus(await admin().delete(`/api/v1/services/${id}/permissions/${grant.body.data.id}`), 204);
      for (const [op, send] of [
        ['patch', () => viewer.client.patch(`/api/v1/comments/${mine.id}`, { body: 'too late' })],
        ['resolve', () => viewer.client.post(`/api/v1/comments/${mine.id}/resolve`)],
        ['delete', () => viewer.client.delete(`/api/v1/comments/${mine.id}`)],
      ] as const) {
        const res = await assertRefused(knex, tenant.tenantId, commentSnapshot(mine.id), send, 403, `${op} after the grant went`);
        assert.match(res.body.detail, /no longer comment/);
      }
    });
  });

  // ---- users, API keys, grants: admins only ------------------------------------------------------

  describe('admin-only collections', () => {
    const adminWrites = (a: Actor) => a.canWrite && a.role === 'admin';

    it('users: create, patch, delete', async () => {
      for (const name of ACTOR_NAMES) {
        const actor = cast.actors[name];
        const body = { email: `u-${uniq()}@example.com`, display_name: 'New', role: 'viewer' };
        const usersCount = () => countOf(knex, 'users', { tenant_id: tenant.tenantId });
        const target = async () =>
          (await admin().post('/api/v1/users', { email: `t-${uniq()}@example.com`, display_name: 'Target', role: 'viewer' })).body.data.id as string;
        const patchId = await target();
        const deleteId = await target();
        if (adminWrites(actor)) {
          await assertWritten(knex, tenant.tenantId, () => actor.client.post('/api/v1/users', body), 201, `user create by ${name}`);
          await assertWritten(
            knex,
            tenant.tenantId,
            () => actor.client.patch(`/api/v1/users/${patchId}`, { display_name: 'Renamed' }),
            200,
            `user patch by ${name}`,
          );
          await assertWritten(knex, tenant.tenantId, () => actor.client.delete(`/api/v1/users/${deleteId}`), 204, `user delete by ${name}`);
        } else {
          await assertRefused(knex, tenant.tenantId, usersCount, () => actor.client.post('/api/v1/users', body), 403, `user create by ${name}`);
          await assertRefused(
            knex,
            tenant.tenantId,
            () => rowOf(knex, 'users', patchId),
            () => actor.client.patch(`/api/v1/users/${patchId}`, { display_name: 'Renamed' }),
            403,
            `user patch by ${name}`,
          );
          await assertRefused(
            knex,
            tenant.tenantId,
            () => rowOf(knex, 'users', deleteId),
            () => actor.client.delete(`/api/v1/users/${deleteId}`),
            403,
            `user delete by ${name}`,
          );
        }
      }
      // Not even oneself: a viewer may not PATCH their own user.
      const viewer = cast.actors.viewer;
      await assertRefused(
        knex,
        tenant.tenantId,
        () => rowOf(knex, 'users', viewer.userId),
        () => viewer.client.patch(`/api/v1/users/${viewer.userId}`, { display_name: 'Me' }),
        403,
        'self patch by a viewer',
      );
    });

    it('api-keys: create and revoke', async () => {
      for (const name of ACTOR_NAMES) {
        const actor = cast.actors[name];
        const fresh = await admin().post('/api/v1/api-keys', { name: `victim-${uniq()}`, scope: 'read' });
        expectStatus(fresh, 201);
        const keyId = fresh.body.data.id as string;
        if (adminWrites(actor)) {
          await assertWritten(
            knex,
            tenant.tenantId,
            () => actor.client.post('/api/v1/api-keys', { name: `k-${uniq()}`, scope: 'read' }),
            201,
            `key create by ${name}`,
          );
          await assertWritten(knex, tenant.tenantId, () => actor.client.delete(`/api/v1/api-keys/${keyId}`), 204, `key revoke by ${name}`);
        } else {
          await assertRefused(
            knex,
            tenant.tenantId,
            () => countOf(knex, 'api_keys', { tenant_id: tenant.tenantId }),
            () => actor.client.post('/api/v1/api-keys', { name: `k-${uniq()}`, scope: 'read_write' }),
            403,
            `key create by ${name}`,
          );
          await assertRefused(
            knex,
            tenant.tenantId,
            () => rowOf(knex, 'api_keys', keyId),
            () => actor.client.delete(`/api/v1/api-keys/${keyId}`),
            403,
            `key revoke by ${name}`,
          );
        }
      }
    });

    for (const path of [...Object.keys(CATALOG), 'incidents', 'dashboards']) {
      it(`grants on ${path}: create and delete at /${path}/:id/permissions`, async () => {
        const kind = KIND_SPECS[path];
        const { id } = await createRecord(kind);
        for (const name of ACTOR_NAMES) {
          const actor = cast.actors[name];
          const victim = await admin().post(`/api/v1/${path}/${id}/permissions`, { user_id: cast.editor2.id, level: 'VIEW' });
          expectStatus(victim, 201);
          const body = { user_id: cast.members.viewer.id, level: 'EDIT' };
          if (adminWrites(actor)) {
            const made = await assertWritten(
              knex,
              tenant.tenantId,
              () => actor.client.post(`/api/v1/${path}/${id}/permissions`, body),
              201,
              `grant by ${name}`,
            );
            await assertWritten(
              knex,
              tenant.tenantId,
              () => actor.client.delete(`/api/v1/${path}/${id}/permissions/${made.body.data.id}`),
              204,
              `ungrant by ${name}`,
            );
          } else {
            const grants = async () => JSON.parse(JSON.stringify(await knex('entity_permissions').where({ entity_id: id }).orderBy('id')));
            await assertRefused(knex, tenant.tenantId, grants, () => actor.client.post(`/api/v1/${path}/${id}/permissions`, body), 403, `grant by ${name}`);
            await assertRefused(
              knex,
              tenant.tenantId,
              grants,
              () => actor.client.delete(`/api/v1/${path}/${id}/permissions/${victim.body.data.id}`),
              403,
              `ungrant by ${name}`,
            );
          }
          expectStatus(await admin().delete(`/api/v1/${path}/${id}/permissions/${victim.body.data.id}`), 204);
        }
      });
    }
  });
});

/** Role and grant of an actor, for the test titles (the real actors exist only after before()). */
function dummyActor(name: ActorName): Actor {
  const roles: Record<ActorName, Actor['role']> = {
    admin: 'admin',
    editor: 'editor',
    incident_commander: 'incident_commander',
    viewer: 'viewer',
    viewer_edit_grant: 'viewer',
    viewer_everyone_grant: 'viewer',
    ro_admin_key: 'admin',
    rw_editor_key: 'editor',
    rw_admin_key: 'admin',
  };
  return {
    name,
    role: roles[name],
    userId: randomUUID(),
    client: undefined as never,
    canWrite: name !== 'ro_admin_key',
    grant: name === 'viewer_edit_grant' ? 'personal' : name === 'viewer_everyone_grant' ? 'everyone' : undefined,
  };
}
