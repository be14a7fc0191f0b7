// The co-editing store's compaction in isolation, against a real PostgreSQL: what it folds into
// the snapshot must be everything the log held, so it never deletes an update the snapshot lacks.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import { CollabStorage } from '../src/platform/collab/storage.js';
import { createTenant } from './support/factories.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';

describe('co-editing storage: compaction', () => {
  let db: TestDatabase;

  before(async function () {
    this.timeout(60_000);
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  function stored(storage: CollabStorage, documentId: string): Promise<Y.Doc> {
    return storage.read(documentId).then((s) => {
      const doc = new Y.Doc();
      if (s.snapshot) Y.applyUpdate(doc, s.snapshot);
      for (const u of s.updates) Y.applyUpdate(doc, u.update);
      return doc;
    });
  }

  it('keeps an update whose dependency is not stored yet, and folds it once the dependency arrives', async () => {
    const storage = new CollabStorage(db.knex);
    const tenantId = await createTenant(db.knex);
    const { documentId } = await storage.open({ tenantId, entityType: 'services', entityId: randomUUID() }, async () => Y.encodeStateAsUpdate(new Y.Doc()));
    // One client's two edits: the second builds on the first (the same client's next clock).
    const client = new Y.Doc();
    const updates: Uint8Array[] = [];
    client.on('update', (u: Uint8Array) => updates.push(u));
    client.getText('description').insert(0, 'first ');
    client.getText('description').insert(6, 'second');
    assert.equal(updates.length, 2);

    // The second arrives first (the first still on its way, say after a reconnection).
    await storage.append(documentId, [{ update: updates[1], actorId: null }]);
    assert.equal(await storage.compact(documentId), null, 'nothing folded while an update cannot integrate');
    assert.equal((await storage.read(documentId)).updates.length, 1, 'the log keeps it');

    await storage.append(documentId, [{ update: updates[0], actorId: null }]);
    const folded = await storage.compact(documentId);
    assert.equal(folded?.folded, 2);
    const doc = await stored(storage, documentId);
    assert.equal(doc.getText('description').toString(), 'first second');
    assert.equal((await storage.read(documentId)).updates.length, 0);
  });
});
