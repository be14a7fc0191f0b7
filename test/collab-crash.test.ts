// Co-editing durability (an update is stored before it is relayed, so a kill -9 loses no relayed
// edit): a node is SIGKILLed right after an editor's update reached another client; the restarted
// node's document still holds it, and the edit still gets projected into the row, attributed to
// its author.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { TEST_JWT_SECRET, createService, openEditor, signupTenant, waitFor, type Editor } from './support/collab-client.js';
import { killChildNode, startChildNode, type ChildNode } from './support/child-node.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { ApiClient } from './support/server.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./support/collab-node.ts', import.meta.url));
const childEnv = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: '',
  JWT_SECRET: TEST_JWT_SECRET,
  LOG_LEVEL: 'error',
});

describe('co-editing durability: kill -9 right after a relay', function () {
  this.timeout(60_000);

  let db: TestDatabase;
  const children: ChildNode[] = [];
  const editors: Editor[] = [];

  before(async () => {
    db = await createTestDatabase();
  });

  after(async function () {
    this.timeout(30_000);
    for (const e of editors) e.destroy();
    for (const c of children) await killChildNode(c);
    await db?.drop();
  });

  it('the restarted node’s document holds the update another client had seen', async () => {
    const first = await startChildNode(CHILD_SCRIPT, childEnv(db.url));
    children.push(first);
    const tenant = await signupTenant(first.url);
    const svc = await createService(tenant, { description: 'base' });
    const room = `services/${svc.id}`;
    const a = await openEditor(first.url, room, tenant.admin.token);
    const b = await openEditor(first.url, room, tenant.admin.token);
    editors.push(a, b);

    const relayed = new Promise<void>((resolve) => {
      b.description.observe(() => {
        if (b.description.toString().includes('survives')) {
          first.child.kill('SIGKILL'); // the instant the other client has it
          resolve();
        }
      });
    });
    a.doc.transact(() => {
      a.description.insert(0, 'survives ');
      a.fields.set('status', 'deprecated');
    });
    await relayed;
    await first.exited;
    for (const e of editors.splice(0)) e.destroy();

    const second = await startChildNode(CHILD_SCRIPT, childEnv(db.url));
    children.push(second);
    const c = await openEditor(second.url, room, tenant.admin.token);
    editors.push(c);
    assert.equal(c.description.toString(), 'survives base');
    assert.equal(c.fields.get('status'), 'deprecated');

    // The edit never reached the row before the crash; loading the document projects it, as its author.
    const row = await waitFor(
      'the recovered edit in the row',
      async () => {
        const res = await new ApiClient(second.url, tenant.admin.token).get(`/api/v1/services/${svc.id}`);
        return res.body.data.description === 'survives base' && res.body.data;
      },
      10_000,
    );
    assert.equal(row.status, 'deprecated');
    const audit = await db.knex('audit_logs').where({ entity_id: svc.id, action: 'update' }).orderBy('timestamp', 'desc').first();
    assert.equal(audit.user_id, tenant.admin.id);
    assert.deepEqual(audit.metadata.co_actors, [tenant.admin.id]);
  });

  it('edits folded by the compaction after N updates survive a crash before their projection', async () => {
    const first = await startChildNode(CHILD_SCRIPT, childEnv(db.url));
    children.push(first);
    const tenant = await signupTenant(first.url);
    const svc = await createService(tenant, { description: 'base' });
    const room = `services/${svc.id}`;
    const a = await openEditor(first.url, room, tenant.admin.token);
    const b = await openEditor(first.url, room, tenant.admin.token);
    editors.push(a, b);
    // 200 updates, each its own: the log reaches the compaction threshold before any projection
    // (the child node projects after a minute). A fold now would drop the updates' authors, so the
    // log must keep them, and the snapshot must not have taken them.
    for (let i = 0; i < 200; i++) a.description.insert(a.description.length, ` ${i}`);
    await waitFor('the other client to have every edit', () => b.description.toString().endsWith(' 199'), 20_000);
    const document = () =>
      db.knex('collab_documents').where({ tenant_id: tenant.tenantId, entity_type: 'services', entity_id: svc.id }).first('id', 'snapshot_update_id');
    const { id: documentId } = await document();
    await waitFor(
      'every update in the log, with its author',
      async () => {
        const [{ count }] = await db.knex('collab_updates').where({ document_id: documentId }).whereNotNull('actor_id').count({ count: '*' });
        return Number(count) >= 200;
      },
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the fold after N updates, and its retry, had their turn
    const relayed = b.description.toString();
    first.child.kill('SIGKILL');
    await first.exited;
    for (const e of editors.splice(0)) e.destroy();
    assert.equal(Number((await document()).snapshot_update_id), 0, 'nothing was folded before the projection');

    const second = await startChildNode(CHILD_SCRIPT, childEnv(db.url));
    children.push(second);
    const c = await openEditor(second.url, room, tenant.admin.token);
    editors.push(c);
    // The load's projection runs at once: the edits are written on their author's behalf, not reverted.
    const row = await waitFor(
      'the recovered edits in the row',
      async () => {
        const res = await new ApiClient(second.url, tenant.admin.token).get(`/api/v1/services/${svc.id}`);
        return res.body.data.description !== 'base' && res.body.data;
      },
      10_000,
    ).catch(() => undefined);
    assert.equal(c.description.toString(), relayed, 'every relayed edit is still in the document');
    assert.equal(row?.description, relayed);
  });
});
