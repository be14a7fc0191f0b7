// Co-editing across nodes (updates and awareness travel through Redis): two app nodes sharing one
// PostgreSQL and one Redis; editors on different nodes converge, one node projects each document,
// REST writes and revocations on one node reach documents and connections on both.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { startServer, type AppHandle } from '../src/app.js';
import type { CollabHandle } from '../src/platform/collab/server.js';
import { createKnex } from '../src/platform/db.js';
import {
  addMember,
  testCollabOptions,
  createService,
  openEditor,
  signupTenant,
  sleep,
  waitFor,
  type Editor,
  type Member,
  type TestTenant,
} from './support/collab-client.js';
import { quietLogger } from './support/factories.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';
import { testConfig } from './support/server.js';

describe('co-editing across two nodes over Redis', function () {
  requireRedis(this);
  this.timeout(20_000);

  let db: TestDatabase;
  const pools: Knex[] = [];
  const nodes: AppHandle[] = [];
  const collabs: CollabHandle[] = [];
  let tenant: TestTenant;
  let editorB: Member;
  let viewer: Member;
  const open: Editor[] = [];
  const prefix = `collab-test-${randomUUID().slice(0, 8)}`;

  const url = (i: number) => nodes[i].url;
  const edit = async (node: number, token: string, svc: { id: string }) => {
    const e = await openEditor(url(node), `services/${svc.id}`, token);
    open.push(e);
    return e;
  };
  const info = (svc: { id: string }) => collabs.map((c) => c.documentInfo(tenant.tenantId, 'services', svc.id));

  before(async function () {
    this.timeout(60_000);
    const redis = (await getRedis())!;
    db = await createTestDatabase();
    for (let i = 0; i < 2; i++) {
      const knex = createKnex(db.url, { poolMax: 5 });
      pools.push(knex);
      const config = testConfig({ redisUrl: redis.url, databaseUrl: db.url, mode: 'cluster', nodeId: `collab-node-${i}` });
      const app = await startServer({ config, knex, logger: quietLogger, live: { redisPrefix: prefix }, collab: testCollabOptions() });
      nodes.push(app);
      collabs.push(app.collab);
    }
    tenant = await signupTenant(url(0));
    editorB = await addMember(url(0), tenant, 'editor');
    viewer = await addMember(url(0), tenant, 'viewer');
  });

  afterEach(() => {
    for (const e of open.splice(0)) e.destroy();
  });

  after(async function () {
    this.timeout(30_000);
    for (const c of collabs) await c.close();
    for (const n of nodes) await n.close();
    for (const p of pools) await p.destroy();
    await db?.drop();
  });

  it('converges editors on two nodes on concurrent edits; a late joiner on either node gets everything; awareness crosses nodes', async () => {
    const svc = await createService(tenant, { description: 'middle' });
    const a = await edit(0, tenant.admin.token, svc);
    const b = await edit(1, editorB.token, svc);
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' });
    a.provider.awareness.setLocalStateField('cursor', 'Ada');
    a.doc.transact(() => {
      a.description.insert(0, 'A ');
      a.fields.set('name', `${svc.name}-a`);
      a.attributes.set('protocol', 'grpc');
    });
    b.doc.transact(() => {
      b.description.insert(b.description.length, ' B');
      b.fields.set('status', 'planned');
      b.attributes.set('sla', '99.99');
    });
    const full = (e: Editor) =>
      e.description.toString() === 'A middle B' &&
      e.fields.get('name') === `${svc.name}-a` &&
      e.fields.get('status') === 'planned' &&
      e.attributes.get('protocol') === 'grpc' &&
      e.attributes.get('sla') === '99.99';
    await waitFor('the two nodes’ editors to converge', () => full(a) && full(b));
    await waitFor('awareness from node 0 on node 1', () => [...b.provider.awareness.getStates().values()].some((s) => s.cursor === 'Ada'));
    // Presence names the signed-in user on every node, not what the client put in `user`.
    const fromA = b.provider.awareness.getStates().get(a.doc.clientID);
    assert.deepEqual(fromA?.user, { id: tenant.admin.id, name: 'Admin', role: 'admin' });
    for (const node of [0, 1]) {
      const late = await edit(node, viewer.token, svc);
      assert.ok(full(late), `a late joiner on node ${node} has the full state`);
    }
  });

  it("keeps a viewer's edits on one node away from the other node", async () => {
    const svc = await createService(tenant, { description: 'kept' });
    const a = await edit(0, tenant.admin.token, svc);
    const v = await edit(1, viewer.token, svc);
    v.description.insert(0, 'VIEWER ');
    a.fields.set('status', 'maintenance');
    await waitFor('the editor’s edit at the viewer', () => v.fields.get('status') === 'maintenance');
    const again = await edit(1, editorB.token, svc);
    assert.equal(again.description.toString(), 'kept');
    assert.equal(a.description.toString(), 'kept');
  });

  it('has exactly one node project a document, attributing co-edits from both nodes to both editors', async () => {
    const svc = await createService(tenant);
    const a = await edit(0, tenant.admin.token, svc);
    const b = await edit(1, editorB.token, svc);
    await waitFor('both nodes to hold the document', () => info(svc).every((i) => i !== null));
    assert.equal(info(svc).filter((i) => i!.projector).length, 1, 'one projector');
    a.fields.set('name', `${svc.name}-both`);
    b.description.insert(0, 'From node 1. ');
    const row = await waitFor('both edits in the row', async () => {
      const data = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
      return data.name === `${svc.name}-both` && data.description === 'From node 1. The first line.' && data;
    });
    const audits = await db.knex('audit_logs').where({ entity_id: svc.id, action: 'update' });
    const coActors = new Set(audits.flatMap((r) => (r.metadata.co_actors ?? []) as string[]));
    assert.ok(coActors.has(tenant.admin.id) && coActors.has(editorB.id), `co_actors ${[...coActors].join(',')}`);
    // One projector: every version is written once (no competing writes racing on row_version).
    const events = await db.knex('change_events').where({ entity_id: svc.id, type: 'services.updated' });
    assert.equal(events.length, row.row_version - svc.row_version);
    assert.equal(info(svc).filter((i) => i!.projector).length, 1, 'still one projector');
  });

  it('applies a REST PATCH made on one node into the documents on both nodes', async () => {
    const svc = await createService(tenant);
    const a = await edit(0, editorB.token, svc);
    const b = await edit(1, viewer.token, svc);
    const res = await editorB.client.patch(`/api/v1/services/${svc.id}`, { name: 'via-rest', attributes: { protocol: 'amqp' } });
    assert.equal(res.status, 200, res.text);
    for (const e of [a, b]) {
      await waitFor('the REST change in the document', () => e.fields.get('name') === 'via-rest' && e.attributes.get('protocol') === 'amqp');
    }
  });

  it('hands projection to the other node when the projector’s clients leave', async () => {
    const svc = await createService(tenant);
    const a = await edit(0, tenant.admin.token, svc);
    await waitFor('node 0 to project', () => info(svc)[0]?.projector);
    const b = await edit(1, editorB.token, svc);
    a.destroy();
    await waitFor('node 0 to unload', () => info(svc)[0] === null);
    await waitFor('node 1 to take over', () => info(svc)[1]?.projector, 5_000);
    b.fields.set('name', `${svc.name}-after-handover`);
    await waitFor(
      'the edit in the row',
      async () => (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data.name === `${svc.name}-after-handover`,
    );
  });

  it('catches up from PostgreSQL after a Redis outage: edits made meanwhile reach the other node', async function () {
    const redis = (await getRedis())!;
    if (!redis.managed) this.skip(); // a REDIS_URL server is not ours to kill
    const svc = await createService(tenant, { description: 'steady' });
    const a = await edit(0, tenant.admin.token, svc);
    const b = await edit(1, editorB.token, svc);
    await redis.stop();
    a.description.insert(0, 'while-down ');
    b.fields.set('status', 'maintenance');
    await sleep(300);
    assert.equal(b.description.toString(), 'steady', 'nothing crosses nodes without Redis');
    await redis.restart();
    await waitFor('node 1 to catch up', () => b.description.toString() === 'while-down steady', 10_000);
    await waitFor('node 0 to catch up', () => a.fields.get('status') === 'maintenance', 10_000);
    // Relaying works again after the outage.
    a.attributes.set('sla', '99.5');
    await waitFor('a live relay after the outage', () => b.attributes.get('sla') === '99.5');
    // The leases died with Redis; a node takes projection over again and the row catches up.
    await waitFor(
      'the outage’s edits in the row',
      async () => {
        const data = (await tenant.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
        return data.description === 'while-down steady' && data.status === 'maintenance' && data.attributes.sla === '99.5';
      },
      10_000,
    );
    assert.equal(info(svc).filter((i) => i!.projector).length, 1, 'one projector again');
  });

  it('closes a revoked user’s connections on every node', async () => {
    const svc = await createService(tenant);
    const member = await addMember(url(0), tenant, 'editor');
    const onNode = await Promise.all([edit(0, member.token, svc), edit(1, member.token, svc)]);
    const closed = onNode.map((e) => new Promise<number>((resolve) => e.provider.on('connection-close', (ev) => ev && resolve(ev.code))));
    assert.equal((await tenant.admin.client.delete(`/api/v1/users/${member.id}`)).status, 204);
    assert.deepEqual(await Promise.all(closed), [4401, 4401]);
  });
});
