// Live events on one node with the in-process bus (embedded mode): handshake auth, the change
// envelope {seq, type, tenant_id, entity_type, entity_id, action, actor, at, data, changes},
// tenant isolation, subscribe filters, resume with since, resync, revocation.
import assert from 'node:assert/strict';
import { startServer, type AppHandle } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { quietLogger } from './support/factories.js';
import { connectError, connectLive, createTeam, holdHandshake, isConsecutive, LiveClient, rest, signup, sleep, waitFor } from './support/live-events.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

const JWT_SECRET = 'live-events-test-secret-0123456789abcdef';

describe('live events: one node (in-process bus)', () => {
  let db: TestDatabase;
  let node: AppHandle;
  let tenantA: { tenantId: string; token: string; userId: string };
  let tenantB: { tenantId: string; token: string; userId: string };
  const clients: LiveClient[] = [];

  async function live(options: Parameters<typeof connectLive>[1]): Promise<LiveClient> {
    const client = await connectLive(node.url, options);
    clients.push(client);
    return client;
  }

  async function latestSeq(tenantId: string): Promise<number> {
    const row = await db.knex('change_events').where({ tenant_id: tenantId }).max('seq as max').first();
    return Number(row?.max ?? 0);
  }

  before(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET, LOG_LEVEL: 'error' });
    node = await startServer({ config, knex: db.knex, logger: quietLogger, live: { sweepIntervalMs: 300, sliceSize: 2 } });
    [tenantA, tenantB] = await Promise.all([signup(node.url), signup(node.url)]);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await node?.close();
    await db?.drop();
  });

  describe('handshake', () => {
    it('refuses a missing, malformed or forged token with connect_error "unauthorized"', async () => {
      assert.equal((await connectError(node.url, {})).message, 'unauthorized');
      assert.equal((await connectError(node.url, { token: 'nonsense' })).message, 'unauthorized');
      assert.equal((await connectError(node.url, { token: 'ail_not-a-real-key' })).message, 'unauthorized');
      const [header, , signature] = tenantA.token.split('.');
      const forged = Buffer.from(JSON.stringify({ sub: tenantB.userId, tid: tenantB.tenantId })).toString('base64url');
      assert.equal((await connectError(node.url, { token: `${header}.${forged}.${signature}` })).message, 'unauthorized');
      assert.equal(node.live.localSocketCount(), 0);
    });

    it('refuses a since that is not an integer, with the offending field', async () => {
      const err = await connectError(node.url, { token: tenantA.token, since: 'yesterday' });
      assert.equal(err.message, 'invalid_handshake');
      const data = err.data as { errors: { path: string }[] };
      assert.ok(
        data.errors.some((e) => e.path === 'auth.since'),
        JSON.stringify(data),
      );
    });

    it('accepts a login token and an API key, and joins the tenant room', async () => {
      const key = await rest(node.url, 'POST', '/api-keys', tenantA.token, { name: 'dashboards', scope: 'read' });
      assert.equal(key.status, 201);
      const byToken = await live({ token: tenantA.token });
      const byKey = await live({ token: key.body.data.key });
      assert.ok(byToken.socket.connected && byKey.socket.connected);
      const sockets = await node.live.io.in(`tenant:${tenantA.tenantId}`).fetchSockets();
      assert.equal(sockets.length, 2);
    });
  });

  describe('delivery', () => {
    it('pushes every committed change with the change envelope, in seq order, only to its own tenant', async () => {
      const a1 = await live({ token: tenantA.token });
      const a2 = await live({ token: tenantA.token });
      const b = await live({ token: tenantB.token });
      const before = await latestSeq(tenantA.tenantId);

      const teamId = await createTeam(node.url, tenantA.token, 'Payments');
      const patched = await rest(node.url, 'PATCH', `/teams/${teamId}`, tenantA.token, { description: 'Money' });
      assert.equal(patched.status, 200);
      assert.equal((await rest(node.url, 'DELETE', `/teams/${teamId}`, tenantA.token)).status, 204);

      for (const client of [a1, a2]) await waitFor(() => client.events.length >= 3, 'three events');
      await sleep(200);
      for (const client of [a1, a2]) {
        assert.deepEqual(client.seqs(), [before + 1, before + 2, before + 3]);
        assert.deepEqual(
          client.events.map((e) => e.type),
          ['teams.created', 'teams.updated', 'teams.deleted'],
        );
      }
      const [created, updated] = a1.events;
      assert.deepEqual(Object.keys(created).sort(), ['action', 'actor', 'at', 'changes', 'data', 'entity_id', 'entity_type', 'seq', 'tenant_id', 'type']);
      assert.equal(created.tenant_id, tenantA.tenantId);
      assert.equal(created.entity_type, 'teams');
      assert.equal(created.entity_id, teamId);
      assert.equal(created.action, 'created');
      assert.deepEqual(created.actor, { type: 'user', id: tenantA.userId });
      assert.equal((created.data as { name: string }).name, 'Payments');
      assert.ok(!Number.isNaN(Date.parse(created.at)));
      assert.deepEqual(updated.changes?.description, { old: null, new: 'Money' });
      // What REST's change log says is exactly what the socket got.
      const log = await rest(node.url, 'GET', `/events?since=${before}`, tenantA.token);
      assert.deepEqual(JSON.parse(JSON.stringify(a1.events)), log.body.data);
      assert.equal(b.events.length, 0, "tenant B's socket must see nothing of tenant A");
    });

    it('a rolled-back write is never announced', async () => {
      // A dashboard with a widget, and another that holds the name the failing write will ask for.
      const board = await rest(node.url, 'POST', '/dashboards', tenantA.token, {
        name: `board-${Date.now()}`,
        widgets: [{ title: 'kept', widget_type: 'counter' }],
      });
      assert.equal(board.status, 201);
      const taken = await rest(node.url, 'POST', '/dashboards', tenantA.token, { name: `taken-${Date.now()}` });
      assert.equal(taken.status, 201);
      const a = await live({ token: tenantA.token });
      const heard: unknown[] = [];
      const unsubscribe = node.domain.bus.subscribe((events) => heard.push(...events));
      const seqBefore = await latestSeq(tenantA.tenantId);
      const auditBefore = Number((await db.knex('audit_logs').where({ tenant_id: tenantA.tenantId }).count('* as n'))[0].n);
      try {
        // Refused before any transaction opens (bad input).
        const bad = await rest(node.url, 'POST', '/teams', tenantA.token, { name: 'x', team_id: 'not-a-uuid' });
        assert.equal(bad.status, 422);
        // Fails INSIDE the transaction, after rows were written: the widgets are deleted (widgets: [])
        // before the rename runs into the live dashboard's unique name, a 409 from the database.
        const clash = await rest(node.url, 'PATCH', `/dashboards/${board.body.data.id}`, tenantA.token, {
          name: taken.body.data.name,
          widgets: [],
        });
        assert.equal(clash.status, 409);
        const row = await db.knex('dashboards').where({ id: board.body.data.id }).first();
        assert.equal(row.name, board.body.data.name, 'the dashboard keeps its name');
        assert.equal(row.row_version, 1, 'and its version');
        const widgets = await db.knex('widgets').where({ dashboard_id: board.body.data.id }).select('id');
        assert.deepEqual(
          widgets.map((w) => w.id),
          [board.body.data.widgets[0].id],
          'the deleted widget is back: the delete rolled back',
        );
        assert.equal(await latestSeq(tenantA.tenantId), seqBefore, 'no change event');
        const auditAfter = Number((await db.knex('audit_logs').where({ tenant_id: tenantA.tenantId }).count('* as n'))[0].n);
        assert.equal(auditAfter, auditBefore, 'no audit entry');
        assert.deepEqual(heard, [], 'the bus heard nothing');

        const ok = await createTeam(node.url, tenantA.token);
        await waitFor(() => a.events.length >= 1, 'the good write');
        await sleep(150);
        assert.deepEqual(
          a.events.map((e) => e.entity_id),
          [ok],
        );
        assert.equal(a.events[0].seq, seqBefore + 1, 'the rolled-back write used no seq');
        assert.deepEqual(
          heard.map((e) => (e as { entity_id: string }).entity_id),
          [ok],
        );
      } finally {
        unsubscribe();
      }
    });
  });

  describe('subscribe / unsubscribe', () => {
    it('narrows by entity type, entity id and event type, and widens again on unsubscribe', async () => {
      const dashboard = await live({ token: tenantA.token });
      const incidentView = await live({ token: tenantA.token });
      const everything = await live({ token: tenantA.token });
      const watched = await createTeam(node.url, tenantA.token);
      for (const c of [dashboard, incidentView, everything]) await waitFor(() => c.events.length === 1, 'the team');
      dashboard.events.length = 0;
      incidentView.events.length = 0;

      assert.deepEqual(await dashboard.emitWithAck('subscribe', { entity_types: ['services'] }), { ok: true });
      assert.deepEqual(await dashboard.emitWithAck('subscribe', { types: ['teams.deleted'] }), { ok: true });
      assert.deepEqual(await incidentView.emitWithAck('subscribe', { entity_ids: [watched], types: ['teams.updated'] }), { ok: true });
      const baseline = everything.events.length;

      await rest(node.url, 'PATCH', `/teams/${watched}`, tenantA.token, { description: 'watched' });
      const other = await createTeam(node.url, tenantA.token);
      await rest(node.url, 'PATCH', `/teams/${other}`, tenantA.token, { description: 'not watched' });
      const svc = await rest(node.url, 'POST', '/services', tenantA.token, { name: 'checkout', type: 'api' });
      assert.equal(svc.status, 201, JSON.stringify(svc.body));
      await rest(node.url, 'DELETE', `/teams/${other}`, tenantA.token);

      await waitFor(() => everything.events.length >= baseline + 5, 'five events on the unfiltered socket');
      await waitFor(() => dashboard.events.length >= 2 && incidentView.events.length >= 1, 'the filtered sockets');
      await sleep(200);
      assert.deepEqual(
        dashboard.events.map((e) => e.type),
        ['services.created', 'teams.deleted'],
      );
      assert.deepEqual(
        incidentView.events.map((e) => [e.type, e.entity_id]),
        [['teams.updated', watched]],
      );
      assert.ok(isConsecutive(everything.seqs().slice(baseline), everything.events[baseline].seq, everything.events.at(-1)!.seq));

      // Removing one subscription keeps the other; `{}` removes them all: everything again.
      assert.deepEqual(await dashboard.emitWithAck('unsubscribe', { types: ['teams.deleted'] }), { ok: true });
      await createTeam(node.url, tenantA.token);
      await rest(node.url, 'POST', '/services', tenantA.token, { name: 'billing', type: 'api' });
      await waitFor(() => dashboard.events.length >= 3, 'services.created after unsubscribe');
      assert.equal(dashboard.events.at(-1)!.type, 'services.created');
      assert.deepEqual(await dashboard.emitWithAck('unsubscribe', {}), { ok: true });
      const seen = dashboard.events.length;
      await createTeam(node.url, tenantA.token);
      await waitFor(() => dashboard.events.length > seen, 'teams.created after unsubscribing everything');
      assert.equal(dashboard.events.at(-1)!.type, 'teams.created');
    });

    it('answers a bad payload with a clear error ack and keeps the socket usable', async () => {
      const client = await live({ token: tenantA.token });
      const cases: Array<[unknown, string]> = [
        [{ entity_types: 'services' }, 'entity_types'],
        [{ entity_ids: ['not-a-uuid'] }, 'entity_ids.0'],
        [{ types: ['DROP TABLE'] }, 'types.0'],
        [{ colour: 'blue' }, 'colour'],
        [{}, '(root)'],
        ['services', '(root)'],
        [null, '(root)'],
      ];
      for (const [payload, path] of cases) {
        const ack = await client.emitWithAck('subscribe', payload);
        assert.equal(ack.ok, false, JSON.stringify(payload));
        if (ack.ok) continue;
        assert.equal(ack.error.title, 'Invalid subscription');
        assert.ok(
          ack.error.errors.some((e) => e.path === path),
          `${JSON.stringify(payload)} → ${JSON.stringify(ack.error.errors)}`,
        );
      }
      const unsub = await client.emitWithAck('unsubscribe', { entity_ids: [42] });
      assert.equal(unsub.ok, false);
      // A payload without an ack callback, or garbage events, do not drop the socket either.
      client.socket.emit('subscribe', { nonsense: true } as never);
      (client.socket as unknown as { emit: (...a: unknown[]) => void }).emit('no-such-event', 1, 2, 3);
      await sleep(100);
      assert.ok(client.socket.connected);
      assert.deepEqual(await client.emitWithAck('subscribe', { entity_types: ['teams'] }), { ok: true });
      const id = await createTeam(node.url, tenantA.token);
      await waitFor(() => client.events.some((e) => e.entity_id === id), 'the event after the bad payloads');
    });
  });

  describe('resume with since', () => {
    it('replays everything after since in order, then goes live without a gap or duplicate, writes during the replay included', async () => {
      const since = await latestSeq(tenantA.tenantId);
      for (let i = 0; i < 30; i++) await createTeam(node.url, tenantA.token);
      // Writes keep committing while the client connects and replays.
      let writing = true;
      const writer = (async () => {
        let n = 0;
        while (writing && n < 40) {
          await createTeam(node.url, tenantA.token);
          n++;
        }
      })();
      const client = await live({ token: tenantA.token, since });
      await sleep(150);
      writing = false;
      await writer;
      await createTeam(node.url, tenantA.token); // and one more, surely live
      const latest = await latestSeq(tenantA.tenantId);
      await waitFor(() => client.lastSeq === latest, `seq ${latest}`);
      await sleep(200);
      assert.ok(isConsecutive(client.seqs(), since + 1, latest), `got ${client.seqs().join(',')}`);
    });

    it('says caught_up once the replay is over, before any live event (and at once without since)', async () => {
      const since = await latestSeq(tenantA.tenantId);
      for (let i = 0; i < 5; i++) await createTeam(node.url, tenantA.token);
      const resumed = await live({ token: tenantA.token, since });
      const fresh = await live({ token: tenantA.token });
      await waitFor(() => resumed.caughtUp.length === 1 && fresh.caughtUp.length === 1, 'caught_up on both sockets');
      assert.deepEqual(resumed.caughtUp[0], { seq: since + 5, replayed: 5, afterEvents: 5 });
      assert.deepEqual(fresh.caughtUp[0], { seq: since + 5, replayed: 0, afterEvents: 0 });
      await createTeam(node.url, tenantA.token);
      await waitFor(() => resumed.lastSeq === since + 6 && fresh.lastSeq === since + 6, 'the next live event');
      assert.equal(resumed.caughtUp.length, 1, 'once per connection');
      assert.deepEqual(fresh.seqs(), [since + 6]);
    });

    it('replays the whole log from since 0', async () => {
      const latest = await latestSeq(tenantB.tenantId);
      const client = await live({ token: tenantB.token, since: '0' }); // a stored since may be a string
      await waitFor(() => client.events.length >= latest, 'the whole log');
      assert.ok(isConsecutive(client.seqs(), 1, latest));
      assert.ok(client.events.every((e) => e.tenant_id === tenantB.tenantId));
    });

    it('asks for a resync when since is ahead of the log (another database) or negative', async () => {
      const latest = await latestSeq(tenantA.tenantId);
      const ahead = await live({ token: tenantA.token, since: latest + 1000 });
      const negative = await live({ token: tenantA.token, since: -1 });
      await waitFor(() => ahead.resyncs.length === 1 && negative.resyncs.length === 1, 'resync_required');
      assert.deepEqual(ahead.resyncs[0], { since: latest + 1000, latest_seq: latest, reason: 'ahead_of_log' });
      assert.deepEqual(negative.resyncs[0], { since: -1, latest_seq: latest, reason: 'before_retained_log' });
      assert.equal(ahead.events.length, 0);
      // Live from latest_seq on.
      await createTeam(node.url, tenantA.token);
      await waitFor(() => ahead.events.length === 1 && negative.events.length === 1, 'the next live event');
      assert.equal(ahead.events[0].seq, latest + 1);
      assert.equal(negative.events[0].seq, latest + 1);
    });
  });

  describe('revocation', () => {
    it("revoking an API key disconnects that key's sockets, and only those", async () => {
      const created = await rest(node.url, 'POST', '/api-keys', tenantA.token, { name: 'wallboard', scope: 'read' });
      const other = await rest(node.url, 'POST', '/api-keys', tenantA.token, { name: 'other', scope: 'read' });
      const byKey = await live({ token: created.body.data.key });
      const byOtherKey = await live({ token: other.body.data.key });
      const byToken = await live({ token: tenantA.token });

      assert.equal((await rest(node.url, 'DELETE', `/api-keys/${created.body.data.id}`, tenantA.token)).status, 204);
      await waitFor(() => !byKey.socket.connected, 'the revoked key to be disconnected');
      assert.deepEqual(byKey.revocations, ['api_key_revoked']);
      assert.deepEqual(byKey.disconnects, ['io server disconnect']);
      await waitFor(() => byToken.events.some((e) => e.type === 'api_keys.deleted'), 'the revocation event');
      assert.ok(byOtherKey.socket.connected && byToken.socket.connected);
      // And the revoked key cannot come back.
      assert.equal((await connectError(node.url, { token: created.body.data.key })).message, 'unauthorized');
    });

    it("deactivating or deleting a user disconnects that user's sockets (login tokens and keys)", async () => {
      const slug = (await db.knex('tenants').where({ id: tenantA.tenantId }).first()).slug as string;
      const password = 'long enough password';
      async function newAdmin() {
        const created = await rest(node.url, 'POST', '/users', tenantA.token, {
          email: `ops-${Math.random().toString(36).slice(2)}@example.com`,
          display_name: 'Ops',
          role: 'admin',
          password,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const login = await rest(node.url, 'POST', '/auth/login', undefined, { tenant_slug: slug, email: created.body.data.email, password });
        const token = login.body.data.access_token as string;
        const key = (await rest(node.url, 'POST', '/api-keys', token, { name: 'ops', scope: 'read' })).body.data.key as string;
        return { id: created.body.data.id as string, token, key };
      }
      const [deactivated, deleted] = await Promise.all([newAdmin(), newAdmin()]);
      const sockets = {
        deactivated: [await live({ token: deactivated.token }), await live({ token: deactivated.key })],
        deleted: [await live({ token: deleted.token }), await live({ token: deleted.key })],
      };
      const admin = await live({ token: tenantA.token });

      assert.equal((await rest(node.url, 'PATCH', `/users/${deactivated.id}`, tenantA.token, { is_active: false })).status, 200);
      await waitFor(() => sockets.deactivated.every((c) => !c.socket.connected), "the deactivated user's sockets to close");
      assert.ok(sockets.deleted.every((c) => c.socket.connected));
      assert.equal((await rest(node.url, 'DELETE', `/users/${deleted.id}`, tenantA.token)).status, 204);
      await waitFor(() => sockets.deleted.every((c) => !c.socket.connected), "the deleted user's sockets to close");

      for (const client of [...sockets.deactivated, ...sockets.deleted]) assert.deepEqual(client.revocations, ['user_deactivated']);
      assert.ok(admin.socket.connected);
      assert.equal((await connectError(node.url, { token: deactivated.token })).message, 'unauthorized');
      assert.equal((await connectError(node.url, { token: deleted.key })).message, 'unauthorized');
    });

    it("a role change disconnects the user's sockets, and a demoted admin reconnects to redacted events", async () => {
      const slug = (await db.knex('tenants').where({ id: tenantA.tenantId }).first()).slug as string;
      const password = 'long enough password';
      const made = await rest(node.url, 'POST', '/users', tenantA.token, {
        email: `demoted-${Math.random().toString(36).slice(2)}@example.com`,
        display_name: 'Demoted',
        role: 'admin',
        password,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const login = await rest(node.url, 'POST', '/auth/login', undefined, { tenant_slug: slug, email: made.body.data.email, password });
      const token = login.body.data.access_token as string;
      const before = await live({ token });
      const bystander = await live({ token: tenantA.token });

      assert.equal((await rest(node.url, 'PATCH', `/users/${made.body.data.id}`, tenantA.token, { role: 'viewer' })).status, 200);
      await waitFor(() => !before.socket.connected, "the demoted admin's socket to close");
      assert.deepEqual(before.revocations, ['role_changed']);
      assert.ok(bystander.socket.connected);
      // Reconnected, the same token now sees admin-only records redacted.
      const after = await live({ token });
      const key = await rest(node.url, 'POST', '/api-keys', tenantA.token, { name: 'seen-redacted', scope: 'read' });
      await waitFor(() => after.events.some((e) => e.type === 'api_keys.created'), 'the key event');
      const seen = after.events.find((e) => e.type === 'api_keys.created')!;
      assert.deepEqual(seen.data, { id: key.body.data.id });
      assert.equal(seen.changes, null);
    });

    it('a key revoked between its handshake check and joining the stream does not slip through', async () => {
      const created = await rest(node.url, 'POST', '/api-keys', tenantA.token, { name: 'racer', scope: 'read' });
      const racingKey = created.body.data.key as string;
      const bystander = await live({ token: tenantA.token }); // keeps the tenant's stream running
      // Hold the racer's handshake right after its token was found valid.
      const handshake = holdHandshake(node.domain.auth, racingKey);
      try {
        const racer = new LiveClient(node.url, { token: racingKey });
        clients.push(racer);
        await waitFor(() => handshake.held(), 'the handshake to be held');
        assert.equal((await rest(node.url, 'DELETE', `/api-keys/${created.body.data.id}`, tenantA.token)).status, 204);
        await waitFor(() => bystander.events.some((e) => e.type === 'api_keys.deleted'), 'the revocation to be delivered');
        handshake.release();
        await racer.connected();
        await waitFor(() => !racer.socket.connected, 'the racing socket to be disconnected');
        assert.deepEqual(racer.revocations, ['token_revoked']);
      } finally {
        handshake.restore();
      }
    });
  });

  it('shuts down gracefully: sockets are told to reconnect and the node stops accepting', async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', JWT_SECRET, LOG_LEVEL: 'error' });
    const spare = await startServer({ config, knex: db.knex, logger: quietLogger });
    const client = await connectLive(spare.url, { token: tenantA.token, reconnect: true });
    clients.push(client);
    await spare.close();
    await waitFor(() => client.disconnects.length > 0, 'the disconnect');
    assert.equal(client.serverShutdowns, 1);
    assert.equal(client.disconnects[0], 'transport close', 'a transport close makes socket.io-client reconnect');
    assert.equal(spare.live.localSocketCount(), 0);
    await assert.rejects(fetch(`${spare.url}/healthz`));
  });
});
