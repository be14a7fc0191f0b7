// Incidents against a real PostgreSQL: lifecycle and timeline, the operational_status of affected
// entities (worst active impact wins), authorization, tenancy, and what each write leaves behind
// in change_events, audit_logs and on the bus — and that a failed write leaves nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChangeEvent } from '../src/platform/bus.js';
import type { ServiceContext } from '../src/platform/context.js';
import type { AppError } from '../src/platform/errors.js';
import { IncidentService, parseIncidentListQuery } from '../src/modules/incidents/service.js';
import { actingAs, createHarness, createTenant } from './support/factories.js';
import { rejectsWith } from './support/assertions.js';

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe('incidents', function () {
  let h: Harness;
  let incidents: IncidentService;
  let tenantId: string;
  let admin: ServiceContext;

  before(async () => {
    h = await createHarness();
    incidents = new IncidentService(h.writes, h.entities);
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(async () => {
    tenantId = await createTenant(h.knex);
    admin = await actingAs(h.knex, tenantId, 'admin');
  });

  const newService = async (ctx = admin, name = `svc-${randomUUID().slice(0, 8)}`) => (await h.entities.services.create(ctx, { name, type: 'api' })).id;
  const opStatus = async (table: string, id: string) =>
    ((await h.knex(table).where({ id }).first('operational_status')) as { operational_status: string }).operational_status;
  const eventsOf = (tenant: string) => h.published.filter((e) => e.tenant_id === tenant);

  describe('operational status of affected entities', () => {
    it('sets it on create, and outage beats degraded across two incidents', async () => {
      const s1 = await newService();
      const s2 = await newService();
      const a = await incidents.create(admin, {
        title: 'Slow checkout',
        severity: 'minor',
        affected: [
          { entity_type: 'services', entity_id: s1 },
          { entity_type: 'services', entity_id: s2 },
        ],
      });
      assert.equal(a.impact_type, 'degraded');
      assert.equal(await opStatus('services', s1), 'degraded');
      assert.equal(await opStatus('services', s2), 'degraded');
      assert.deepEqual(
        a.affected.map((x) => x.operational_status),
        ['degraded', 'degraded'],
      );

      const b = await incidents.create(admin, {
        title: 'Checkout down',
        severity: 'critical',
        impact_type: 'outage',
        affected: [
          { entity_type: 'services', entity_id: s1 },
          { entity_type: 'services', entity_id: s1 },
        ], // deduped
      });
      assert.equal(await opStatus('services', s1), 'outage');
      assert.equal(await opStatus('services', s2), 'degraded');
      assert.equal(b.affected.length, 1);
      assert.equal(b.affected[0].operational_status, 'outage');
      const links = await h.knex('incident_affected_entities').where({ incident_id: b.id });
      assert.equal(links.length, 1);

      // Another degraded incident does not lower an outage.
      await incidents.create(admin, { title: 'Also slow', severity: 'minor', affected: [{ entity_type: 'services', entity_id: s1 }] });
      assert.equal(await opStatus('services', s1), 'outage');
    });

    it('resolving one of two incidents degrades from outage to degraded, resolving both returns to operational', async () => {
      const s = await newService();
      const affected = [{ entity_type: 'services', entity_id: s }];
      const outage = await incidents.create(admin, { title: 'Down', severity: 'critical', impact_type: 'outage', affected });
      const degraded = await incidents.create(admin, { title: 'Slow', severity: 'minor', impact_type: 'degraded', affected });
      assert.equal(await opStatus('services', s), 'outage');

      await incidents.addUpdate(admin, outage.id, { status: 'resolved', message: 'fixed' });
      assert.equal(await opStatus('services', s), 'degraded');
      await incidents.addUpdate(admin, degraded.id, { status: 'resolved', message: 'fixed too' });
      assert.equal(await opStatus('services', s), 'operational');

      // Reopening makes it count again.
      await incidents.addUpdate(admin, outage.id, { status: 'investigating', message: 'back again' });
      assert.equal(await opStatus('services', s), 'outage');
    });

    it('follows updates of affected and impact_type, deletes and restores', async () => {
      const s1 = await newService();
      const s2 = await newService();
      const c = (await h.entities.components.create(admin, { name: 'lib', type: 'library' })).id;
      const inc = await incidents.create(admin, { title: 'Thing', severity: 'major', affected: [{ entity_type: 'services', entity_id: s1 }] });
      assert.equal(await opStatus('services', s1), 'degraded');

      const moved = await incidents.update(
        admin,
        inc.id,
        {
          affected: [
            { entity_type: 'services', entity_id: s2 },
            { entity_type: 'components', entity_id: c },
          ],
        },
        { expectedVersion: inc.row_version },
      );
      assert.equal(moved.row_version, inc.row_version + 1);
      assert.equal(await opStatus('services', s1), 'operational');
      assert.equal(await opStatus('services', s2), 'degraded');
      assert.equal(await opStatus('components', c), 'degraded');
      assert.deepEqual(
        moved.affected.map((a) => a.entity_type),
        ['components', 'services'],
      );

      await incidents.update(admin, inc.id, { impact_type: 'outage' });
      assert.equal(await opStatus('services', s2), 'outage');
      assert.equal(await opStatus('components', c), 'outage');

      await rejectsWith(incidents.update(admin, inc.id, { title: 'stale' }, { expectedVersion: inc.row_version }), 412);

      await incidents.remove(admin, inc.id);
      assert.equal(await opStatus('services', s2), 'operational');
      await rejectsWith(incidents.get(admin, inc.id), 404);
      const restored = await incidents.restore(admin, inc.id);
      assert.equal(restored.deleted_at, null);
      assert.equal(await opStatus('services', s2), 'outage');
      assert.equal(await opStatus('components', c), 'outage');
    });

    it('stays consistent, without deadlocks, under concurrent incident writes on shared entities', async () => {
      const s1 = await newService();
      const s2 = await newService();
      const both = [
        { entity_type: 'services', entity_id: s1 },
        { entity_type: 'services', entity_id: s2 },
      ];
      const created = await Promise.all([
        incidents.create(admin, { title: 'c1', severity: 'minor', impact_type: 'outage', affected: both }),
        incidents.create(admin, { title: 'c2', severity: 'minor', impact_type: 'degraded', affected: [...both].reverse() }),
        incidents.create(admin, { title: 'c3', severity: 'minor', impact_type: 'outage', affected: [...both].reverse() }),
        incidents.create(admin, { title: 'c4', severity: 'minor', impact_type: 'degraded', affected: both }),
      ]);
      assert.equal(await opStatus('services', s1), 'outage');
      assert.equal(await opStatus('services', s2), 'outage');
      // Resolve every incident but one degraded one, all at once.
      await Promise.all(created.filter((c) => c.title !== 'c2').map((c) => incidents.addUpdate(admin, c.id, { status: 'resolved', message: 'done' })));
      assert.equal(await opStatus('services', s1), 'degraded');
      assert.equal(await opStatus('services', s2), 'degraded');
      const seqs = (await h.knex('change_events').where({ tenant_id: tenantId }).orderBy('seq').select('seq')).map((r) => Number(r.seq));
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    });

    it('a no-op update writes nothing', async () => {
      const s = await newService();
      const inc = await incidents.create(admin, { title: 'Same', severity: 'minor', affected: [{ entity_type: 'services', entity_id: s }] });
      const before = eventsOf(tenantId).length;
      const same = await incidents.update(admin, inc.id, { title: 'Same', affected: [{ entity_type: 'services', entity_id: s }] });
      assert.equal(same.row_version, inc.row_version);
      assert.equal(eventsOf(tenantId).length, before);
    });
  });

  describe('lifecycle', () => {
    it('moves forward with a timeline, oldest first, and reopens only to investigating', async () => {
      const created = await incidents.create(admin, { title: 'API errors', severity: 'major', message: 'Seeing 500s' });
      assert.equal(created.status, 'investigating');
      assert.equal(created.resolved_at, null);
      assert.equal(created.timeline.length, 1);
      assert.equal(created.timeline[0].status, 'investigating');
      assert.equal(created.timeline[0].message, 'Seeing 500s');
      assert.equal(created.timeline[0].created_by, admin.actor.userId);

      const { entry, incident } = await incidents.addUpdate(admin, created.id, { status: 'identified', message: 'Bad deploy' });
      assert.equal(entry.status, 'identified');
      assert.equal(incident.status, 'identified');
      assert.equal(incident.row_version, created.row_version + 1);
      const noStatus = await incidents.addUpdate(admin, created.id, { message: 'Rolling back' });
      assert.equal(noStatus.entry.status, 'identified');
      assert.equal(noStatus.incident.row_version, created.row_version + 1); // a plain entry is no row change
      await incidents.addUpdate(admin, created.id, { status: 'resolved', message: 'Rolled back' }); // skipping monitoring

      const resolved = await incidents.get(admin, created.id);
      assert.equal(resolved.status, 'resolved');
      assert.ok(resolved.resolved_at);
      assert.deepEqual(
        resolved.timeline.map((e) => [e.status, e.message]),
        [
          ['investigating', 'Seeing 500s'],
          ['identified', 'Bad deploy'],
          ['identified', 'Rolling back'],
          ['resolved', 'Rolled back'],
        ],
      );
      assert.ok(!('tenant_id' in resolved));
      assert.ok(!('tenant_id' in resolved.timeline[0]));

      const reopened = await incidents.addUpdate(admin, created.id, { status: 'investigating', message: 'It is back' });
      assert.equal(reopened.incident.status, 'investigating');
      assert.equal(reopened.incident.resolved_at, null);

      const declared = await incidents.create(admin, { title: 'Quiet', severity: 'minor' });
      assert.equal(declared.timeline[0].message, 'Incident declared');
    });

    it('refuses bad transitions with 422 and leaves the timeline alone', async () => {
      const inc = await incidents.create(admin, { title: 'X', severity: 'minor' });
      await incidents.addUpdate(admin, inc.id, { status: 'monitoring', message: 'watching' });
      const back = await rejectsWith(incidents.addUpdate(admin, inc.id, { status: 'identified', message: 'nope' }), 422);
      assert.equal(back.errors?.[0].path, 'status');
      await incidents.addUpdate(admin, inc.id, { status: 'resolved', message: 'done' });
      await rejectsWith(incidents.addUpdate(admin, inc.id, { status: 'monitoring', message: 'nope' }), 422);
      await rejectsWith(incidents.addUpdate(admin, inc.id, { status: 'identified', message: 'nope' }), 422);
      assert.equal((await incidents.get(admin, inc.id)).timeline.length, 3);
      await rejectsWith(incidents.addUpdate(admin, inc.id, { status: 'bogus', message: 'x' }), 422);
      await rejectsWith(incidents.addUpdate(admin, inc.id, { message: '' }), 422);
      await rejectsWith(incidents.update(admin, inc.id, { status: 'investigating' }), 422); // status moves only via updates
      await rejectsWith(incidents.create(admin, { title: 'x', severity: 'sev1' }), 422);
      await rejectsWith(incidents.create(admin, { title: '', severity: 'minor' }), 422);
    });
  });

  describe('authorization', () => {
    it('a viewer and a read-only key may read but not write', async () => {
      const inc = await incidents.create(admin, { title: 'Readable', severity: 'minor' });
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      await rejectsWith(incidents.create(viewer, { title: 'No', severity: 'minor' }), 403);
      await rejectsWith(incidents.addUpdate(viewer, inc.id, { message: 'no' }), 403);
      await rejectsWith(incidents.update(viewer, inc.id, { title: 'no' }), 403);
      await rejectsWith(incidents.remove(viewer, inc.id), 403);
      assert.equal((await incidents.get(viewer, inc.id)).title, 'Readable');
      assert.equal((await incidents.list(viewer, parseIncidentListQuery({}))).meta.total, 1);

      const key: ServiceContext = {
        tenantId,
        db: h.knex,
        actor: { type: 'api_key', id: randomUUID(), userId: admin.actor.userId, role: 'admin', canWrite: false },
      };
      await rejectsWith(incidents.create(key, { title: 'No', severity: 'minor' }), 403);
      await rejectsWith(incidents.addUpdate(key, inc.id, { message: 'no' }), 403);
      assert.equal((await incidents.get(key, inc.id)).id, inc.id);
      assert.equal((await h.knex('incidents').where({ tenant_id: tenantId })).length, 1);
    });

    it('an incident commander runs incidents and moves the affected services', async () => {
      const s = await newService();
      const ic = await actingAs(h.knex, tenantId, 'incident_commander');
      const inc = await incidents.create(ic, {
        title: 'IC',
        severity: 'critical',
        impact_type: 'outage',
        affected: [{ entity_type: 'services', entity_id: s }],
      });
      assert.equal(await opStatus('services', s), 'outage');
      await incidents.update(ic, inc.id, { severity: 'major' });
      await incidents.addUpdate(ic, inc.id, { status: 'resolved', message: 'ok' });
      assert.equal(await opStatus('services', s), 'operational');
      await incidents.remove(ic, inc.id);
      await incidents.restore(ic, inc.id);
      // The implied service write is attributed to the commander, though the role may not edit services.
      const audit = await h.knex('audit_logs').where({ tenant_id: tenantId, entity_type: 'services', entity_id: s, action: 'update' });
      assert.equal(audit.length, 2);
      assert.ok(audit.every((a) => a.user_id === ic.actor.userId));
    });
  });

  describe('tenancy', () => {
    it("another tenant's incident is a 404 and another tenant's entity in affected is a 422", async () => {
      const otherTenant = await createTenant(h.knex);
      const otherAdmin = await actingAs(h.knex, otherTenant, 'admin');
      const foreignService = await newService(otherAdmin);
      const foreign = await incidents.create(otherAdmin, { title: 'Theirs', severity: 'minor' });

      await rejectsWith(incidents.get(admin, foreign.id), 404);
      await rejectsWith(incidents.update(admin, foreign.id, { title: 'mine' }), 404);
      await rejectsWith(incidents.addUpdate(admin, foreign.id, { status: 'resolved', message: 'mine' }), 404);
      await rejectsWith(incidents.remove(admin, foreign.id), 404);
      await rejectsWith(incidents.get(admin, 'not-a-uuid'), 404);
      assert.equal((await incidents.list(admin, parseIncidentListQuery({}))).meta.total, 0);

      const mine = await newService();
      const err = await rejectsWith(
        incidents.create(admin, {
          title: 'Mine',
          severity: 'minor',
          affected: [
            { entity_type: 'services', entity_id: mine },
            { entity_type: 'services', entity_id: foreignService },
          ],
        }),
        422,
      );
      assert.deepEqual(
        err.errors?.map((e) => e.path),
        ['affected.1.entity_id'],
      );
      // A live id of the wrong type is not a record of that type.
      const wrongType = await rejectsWith(
        incidents.create(admin, {
          title: 'Mine',
          severity: 'minor',
          affected: [{ entity_type: 'components', entity_id: mine }],
        }),
        422,
      );
      assert.deepEqual(
        wrongType.errors?.map((e) => e.path),
        ['affected.0.entity_id'],
      );
      assert.equal(await opStatus('services', foreignService), 'operational');
      assert.equal((await h.knex('incidents').where({ tenant_id: tenantId })).length, 0);

      // A soft-deleted entity is no longer a live record.
      await h.entities.services.remove(admin, mine);
      await rejectsWith(incidents.create(admin, { title: 'Mine', severity: 'minor', affected: [{ entity_type: 'services', entity_id: mine }] }), 422);
    });
  });

  describe('listing', () => {
    it('filters on status, severity and impact_type, searches title and description, and pages', async () => {
      const s = await newService();
      for (let i = 0; i < 5; i++) {
        await incidents.create(admin, {
          title: `Incident ${i}`,
          severity: i % 2 ? 'major' : 'minor',
          description: i === 3 ? 'payment gateway timeouts' : null,
          affected: [{ entity_type: 'services', entity_id: s }],
        });
      }
      const all = await incidents.list(admin, parseIncidentListQuery({ limit: '2', sort: 'title' }));
      assert.equal(all.meta.total, 5);
      assert.deepEqual(
        all.data.map((d) => d.title),
        ['Incident 0', 'Incident 1'],
      );
      assert.equal(all.data[0].affected[0].entity_id, s);
      const next = await incidents.list(admin, parseIncidentListQuery({ limit: '2', sort: 'title', cursor: all.meta.next_cursor! }));
      assert.deepEqual(
        next.data.map((d) => d.title),
        ['Incident 2', 'Incident 3'],
      );
      assert.equal((await incidents.list(admin, parseIncidentListQuery({ severity: 'major' }))).meta.total, 2);
      assert.equal((await incidents.list(admin, parseIncidentListQuery({ status: 'resolved' }))).meta.total, 0);
      const found = await incidents.list(admin, parseIncidentListQuery({ q: 'gateway' }));
      assert.deepEqual(
        found.data.map((d) => d.title),
        ['Incident 3'],
      );
      assert.throws(
        () => parseIncidentListQuery({ status: 'open' }),
        (e: AppError) => e.status === 422,
      );
      const viewer = await actingAs(h.knex, tenantId, 'viewer');
      await rejectsWith(incidents.list(viewer, parseIncidentListQuery({ include_deleted: 'true' })), 403);
    });
  });

  describe('events and audit', () => {
    it('records incidents.created, services.updated, incidents.status_changed and incidents.timeline_entry in order', async () => {
      const s = await newService();
      const seenBefore = eventsOf(tenantId).length; // the service's own created event
      const inc = await incidents.create(admin, { title: 'Evented', severity: 'major', affected: [{ entity_type: 'services', entity_id: s }] });
      const { entry } = await incidents.addUpdate(admin, inc.id, { status: 'identified', message: 'found it' });

      const published = eventsOf(tenantId).slice(seenBefore);
      assert.deepEqual(
        published.map((e) => e.type),
        ['incidents.created', 'services.updated', 'incidents.status_changed', 'incidents.timeline_entry'],
      );
      const seqs = published.map((e) => e.seq);
      assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2, seqs[0] + 3]);

      const [created, serviceUpdated, statusChanged, timelineEntry] = published as ChangeEvent[];
      assert.equal(created.entity_id, inc.id);
      assert.equal((created.data as { affected: { operational_status: string }[] }).affected[0].operational_status, 'degraded');
      assert.equal(serviceUpdated.entity_id, s);
      assert.deepEqual(serviceUpdated.changes, { operational_status: { old: 'operational', new: 'degraded' } });
      assert.equal((serviceUpdated.data as { operational_status: string }).operational_status, 'degraded');
      assert.deepEqual(statusChanged.changes, { status: { old: 'investigating', new: 'identified' } });
      assert.equal((statusChanged.data as { status: string }).status, 'identified');
      assert.equal(timelineEntry.entity_type, 'incidents');
      assert.equal(timelineEntry.entity_id, inc.id);
      assert.deepEqual(timelineEntry.data, entry);

      const rows = await h.knex('change_events').where({ tenant_id: tenantId }).whereIn('seq', seqs).orderBy('seq');
      assert.deepEqual(
        rows.map((r) => [Number(r.seq), r.type]),
        published.map((e) => [e.seq, e.type]),
      );
      assert.deepEqual(rows[1].changes, { operational_status: { old: 'operational', new: 'degraded' } });
      assert.equal(rows[3].data.message, 'found it');

      const audit = await h.knex('audit_logs').where({ tenant_id: tenantId }).whereIn('entity_id', [inc.id, s]).orderBy('timestamp');
      const kinds = audit.map((a) => `${a.entity_type}:${a.action}`).sort();
      assert.deepEqual(kinds, ['incidents:create', 'incidents:status_change', 'incidents:timeline_entry', 'services:create', 'services:update']);
      assert.deepEqual(audit.find((a) => a.action === 'status_change')!.changes, { status: { old: 'investigating', new: 'identified' } });
    });

    it('records updates with their changes, deletes and restores', async () => {
      const inc = await incidents.create(admin, { title: 'Before', severity: 'minor' });
      const seenBefore = eventsOf(tenantId).length;
      await incidents.update(admin, inc.id, { title: 'After', severity: 'critical' });
      await incidents.remove(admin, inc.id);
      await incidents.restore(admin, inc.id);
      const published = eventsOf(tenantId).slice(seenBefore);
      assert.deepEqual(
        published.map((e) => e.type),
        ['incidents.updated', 'incidents.deleted', 'incidents.restored'],
      );
      assert.deepEqual(published[0].changes, { title: { old: 'Before', new: 'After' }, severity: { old: 'minor', new: 'critical' } });
      const audit = await h.knex('audit_logs').where({ tenant_id: tenantId, entity_id: inc.id });
      assert.deepEqual(audit.map((a) => a.action).sort(), ['create', 'delete', 'restore', 'update']);
    });

    it('a write that fails after partial work leaves no rows and no events', async () => {
      // A component the implied write can move, and a service whose row no longer validates
      // (inserted behind the service's back), so its implied update fails with a 422 after the
      // incident, its timeline, its links and the component's move were already written.
      const c = (await h.entities.components.create(admin, { name: 'good', type: 'library' })).id;
      const [bad] = await h
        .knex('services')
        .insert({ tenant_id: tenantId, name: 'bad', type: 'api', attributes: JSON.stringify({ bogus: 1 }) })
        .returning('id');
      const eventsBefore = eventsOf(tenantId).length;
      const [{ count: changeEventsBefore }] = await h.knex('change_events').where({ tenant_id: tenantId }).count();
      const [{ count: auditBefore }] = await h.knex('audit_logs').where({ tenant_id: tenantId }).count();

      const err = await rejectsWith(
        incidents.create(admin, {
          title: 'Doomed',
          severity: 'critical',
          impact_type: 'outage',
          affected: [
            { entity_type: 'components', entity_id: c },
            { entity_type: 'services', entity_id: bad.id },
          ],
        }),
        422,
      );
      assert.equal(err.errors?.[0].path, 'attributes.bogus');

      assert.equal((await h.knex('incidents').where({ tenant_id: tenantId })).length, 0);
      assert.equal((await h.knex('incident_timeline_entries').where({ tenant_id: tenantId })).length, 0);
      assert.equal(await opStatus('components', c), 'operational');
      assert.equal(await opStatus('services', bad.id), 'operational');
      assert.equal(eventsOf(tenantId).length, eventsBefore);
      assert.deepEqual(await h.knex('change_events').where({ tenant_id: tenantId }).count(), [{ count: changeEventsBefore }]);
      assert.deepEqual(await h.knex('audit_logs').where({ tenant_id: tenantId }).count(), [{ count: auditBefore }]);

      // The next write's seq follows on without a gap.
      const ok = await incidents.create(admin, { title: 'Fine', severity: 'minor' });
      const last = eventsOf(tenantId).at(-1)!;
      assert.equal(last.entity_id, ok.id);
      assert.equal(last.seq, Number(changeEventsBefore) + 1);
    });
  });
});
