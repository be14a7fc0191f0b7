// Black-box HTTP and a live socket: incident roles (commander, lead, responders: users of the
// tenant), their changes and changes of the affected list as timeline entries written with the
// incident's own change, and the durations the detail computes from the timeline's status moves.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { addMember, created, expectStatus, refused, signupTenant, startHttpApp, type Member, type Tenant } from './support/http-assertions.js';
import { connectLive, waitFor, type LiveClient } from './support/live-events.js';
import type { TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);
const TABLES = ['incidents', 'incident_timeline_entries', 'audit_logs', 'change_events'];

describe('HTTP incident roles, affected changes and durations', () => {
  let app: TestApp;
  let admin: Tenant;
  let other: Tenant;
  let alice: Member;
  let bob: Member;
  let carol: Member;
  let viewer: Member;
  let s1: Record<string, any>;
  let s2: Record<string, any>;
  let socket: LiveClient;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
    other = await signupTenant(app);
    alice = await addMember(app, admin, 'incident_commander');
    bob = await addMember(app, admin, 'editor');
    carol = await addMember(app, admin, 'editor');
    viewer = await addMember(app, admin, 'viewer');
    s1 = await created(admin.client, '/api/v1/services', { name: `checkout-${uniq()}`, type: 'api' });
    s2 = await created(admin.client, '/api/v1/services', { name: `search-${uniq()}`, type: 'api' });
    socket = await connectLive(app.url, { token: viewer.token });
  });
  after(async () => {
    socket?.close();
    await app?.close();
  });

  it('puts roles set on create and changed by PATCH on the timeline, in order, with the change event', async () => {
    const res = await alice.client.post('/api/v1/incidents', {
      title: 'Checkout slow',
      severity: 'major',
      commander_id: alice.id,
      responder_ids: [bob.id, bob.id],
      affected: [{ entity_type: 'services', entity_id: s1.id }],
    });
    expectStatus(res, 201);
    const inc = res.body.data;
    assert.equal(inc.commander_id, alice.id);
    assert.equal(inc.lead_id, null);
    assert.deepEqual(inc.responder_ids, [bob.id]);
    assert.deepEqual(
      inc.timeline.map((e: any) => [e.kind, e.data]),
      [
        ['update', null],
        ['role_changed', { role: 'commander', added: [alice.id], removed: [] }],
        ['role_changed', { role: 'responder', added: [bob.id], removed: [] }],
      ],
    );
    assert.equal(inc.timeline[1].message, 'The incident_commander is now commander');

    const patched = await alice.client.patch(`/api/v1/incidents/${inc.id}`, { commander_id: bob.id, lead_id: carol.id, responder_ids: [carol.id] });
    expectStatus(patched, 200);
    const after = patched.body.data;
    assert.equal(after.row_version, 2);
    assert.deepEqual([after.commander_id, after.lead_id, after.responder_ids], [bob.id, carol.id, [carol.id]]);
    assert.deepEqual(
      after.timeline.slice(3).map((e: any) => [e.kind, e.status, e.created_by, e.data]),
      [
        ['role_changed', 'investigating', alice.id, { role: 'commander', added: [bob.id], removed: [alice.id] }],
        ['role_changed', 'investigating', alice.id, { role: 'lead', added: [carol.id], removed: [] }],
        ['role_changed', 'investigating', alice.id, { role: 'responder', added: [carol.id], removed: [bob.id] }],
      ],
    );
    const stamps = after.timeline.map((e: any) => Date.parse(e.timestamp));
    assert.deepEqual(
      [...stamps].sort((a, b) => a - b),
      stamps,
    );

    // The GET shows the same, and the live update event carried the new entries.
    const read = await viewer.client.get(`/api/v1/incidents/${inc.id}`);
    expectStatus(read, 200);
    assert.deepEqual(read.body.data.timeline, after.timeline);
    await waitFor(() => socket.events.some((e) => e.entity_id === inc.id && e.action === 'updated'), 'the update event');
    const event = socket.events.find((e) => e.entity_id === inc.id && e.action === 'updated')!;
    assert.deepEqual(
      (event.data as any).timeline.map((e: any) => e.id),
      after.timeline.map((e: any) => e.id),
    );

    // Clearing a role is a change too; the same roles again are none (no version bump).
    const cleared = (await alice.client.patch(`/api/v1/incidents/${inc.id}`, { lead_id: null })).body.data;
    assert.deepEqual(cleared.timeline.at(-1).data, { role: 'lead', added: [], removed: [carol.id] });
    const same = await alice.client.patch(`/api/v1/incidents/${inc.id}`, { commander_id: bob.id, responder_ids: [carol.id] });
    expectStatus(same, 200);
    assert.equal(same.body.data.row_version, cleared.row_version);
    assert.equal(same.body.data.timeline.length, cleared.timeline.length);
  });

  it('writes an affected_changed entry naming the entities added and removed', async () => {
    const inc = await created(alice.client, '/api/v1/incidents', {
      title: 'Search errors',
      severity: 'minor',
      affected: [{ entity_type: 'services', entity_id: s1.id }],
    });
    assert.deepEqual(
      inc.timeline.map((e: any) => e.kind),
      ['update'],
    );
    const res = await alice.client.patch(`/api/v1/incidents/${inc.id}`, { affected: [{ entity_type: 'services', entity_id: s2.id }] });
    expectStatus(res, 200);
    const last = res.body.data.timeline.at(-1);
    assert.equal(last.kind, 'affected_changed');
    assert.deepEqual(last.data, {
      added: [{ entity_type: 'services', entity_id: s2.id, name: s2.name, impact_type: null }],
      removed: [{ entity_type: 'services', entity_id: s1.id, name: s1.name }],
      changed: [],
    });
    assert.equal(last.message, `Affected added: ${s2.name}; affected removed: ${s1.name}`);
    const removed = (await alice.client.patch(`/api/v1/incidents/${inc.id}`, { affected: [] })).body.data;
    assert.deepEqual(removed.timeline.at(-1).data, { added: [], removed: [{ entity_type: 'services', entity_id: s2.id, name: s2.name }], changed: [] });
    assert.equal(removed.timeline.length, 3);
  });

  it('keeps an impact per affected entity: its status follows the worst active impact, started_at stays, ended_at is the resolution', async () => {
    // Services of their own: the other tests' incidents stay active on s1 and s2.
    const p1 = await created(admin.client, '/api/v1/services', { name: `payments-${uniq()}`, type: 'api' });
    const p2 = await created(admin.client, '/api/v1/services', { name: `ledger-${uniq()}`, type: 'api' });
    const statusOf = async (id: string) => (await viewer.client.get(`/api/v1/services/${id}`)).body.data.operational_status;
    const inc = await created(alice.client, '/api/v1/incidents', {
      title: 'Partial outage',
      severity: 'major',
      impact_type: 'degraded',
      affected: [
        { entity_type: 'services', entity_id: p1.id, impact_type: 'outage' },
        { entity_type: 'services', entity_id: p2.id },
      ],
    });
    const impacts = (i: any) => Object.fromEntries(i.affected.map((a: any) => [a.entity_id, [a.impact_type, a.inherits_impact, a.ended_at]]));
    assert.deepEqual(impacts(inc), { [p1.id]: ['outage', false, null], [p2.id]: ['degraded', true, null] });
    assert.deepEqual([await statusOf(p1.id), await statusOf(p2.id)], ['outage', 'degraded']);
    const startedAt = inc.affected.find((a: any) => a.entity_id === p1.id).started_at;

    // s1 gives up its own impact (the incident's now), and the incident goes to an outage: both follow it.
    const res = await alice.client.patch(`/api/v1/incidents/${inc.id}`, {
      affected: [
        { entity_type: 'services', entity_id: p1.id },
        { entity_type: 'services', entity_id: p2.id },
      ],
    });
    expectStatus(res, 200);
    assert.deepEqual(res.body.data.timeline.at(-1).data.changed, [
      { entity_type: 'services', entity_id: p1.id, name: p1.name, impact_type: { old: 'outage', new: null } },
    ]);
    assert.equal(res.body.data.affected.find((a: any) => a.entity_id === p1.id).started_at, startedAt);
    assert.deepEqual([await statusOf(p1.id), await statusOf(p2.id)], ['degraded', 'degraded']);
    const outage = (await alice.client.patch(`/api/v1/incidents/${inc.id}`, { impact_type: 'outage' })).body.data;
    assert.deepEqual(impacts(outage), { [p1.id]: ['outage', true, null], [p2.id]: ['outage', true, null] });
    assert.deepEqual([await statusOf(p1.id), await statusOf(p2.id)], ['outage', 'outage']);

    const done = await alice.client.post(`/api/v1/incidents/${inc.id}/updates`, { status: 'resolved', message: 'fixed' });
    expectStatus(done, 201);
    const resolved = done.body.data.incident;
    assert.ok(resolved.resolved_at);
    assert.deepEqual(
      resolved.affected.map((a: any) => a.ended_at),
      [resolved.resolved_at, resolved.resolved_at],
    );
    assert.deepEqual([await statusOf(p1.id), await statusOf(p2.id)], ['operational', 'operational']);
  });

  it('computes durations from the status moves: null until reached, seconds after', async () => {
    const inc = await created(alice.client, '/api/v1/incidents', { title: 'DB failover', severity: 'critical' });
    assert.deepEqual(inc.durations, { time_to_identify: null, time_to_mitigate: null, time_to_resolve: null });
    const step = async (status: string) => {
      const res = await alice.client.post(`/api/v1/incidents/${inc.id}/updates`, { status, message: status });
      expectStatus(res, 201);
      return res.body.data.incident;
    };
    const since = (i: any, n: number) => (Date.parse(i.timeline[n].timestamp) - Date.parse(i.timeline[0].timestamp)) / 1000;
    const identified = await step('identified');
    assert.equal(identified.durations.time_to_identify, since(identified, 1));
    assert.ok(identified.durations.time_to_identify > 0);
    assert.equal(identified.durations.time_to_mitigate, null);
    const resolved = await step('resolved'); // monitoring skipped: resolving mitigates too
    assert.deepEqual(resolved.durations, { time_to_identify: since(resolved, 1), time_to_mitigate: since(resolved, 2), time_to_resolve: since(resolved, 2) });
    const reopened = await step('investigating');
    assert.equal(reopened.durations.time_to_resolve, null);
    assert.equal(reopened.durations.time_to_identify, since(resolved, 1));
    const again = await step('resolved');
    assert.equal(again.durations.time_to_resolve, since(again, 4));
    const read = (await viewer.client.get(`/api/v1/incidents/${inc.id}`)).body.data;
    assert.deepEqual(read.durations, again.durations);
  });

  it("refuses another tenant's user (422 at the field) and a viewer (403), writing nothing", async () => {
    const inc = await created(alice.client, '/api/v1/incidents', { title: 'Refusals', severity: 'minor' });
    await refused(app.db.knex, admin.tenantId, TABLES, () => alice.client.patch(`/api/v1/incidents/${inc.id}`, { commander_id: other.userId }), 422, {
      path: 'commander_id',
    });
    await refused(
      app.db.knex,
      admin.tenantId,
      TABLES,
      () => alice.client.post('/api/v1/incidents', { title: 'x', severity: 'minor', responder_ids: [bob.id, other.userId] }),
      422,
      { path: 'responder_ids.1' },
    );
    await refused(app.db.knex, admin.tenantId, TABLES, () => alice.client.patch(`/api/v1/incidents/${inc.id}`, { lead_id: randomUUID() }), 422, {
      path: 'lead_id',
    });
    await refused(app.db.knex, admin.tenantId, TABLES, () => viewer.client.patch(`/api/v1/incidents/${inc.id}`, { commander_id: viewer.id }), 403);
    await refused(
      app.db.knex,
      admin.tenantId,
      TABLES,
      () => viewer.client.post('/api/v1/incidents', { title: 'x', severity: 'minor', commander_id: viewer.id }),
      403,
    );
  });
});
