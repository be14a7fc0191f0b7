// Co-editing behaviour pinned with stock y-websocket providers before co-editing moves into its
// own module (SPEC §6): every catalog kind opens with its row in the layout and projects an
// editor's edit into the row; read-only principals never write; access changes close with 4403 /
// 4404; records that are not co-edited are refused; when REST and the document change the same
// value, the row wins; a REST write between the projector's read and write (a 412) is retried and
// both changes are kept.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChangeEvent } from '../src/platform/bus.js';
import type { EntityService } from '../src/modules/catalog/service.js';
import type { ServiceContext } from '../src/platform/context.js';
import { AppError } from '../src/platform/errors.js';
import {
  addMember,
  openEditor,
  refusedWith,
  signupTenant,
  testCollabOptions,
  waitFor,
  type Editor,
  type Member,
  type TestTenant,
} from './support/collab-client.js';
import { startTestApp, type TestApp } from './support/server.js';

const uniq = () => randomUUID().slice(0, 8);

interface KindCase {
  body: () => Record<string, unknown>;
  /** Which parts of the layout the kind has. */
  description: boolean;
  attributes: boolean;
  /** An attribute key valid for the kind's type in `body`. */
  attributeKey?: string;
}

const KINDS: Record<string, KindCase> = {
  teams: { body: () => ({ name: `team-${uniq()}`, description: 'Team text.', slack_channel: '#t' }), description: true, attributes: false },
  people: { body: () => ({ name: `person-${uniq()}`, email: `p-${uniq()}@example.com`, role_title: 'SRE' }), description: false, attributes: false },
  products: { body: () => ({ name: `product-${uniq()}`, description: 'Product text.', tags: ['a'] }), description: true, attributes: false },
  services: {
    body: () => ({ name: `service-${uniq()}`, type: 'api', description: 'Service text.', attributes: { protocol: 'https' } }),
    description: true,
    attributes: true,
    attributeKey: 'sla',
  },
  components: {
    body: () => ({ name: `component-${uniq()}`, type: 'library', description: 'Component text.', attributes: { language: 'ts' } }),
    description: true,
    attributes: true,
    attributeKey: 'license',
  },
  resources: {
    body: () => ({ name: `resource-${uniq()}`, type: 'ec2', description: 'Resource text.', attributes: { region: 'eu-west-1' } }),
    description: true,
    attributes: true,
    attributeKey: 'sku',
  },
  repositories: { body: () => ({ name: `repo-${uniq()}`, provider: 'github', description: 'Repo text.' }), description: true, attributes: false },
};

describe('co-editing pins (stock WebsocketProviders)', function () {
  this.timeout(30_000);
  let app: TestApp;
  let tenant: TestTenant;
  let editor: Member;
  let viewer: Member;
  let ic: Member;
  const published: ChangeEvent[] = [];
  const open: Editor[] = [];

  const edit = async (room: string, token: string) => {
    const e = await openEditor(app.url, room, token);
    open.push(e);
    return e;
  };
  const get = async (path: string, id: string) => {
    const res = await tenant.admin.client.get(`/api/v1/${path}/${id}`);
    assert.equal(res.status, 200, res.text);
    return res.body.data;
  };
  const make = async (path: string, body: Record<string, unknown>) => {
    const res = await tenant.admin.client.post(`/api/v1/${path}`, body);
    assert.equal(res.status, 201, res.text);
    return res.body.data;
  };
  const closedWith = (e: Editor) => new Promise<number>((resolve) => e.provider.on('connection-close', (ev) => ev && resolve(ev.code)));
  const eventsOf = (id: string) => published.filter((e) => e.entity_id === id);

  before(async function () {
    this.timeout(60_000);
    app = await startTestApp({ collab: testCollabOptions() });
    app.app.domain.bus.subscribe((events) => published.push(...events));
    tenant = await signupTenant(app.url);
    [editor, viewer, ic] = await Promise.all([
      addMember(app.url, tenant, 'editor'),
      addMember(app.url, tenant, 'viewer'),
      addMember(app.url, tenant, 'incident_commander'),
    ]);
  });
  afterEach(() => {
    for (const e of open.splice(0)) e.destroy();
  });
  after(async function () {
    this.timeout(30_000);
    await app?.close();
  });

  describe('(a) every catalog kind opens with its row in the layout and projects an edit into the row', () => {
    for (const [path, kind] of Object.entries(KINDS)) {
      it(path, async () => {
        const body = kind.body();
        const rec = await make(path, body);
        const a = await edit(`${path}/${rec.id}`, editor.token);
        assert.equal(a.fields.get('name'), rec.name);
        for (const [key, value] of Object.entries(body)) {
          if (key === 'description' || key === 'attributes') continue;
          assert.deepEqual(a.fields.get(key), value, `fields.${key}`);
        }
        assert.ok(!a.fields.has('description') && !a.fields.has('attributes'), 'description and attributes are not fields');
        assert.ok(!a.fields.has('id') && !a.fields.has('row_version'), 'no bookkeeping columns in fields');
        assert.equal(a.description.toString(), kind.description ? String(body.description) : '', 'description text');
        assert.deepEqual(a.attributes.toJSON(), kind.attributes ? body.attributes : {}, 'attributes map');
        if (path === 'people') assert.ok(a.fields.has('email') && a.fields.has('role_title'), 'people fields');

        const renamed = `${rec.name}-co`;
        a.doc.transact(() => {
          a.fields.set('name', renamed);
          if (kind.description) a.description.insert(a.description.length, ' More.');
          if (kind.attributeKey) a.attributes.set(kind.attributeKey, 'v1');
        });
        const row = await waitFor(`${path} edit in the row`, async () => {
          const data = await get(path, rec.id);
          return data.name === renamed ? data : null;
        });
        assert.equal(row.row_version, rec.row_version + 1, 'one version bump for the one projection');
        assert.equal(row.updated_by, editor.id);
        if (kind.description) assert.equal(row.description, `${String(body.description)} More.`);
        if (kind.attributeKey) assert.deepEqual(row.attributes, { ...(body.attributes as object), [kind.attributeKey]: 'v1' });
        const ev = eventsOf(rec.id).filter((e) => e.type === `${path}.updated`);
        assert.equal(ev.length, 1, 'one change event');
        assert.deepEqual(ev[0].actor, { type: 'user', id: editor.id });
      });
    }
  });

  describe('(b) read-only principals: a read-only API key and an incident commander', () => {
    for (const who of ['read-only API key', 'incident_commander']) {
      it(`${who}: edits reach neither the row nor other clients`, async () => {
        const svc = await make('services', KINDS.services.body());
        const room = `services/${svc.id}`;
        let token = ic.token;
        if (who !== 'incident_commander') {
          const key = await tenant.admin.client.post('/api/v1/api-keys', { name: `ro-${uniq()}`, scope: 'read' });
          assert.equal(key.status, 201, key.text);
          token = key.body.data.key;
        }
        const a = await edit(room, editor.token);
        const r = await edit(room, token);
        const marker = uniq();
        r.doc.transact(() => {
          r.fields.set('name', 'read-only-was-here');
          r.description.insert(0, 'RO ');
          r.attributes.set('sla', 'ro');
        });
        // Awareness from the same connection is handled after the update (in order): once the editor
        // sees the marker, the server has had the update and dropped it.
        r.provider.awareness.setLocalStateField('marker', marker);
        await waitFor('the marker', () => [...a.provider.awareness.getStates().values()].some((s) => s.marker === marker));
        // A later edit by the editor is projected; the read-only edit is in neither doc nor row.
        a.fields.set('status', 'maintenance');
        const row = await waitFor('the editor’s edit in the row', async () => {
          const data = await get('services', svc.id);
          return data.status === 'maintenance' ? data : null;
        });
        assert.equal(row.name, svc.name);
        assert.equal(row.description, svc.description);
        assert.deepEqual(row.attributes, svc.attributes);
        assert.equal(row.row_version, svc.row_version + 1);
        assert.equal(a.fields.get('name'), svc.name);
        assert.equal(a.description.toString(), svc.description);
        assert.equal(a.attributes.has('sla'), false);
        await waitFor('the read-only client to receive the editor’s edit', () => r.fields.get('status') === 'maintenance');
        const late = await edit(room, tenant.admin.token);
        assert.equal(late.fields.get('name'), svc.name);
        assert.equal(late.description.toString(), svc.description);
        assert.ok(eventsOf(svc.id).every((e) => (e.data as { name?: string }).name !== 'read-only-was-here'));
      });
    }
  });

  it('(c) an EDIT grant downgraded to COMMENT closes the viewer’s open connection with 4403', async () => {
    const svc = await make('services', KINDS.services.body());
    const grant = await tenant.admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: viewer.id, level: 'EDIT' });
    assert.equal(grant.status, 201, grant.text);
    const a = await edit(`services/${svc.id}`, tenant.admin.token);
    const v = await edit(`services/${svc.id}`, viewer.token);
    v.fields.set('status', 'deprecated');
    await waitFor('the granted edit to reach others', () => a.fields.get('status') === 'deprecated');
    const closed = closedWith(v);
    const down = await tenant.admin.client.post(`/api/v1/services/${svc.id}/permissions`, { user_id: viewer.id, level: 'COMMENT' });
    assert.equal(down.status, 201, down.text);
    assert.equal(down.body.data.level, 'COMMENT');
    assert.equal(down.body.data.id, grant.body.data.id, 'the same grant, updated');
    assert.equal(await closed, 4403);
    assert.equal(a.provider.wsconnected, true, 'the admin stays connected');
    // Reopening is read-only now: the viewer's edits are dropped.
    const again = await edit(`services/${svc.id}`, viewer.token);
    again.fields.set('name', 'after-downgrade');
    const marker = uniq();
    again.provider.awareness.setLocalStateField('marker', marker);
    await waitFor('the marker', () => [...a.provider.awareness.getStates().values()].some((s) => s.marker === marker));
    assert.equal(a.fields.get('name'), svc.name);
  });

  it('(d) a record soft-deleted while open closes its connections with 4404', async () => {
    const team = await make('teams', KINDS.teams.body());
    const a = await edit(`teams/${team.id}`, editor.token);
    const b = await edit(`teams/${team.id}`, viewer.token);
    const closedA = closedWith(a);
    const closedB = closedWith(b);
    assert.equal((await tenant.admin.client.delete(`/api/v1/teams/${team.id}`)).status, 204);
    assert.deepEqual(await Promise.all([closedA, closedB]), [4404, 4404]);
  });

  it('(e) opening a scorecard or a dashboard is refused with 4403 (and an unknown one with 4404)', async () => {
    const card = await make('scorecards', {
      name: `card-${uniq()}`,
      entity_types: ['services'],
      criteria: [{ name: 't', check_type: 'has_field', check_config: { field: 'team_id' } }],
    });
    const board = await make('dashboards', { name: `board-${uniq()}` });
    assert.deepEqual(await refusedWith(app.url, `scorecards/${card.id}`, tenant.admin.token), { code: 4403, reason: 'scorecards are not co-edited' });
    assert.deepEqual(await refusedWith(app.url, `dashboards/${board.id}`, tenant.admin.token), { code: 4403, reason: 'dashboards are not co-edited' });
    assert.equal((await refusedWith(app.url, `dashboards/${board.id}`, editor.token)).code, 4403);
    assert.equal((await refusedWith(app.url, `scorecards/${randomUUID()}`, tenant.admin.token)).code, 4404);
    assert.equal((await refusedWith(app.url, `dashboards/${randomUUID()}`, tenant.admin.token)).code, 4404);
  });

  describe('REST and the document changing at once', () => {
    /**
     * Test-level hook on the services EntityService the projector calls: `before` runs inside the
     * projector's write (after it read the row, before the update takes the row lock). The statuses
     * of the projector's writes are recorded. REST writes (request ids not 'collab-…') pass through.
     */
    function hookProjectorWrites(before: () => Promise<void>) {
      const service = app.app.domain.entities.services as EntityService & { update: EntityService['update'] };
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with call(this, …) on the service
      const original = service.update;
      const statuses: number[] = [];
      let first = true;
      service.update = async function (this: EntityService, ctx: ServiceContext, id, input, opts) {
        if (!ctx.requestId?.startsWith('collab-')) return original.call(this, ctx, id, input, opts);
        if (first) {
          first = false;
          await before();
        }
        try {
          const result = await original.call(this, ctx, id, input, opts);
          statuses.push(200);
          return result;
        } catch (err) {
          statuses.push(err instanceof AppError ? err.status : 500);
          throw err;
        }
      };
      return { statuses, restore: () => void delete (service as unknown as Record<string, unknown>).update };
    }

    it('(f) row wins: REST changes a field the document also changed, landing inside the projection (hooked): the row’s value ends in both', async () => {
      const svc = await make('services', KINDS.services.body());
      const a = await edit(`services/${svc.id}`, editor.token);
      const b = await edit(`services/${svc.id}`, tenant.admin.token);
      let restWrite: Promise<unknown> | undefined;
      const hook = hookProjectorWrites(async () => {
        // The projector has read the row and is about to write the document's name (and status).
        restWrite = tenant.admin.client.patch(`/api/v1/services/${svc.id}`, { name: 'rest-name' }).then((res) => {
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.data.row_version, svc.row_version + 1);
        });
        await restWrite;
      });
      try {
        a.doc.transact(() => {
          a.fields.set('name', 'doc-name');
          a.fields.set('status', 'deprecated');
        });
        await waitFor('both clients and the row to settle', async () => {
          const row = await get('services', svc.id);
          return row.name === 'rest-name' && row.status === 'deprecated' && a.fields.get('name') === 'rest-name' && b.fields.get('name') === 'rest-name';
        });
      } finally {
        hook.restore();
      }
      await restWrite;
      assert.deepEqual(hook.statuses, [412, 200], 'the projector’s first write lost to REST, the retry wrote');
      const row = await get('services', svc.id);
      assert.equal(row.row_version, svc.row_version + 2, 'REST and one projection');
      assert.equal(a.fields.get('status'), 'deprecated');
      assert.ok(
        eventsOf(svc.id).every((e) => (e.data as { name?: string }).name !== 'doc-name'),
        'the document’s name never reached the row',
      );
      const updates = eventsOf(svc.id).filter((e) => e.type === 'services.updated');
      assert.deepEqual(
        updates.map((e) => e.changes),
        [{ name: { old: svc.name, new: 'rest-name' } }, { status: { old: 'active', new: 'deprecated' } }],
      );
    });

    it('(f) row wins without any hook: a REST write landing while the edit waits for its debounce', async () => {
      // A slow debounce (a node of its own) leaves REST ample time to land first.
      const slow = await startTestApp({ collab: testCollabOptions({ projectionDelayMs: 2_500, projectionMaxDelayMs: 5_000 }) });
      const seen: ChangeEvent[] = [];
      slow.app.domain.bus.subscribe((events) => seen.push(...events));
      try {
        const t = await signupTenant(slow.url);
        const ed = await addMember(slow.url, t, 'editor');
        const created = await t.admin.client.post('/api/v1/services', KINDS.services.body());
        assert.equal(created.status, 201, created.text);
        const svc = created.body.data;
        const a = await openEditor(slow.url, `services/${svc.id}`, ed.token);
        const b = await openEditor(slow.url, `services/${svc.id}`, t.admin.token);
        open.push(a, b);
        a.doc.transact(() => {
          a.fields.set('name', 'doc-name');
          a.attributes.set('sla', '99.9');
        });
        await waitFor('the edit to reach the server (and the other client)', () => b.fields.get('name') === 'doc-name');
        const res = await t.admin.client.patch(`/api/v1/services/${svc.id}`, { name: 'rest-name' });
        assert.equal(res.status, 200, res.text);
        assert.ok(!seen.some((e) => e.entity_id === svc.id && e.type === 'services.updated' && e.actor.id === ed.id), 'REST landed before the projection');
        await waitFor(
          'the row and both documents',
          async () => {
            const row = (await t.admin.client.get(`/api/v1/services/${svc.id}`)).body.data;
            return row.name === 'rest-name' && row.attributes.sla === '99.9' && a.fields.get('name') === 'rest-name' && b.fields.get('name') === 'rest-name';
          },
          15_000,
        );
        const mine = seen.filter((e) => e.entity_id === svc.id && e.type === 'services.updated');
        assert.ok(
          mine.every((e) => (e.data as { name: string }).name !== 'doc-name'),
          'the document’s name never reached the row',
        );
        assert.deepEqual(
          mine.map((e) => e.changes),
          [{ name: { old: svc.name, new: 'rest-name' } }, { attributes: { old: { protocol: 'https' }, new: { protocol: 'https', sla: '99.9' } } }],
        );
      } finally {
        for (const e of open.splice(0)) e.destroy();
        await slow.close();
      }
    });

    it('(g) a REST PATCH between the projector’s read and write: the 412 is retried, the editor’s other field lands and REST’s change is kept', async () => {
      const svc = await make('services', KINDS.services.body());
      const a = await edit(`services/${svc.id}`, editor.token);
      const hook = hookProjectorWrites(async () => {
        const res = await tenant.admin.client.patch(`/api/v1/services/${svc.id}`, { status: 'maintenance' });
        assert.equal(res.status, 200, res.text);
      });
      try {
        a.description.insert(a.description.length, ' Edited in the document.');
        await waitFor('both changes in the row', async () => {
          const row = await get('services', svc.id);
          return row.status === 'maintenance' && row.description === `${svc.description} Edited in the document.`;
        });
      } finally {
        hook.restore();
      }
      assert.deepEqual(hook.statuses, [412, 200]);
      const row = await get('services', svc.id);
      assert.equal(row.row_version, svc.row_version + 2);
      await waitFor('REST’s change in the document', () => a.fields.get('status') === 'maintenance');
      assert.equal(a.description.toString(), `${svc.description} Edited in the document.`);
      const updates = eventsOf(svc.id).filter((e) => e.type === 'services.updated');
      assert.deepEqual(
        updates.map((e) => [e.actor.id, Object.keys(e.changes ?? {})]),
        [
          [tenant.admin.id, ['status']],
          [editor.id, ['description']],
        ],
      );
    });
  });
});
