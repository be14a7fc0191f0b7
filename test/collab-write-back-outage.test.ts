// A write-back whose row COMMIT lands while the document update recording it (the new base) never
// does: the node dies, storage fails, or a Redis outage keeps it from the node that takes the
// projector over. The next merge must not take the row's new values for a REST change and copy
// them over the edits made since (a text replaced by an older one deletes those edits for good).
// The projection runs on real domain services and a real PostgreSQL; the document's storage and
// relay are played by the test, so each crash lands exactly where it should.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type { DocumentHandle } from '../src/platform/collab/hooks.js';
import { Attribution, contributorKey } from '../src/modules/coediting/attribution.js';
import { initialUpdate, readBase } from '../src/modules/coediting/layout.js';
import type { CoeditingPorts, RecordLayout } from '../src/modules/coediting/ports.js';
import { Projector, type ProjectionTarget } from '../src/modules/coediting/projection.js';
import { ProjectorRole } from '../src/modules/coediting/projector-role.js';
import { coeditingPorts } from '../src/ports.js';
import { quietLogger } from './support/factories.js';
import { startTestApp, type TestApp } from './support/server.js';

const EDITOR_ORIGIN = { source: 'editor' };

describe('co-editing: a write-back whose base is lost', () => {
  let t: TestApp;
  let ports: CoeditingPorts;
  let layout: RecordLayout;
  let admin: Awaited<ReturnType<TestApp['signup']>>;

  before(async function () {
    this.timeout(60_000);
    t = await startTestApp();
    ports = coeditingPorts(t.app.domain);
    layout = ports.layoutOf('services')!;
    admin = await t.signup();
  });
  after(async () => {
    await t?.close();
  });

  /** A service with a description, and a document of it whose every update is kept as "stored". */
  async function record() {
    const res = await t.client(admin.token).post('/api/v1/services', { name: `svc-${randomUUID().slice(0, 8)}`, type: 'api', description: 'Start.' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const row = await ports.readRow(admin.tenantId, 'services', res.body.data.id);
    const first = initialUpdate(layout, row!);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, first);
    const stored: Uint8Array[] = [first];
    doc.on('update', (u: Uint8Array) => stored.push(u));
    return { id: res.body.data.id as string, doc, stored };
  }

  function edit(doc: Y.Doc, attribution: Attribution, text: string): void {
    const description = doc.getText('description');
    doc.transact(() => description.insert(description.length, text), EDITOR_ORIGIN);
    attribution.note(contributorKey(admin.userId), ['description']);
  }

  function target(id: string, doc: Y.Doc, attribution: Attribution, whenStored = async () => {}): ProjectionTarget {
    return { type: 'services', layout, tenantId: admin.tenantId, entityId: id, doc, attribution, whenStored };
  }

  function replay(updates: Uint8Array[]): Y.Doc {
    const doc = new Y.Doc();
    for (const u of updates) Y.applyUpdate(doc, u);
    return doc;
  }

  async function rowDescription(id: string): Promise<unknown> {
    return (await ports.readRow(admin.tenantId, 'services', id))?.description;
  }

  it('after a crash between the row COMMIT and the stored base, the next merge keeps the edits made during the write', async () => {
    const { id, doc, stored } = await record();
    const versionBefore = readBase(doc).rowVersion;
    const attribution = new Attribution();
    edit(doc, attribution, ' A1.');
    // An editor's edit arrives (and is stored) while the row is being written; then the node dies
    // before the base the write-back records reaches storage.
    let crashAt = -1;
    const writing = new Projector({
      ...ports,
      async updateEntity(...args) {
        const updated = await ports.updateEntity(...args);
        edit(doc, attribution, ' B2.');
        crashAt = stored.length;
        return updated;
      },
    });
    const outcome = await writing.synchronise(target(id, doc, attribution));
    assert.equal(outcome.kind, 'synced');
    assert.equal(await rowDescription(id), 'Start. A1.');
    assert.ok(crashAt > 0 && stored.length > crashAt, 'the base was recorded after the edit');

    // The document as the next node loads it: everything stored before the crash.
    const loaded = replay(stored.slice(0, crashAt));
    assert.equal(loaded.getText('description').toString(), 'Start. A1. B2.');
    assert.equal(readBase(loaded).rowVersion, versionBefore, 'the new base was lost');
    const reloaded = new Attribution();
    reloaded.note(contributorKey(admin.userId), ['description']); // the stored updates name their author

    const merged = await new Projector(ports).synchronise(target(id, loaded, reloaded));
    assert.equal(merged.kind, 'synced');
    assert.equal(loaded.getText('description').toString(), 'Start. A1. B2.', 'the edit made during the write is still in the document');
    assert.equal(await rowDescription(id), 'Start. A1. B2.', 'and reached the row');
  });

  it('writes the row only once the values it is about to write are stored in the document', async () => {
    const { id, doc } = await record();
    const attribution = new Attribution();
    edit(doc, attribution, ' A1.');
    const before = await ports.rowVersion(admin.tenantId, 'services', id);
    const failing = target(id, doc, attribution, () => Promise.reject(new Error('document storage unavailable')));
    await assert.rejects(new Projector(ports).synchronise(failing), /document storage unavailable/);
    assert.equal(await ports.rowVersion(admin.tenantId, 'services', id), before, 'the row was not written');
    assert.equal(await rowDescription(id), 'Start.');
  });

  it('a node taking the projector over catches up from storage before it merges', async () => {
    const { id, doc, stored } = await record();
    const attribution = new Attribution();
    edit(doc, attribution, ' A1.');
    // The other node received everything up to here; then Redis went away, and what the old
    // projector stored next (its write-back's bookkeeping) never reached it.
    const relayed = stored.length;
    const outcome = await new Projector(ports).synchronise(target(id, doc, attribution));
    assert.equal(outcome.kind, 'synced');
    assert.equal(await rowDescription(id), 'Start. A1.');

    const replica = replay(stored.slice(0, relayed));
    let caughtUp = false;
    const handle: DocumentHandle = {
      key: `services/${id}`,
      address: { tenantId: admin.tenantId, entityType: 'services', entityId: id },
      doc: replica,
      awareness: new Awareness(replica),
      isLive: () => true,
      closeClients: () => {},
      whenStored: async () => {},
      async catchUp() {
        for (const u of stored) Y.applyUpdate(replica, u);
        caughtUp = true;
      },
      lease: { claim: async () => true, release: async () => {} },
    };
    const timing = { projectionDelayMs: 10, projectionMaxDelayMs: 50, lockTtlMs: 1_000 };
    const role = new ProjectorRole(handle, layout, new Projector(ports), timing, quietLogger);
    edit(replica, role.attribution, ' B2.'); // its own editor kept typing meanwhile
    await role.tick(); // the lease is free: this node takes the projector over
    await role.synchronise('settle');
    assert.equal(replica.getText('description').toString(), 'Start. A1. B2.', 'the replica’s own edit survives the merge');
    assert.equal(await rowDescription(id), 'Start. A1. B2.');
    assert.ok(caughtUp, 'the takeover read what storage holds');
    await role.stop();
    handle.awareness.destroy();
  });
});
