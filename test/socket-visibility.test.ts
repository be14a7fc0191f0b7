// Who sees what on the live-event socket (SPEC §4 admin-only records, §5 envelope), pinned with
// real socket.io-client sockets before the stream code moves: admin, viewer and a read-only API
// key of an admin, each unfiltered, filtered (subscribe {entity_types}) and replaying (auth.since).
// Admins — by role, so also through a read-only key — get users, api_keys and entity_permissions
// events in full; everyone else gets the envelope with data {id} and changes null, seq gapless.
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../src/platform/bus.js';
import { addMember, created, expectStatus, lastSeq, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import { connectLive, isConsecutive, waitFor, type LiveClient } from './support/live-events.js';
import { uniq } from './support/pins.js';
import type { TestApp } from './support/server.js';

const ADMIN_ONLY = ['users', 'api_keys', 'entity_permissions'];

/** What a non-admin must receive for an event, written out independently of the server's code. */
function redacted(e: ChangeEvent): ChangeEvent {
  return ADMIN_ONLY.includes(e.entity_type) ? { ...e, data: { id: e.entity_id }, changes: null } : e;
}

const json = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe('socket visibility: admin-only records on the live stream', function () {
  this.timeout(30_000);
  let app: TestApp;
  let tenant: Tenant;
  let viewer: Member;
  let roKey: string;
  let service: Record<string, any>;
  let base: number;
  let last: number;
  /** The tenant's change log after `base`, as an admin reads it over REST. */
  let log: ChangeEvent[];
  const sockets: Record<string, LiveClient> = {};
  const principals = () => ({ admin: tenant.token, viewer: viewer.token, ro_admin_key: roKey });

  before(async function () {
    this.timeout(60_000);
    app = await startHttpApp();
    tenant = await signupTenant(app);
    viewer = await addMember(app, tenant, 'viewer');
    const key = await created(tenant.client, '/api/v1/api-keys', { name: `dash-${uniq()}`, scope: 'read' });
    roKey = key.key;
    service = await created(tenant.client, '/api/v1/services', { name: `svc-${uniq()}`, type: 'api' });
    base = await lastSeq(app.db.knex, tenant.tenantId);

    for (const [who, token] of Object.entries(principals())) {
      sockets[`${who}:unfiltered`] = await connectLive(app.url, { token });
      const filtered = await connectLive(app.url, { token });
      assert.deepEqual(await filtered.emitWithAck('subscribe', { entity_types: [...ADMIN_ONLY, 'services'] }), { ok: true });
      sockets[`${who}:filtered`] = filtered;
      const narrow = await connectLive(app.url, { token });
      assert.deepEqual(await narrow.emitWithAck('subscribe', { entity_types: ['users', 'services'] }), { ok: true });
      sockets[`${who}:narrow`] = narrow;
    }

    // One of each: users created/updated, api_keys created/deleted, grants created/updated/deleted, services updated.
    const a = tenant.client;
    const user = await created(a, '/api/v1/users', { email: `u-${uniq()}@example.com`, display_name: 'New', role: 'viewer' });
    expectStatus(await a.patch(`/api/v1/users/${user.id}`, { display_name: 'Renamed', role: 'editor' }), 200);
    const k = await created(a, '/api/v1/api-keys', { name: `k-${uniq()}`, scope: 'read_write' });
    expectStatus(await a.delete(`/api/v1/api-keys/${k.id}`), 204);
    const grant = await created(a, `/api/v1/services/${service.id}/permissions`, { user_id: viewer.id, level: 'VIEW' });
    expectStatus(await a.post(`/api/v1/services/${service.id}/permissions`, { user_id: viewer.id, level: 'EDIT' }), 201);
    expectStatus(await a.delete(`/api/v1/services/${service.id}/permissions/${grant.id}`), 204);
    expectStatus(await a.patch(`/api/v1/services/${service.id}`, { description: 'seen by all' }), 200);
    last = await lastSeq(app.db.knex, tenant.tenantId);

    const res = await a.get(`/api/v1/events?since=${base}&limit=100`);
    expectStatus(res, 200);
    log = res.body.data;

    for (const [who, token] of Object.entries(principals())) sockets[`${who}:since`] = await connectLive(app.url, { token, since: base });
    for (const [name, s] of Object.entries(sockets)) {
      await waitFor(() => s.lastSeq === last, `${name} to reach seq ${last}`);
    }
  });

  after(async () => {
    for (const s of Object.values(sockets)) s.close();
    await app?.close();
  });

  it('the writes produced exactly the expected events, with full data in the log an admin reads', () => {
    assert.deepEqual(
      log.map((e) => e.type),
      [
        'users.created',
        'users.updated',
        'api_keys.created',
        'api_keys.deleted',
        'entity_permissions.created',
        'entity_permissions.updated',
        'entity_permissions.deleted',
        'services.updated',
      ],
    );
    assert.ok(
      isConsecutive(
        log.map((e) => e.seq),
        base + 1,
        last,
      ),
      'the log is gapless',
    );
    const [userCreated, userUpdated, keyCreated, , grantCreated, grantUpdated] = log as any[];
    assert.match(userCreated.data.email, /^u-/);
    assert.deepEqual(userUpdated.changes.role, { old: 'viewer', new: 'editor' });
    assert.equal(keyCreated.data.scope, 'read_write');
    assert.equal(grantCreated.data.user_id, viewer.id);
    assert.deepEqual(grantUpdated.changes, { level: { old: 'VIEW', new: 'EDIT' } });
  });

  for (const who of ['admin', 'ro_admin_key']) {
    for (const mode of ['unfiltered', 'filtered', 'since']) {
      it(`${who} (${mode}) gets every event in full, exactly as the log holds it`, () => {
        const got = json(sockets[`${who}:${mode}`].events.filter((e) => e.seq > base));
        assert.deepEqual(got, log);
      });
    }
  }

  for (const mode of ['unfiltered', 'filtered', 'since']) {
    it(`viewer (${mode}) gets admin-only records as {id} with changes null, seq present and gapless; services.updated in full`, () => {
      const got = json(sockets[`viewer:${mode}`].events.filter((e) => e.seq > base));
      assert.ok(
        isConsecutive(
          got.map((e) => e.seq),
          base + 1,
          last,
        ),
        `gapless seqs: ${got.map((e) => e.seq).join(',')}`,
      );
      assert.deepEqual(got, log.map(redacted));
      for (const e of got.filter((x) => ADMIN_ONLY.includes(x.entity_type))) {
        assert.deepEqual(Object.keys(e.data as object), ['id']);
        assert.equal(e.changes, null);
      }
      const svc = got.find((e) => e.type === 'services.updated')!;
      assert.equal((svc.data as { description: string }).description, 'seen by all');
      assert.deepEqual(svc.changes?.description, { old: null, new: 'seen by all' });
    });
  }

  for (const who of ['admin', 'ro_admin_key', 'viewer']) {
    it(`${who} subscribed to users and services only gets exactly those, ${who === 'viewer' ? 'redacted' : 'in full'}`, () => {
      const got = json(sockets[`${who}:narrow`].events.filter((e) => e.seq > base));
      const wanted = log.filter((e) => ['users', 'services'].includes(e.entity_type));
      assert.deepEqual(got, who === 'viewer' ? wanted.map(redacted) : wanted);
      assert.deepEqual(
        got.map((e) => e.type),
        ['users.created', 'users.updated', 'services.updated'],
      );
    });
  }

  it('the viewer reads the same redacted view from GET /events', async () => {
    const res = await viewer.client.get(`/api/v1/events?since=${base}&limit=100`);
    expectStatus(res, 200);
    assert.deepEqual(res.body.data, log.map(redacted));
  });
});
