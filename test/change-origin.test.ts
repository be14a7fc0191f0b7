// Every change carries its origin (rest, coediting, system, seed) on its change-log row and its bus
// message, so co-editing tells its own echo from a new change; the public envelope (sockets,
// GET /events) never shows it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadSampleData } from '../seeds/sample.js';
import { createDomain } from '../src/composition.js';
import { InProcessEventBus, type ChangeEvent } from '../src/platform/bus.js';
import { systemContext } from '../src/platform/context.js';
import { openEditor, signupTenant, testCollabOptions, waitFor, type Editor, type TestTenant } from './support/collab-client.js';
import { quietLogger } from './support/factories.js';
import { LiveClient } from './support/live-events.js';
import { createTestDatabase } from './support/postgres.js';
import { startTestApp, type TestApp } from './support/server.js';

describe('change origin', function () {
  this.timeout(30_000);
  let app: TestApp;
  let tenant: TestTenant;
  const published: ChangeEvent[] = [];
  const clients: LiveClient[] = [];
  const editors: Editor[] = [];

  const originsOf = (entityId: string) =>
    app.db.knex('change_events').where({ tenant_id: tenant.tenantId, entity_id: entityId }).orderBy('seq').select('type', 'origin');

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp({ collab: testCollabOptions() });
    app.app.domain.bus.subscribe((events) => published.push(...events));
    tenant = await signupTenant(app.url);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const e of editors.splice(0)) e.destroy();
  });

  after(async function () {
    this.timeout(30_000);
    await app?.close();
  });

  it('a REST write is stored and published with origin rest; the socket envelope and GET /events have no origin', async () => {
    const live = new LiveClient(app.url, { token: tenant.admin.token });
    clients.push(live);
    await live.connected();
    const res = await tenant.admin.client.post('/api/v1/teams', { name: `origin-${randomBytes(4).toString('hex')}` });
    assert.equal(res.status, 201, res.text);
    const id = res.body.data.id as string;

    assert.deepEqual(await originsOf(id), [{ type: 'teams.created', origin: 'rest' }]);
    const onBus = published.find((e) => e.entity_id === id);
    assert.equal(onBus?.origin, 'rest', 'the bus message carries the origin');

    await waitFor('the socket to get the event', () => live.events.some((e) => e.entity_id === id));
    const envelope = live.events.find((e) => e.entity_id === id)!;
    assert.ok(!('origin' in envelope), 'no origin in the socket envelope');

    const log = await tenant.admin.client.get(`/api/v1/events?since=${envelope.seq - 1}&limit=1`);
    assert.equal(log.status, 200, log.text);
    assert.equal(log.body.data[0].entity_id, id);
    assert.ok(!('origin' in log.body.data[0]), 'no origin in GET /events');

    // Replay reads the log: the replayed envelope has no origin either.
    const replayed = new LiveClient(app.url, { token: tenant.admin.token, since: envelope.seq - 1 });
    clients.push(replayed);
    await replayed.connected();
    await waitFor('the replay', () => replayed.events.some((e) => e.entity_id === id));
    assert.ok(
      replayed.events.every((e) => !('origin' in e)),
      'no origin in replayed envelopes',
    );
  });

  it('the change log read back keeps the origin (replay and catch-up see it)', async () => {
    const res = await tenant.admin.client.post('/api/v1/teams', { name: `origin-${randomBytes(4).toString('hex')}` });
    const ctx = systemContext(tenant.tenantId, app.db.knex);
    const latest = await app.app.domain.changeLog.latestSeq(ctx);
    const [event] = await app.app.domain.changeLog.since(ctx, latest - 1, 1);
    assert.equal(event.entity_id, res.body.data.id);
    assert.equal(event.origin, 'rest');
  });

  it('a co-editing projection is stored with origin coediting', async () => {
    const created = await tenant.admin.client.post('/api/v1/services', { name: `svc-${randomBytes(4).toString('hex')}`, type: 'api' });
    assert.equal(created.status, 201, created.text);
    const id = created.body.data.id as string;
    const editor = await openEditor(app.url, `services/${id}`, tenant.admin.token);
    editors.push(editor);
    editor.description.insert(0, 'typed in the document');
    await waitFor('the projection', async () => (await originsOf(id)).some((r) => r.type === 'services.updated'));
    assert.deepEqual(await originsOf(id), [
      { type: 'services.created', origin: 'rest' },
      { type: 'services.updated', origin: 'coediting' },
    ]);
    assert.equal(published.find((e) => e.entity_id === id && e.type === 'services.updated')?.origin, 'coediting');
  });

  it('a write in a system context is stored with origin system', async () => {
    const team = await app.app.domain.entities.teams.create(systemContext(tenant.tenantId, app.db.knex), { name: 'by the system' });
    assert.deepEqual(await originsOf(String(team.id)), [{ type: 'teams.created', origin: 'system' }]);
  });

  it('the sample data is seeded with origin seed', async function () {
    this.timeout(60_000);
    const db = await createTestDatabase();
    try {
      const domain = createDomain({ knex: db.knex, bus: new InProcessEventBus(), logger: quietLogger, jwtSecret: randomBytes(32).toString('hex') });
      const { tenantId } = await loadSampleData(domain);
      const origins = await db.knex('change_events').where({ tenant_id: tenantId }).distinct('origin').pluck('origin');
      assert.deepEqual(origins, ['seed']);
    } finally {
      await db.drop();
    }
  });

  it('the database refuses an origin outside the four', async () => {
    await assert.rejects(
      app.db.knex('change_events').insert({
        tenant_id: tenant.tenantId,
        seq: 1_000_000,
        type: 'teams.created',
        entity_type: 'teams',
        action: 'created',
        actor_type: 'system',
        origin: 'elsewhere',
      }),
      (err: { code?: string }) => err.code === '23514',
    );
  });
});
