// Black-box HTTP: Backstage descriptors. POST /import of a multi-document catalog-info.yaml (kinds,
// owners, relations, upsert by name, dry run, all or nothing, bounds, roles, tenancy, one change
// event per record written) and GET /export, re-imported into another tenant unchanged.
import assert from 'node:assert/strict';
import { CATALOG_TYPES } from '../src/modules/catalog/kinds.js';
import { loadSampleData } from '../seeds/sample.js';
import {
  addMember,
  assertProblem,
  mintToken,
  created,
  expectStatus,
  httpSuite,
  lastSeq,
  signupTenant,
  tenantCounts,
  type Tenant,
} from './support/http-assertions.js';
import type { ApiClient, ApiResponse } from './support/server.js';

const CATALOG_TABLES = [...CATALOG_TYPES, 'product_services', 'service_dependencies', 'service_components', 'service_resources'];

const FILE = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  description: Money in and out
spec:
  type: team
  profile:
    email: payments@acme.example
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
spec:
  type: team
  children: []
  members: [user:default/grace]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: ada
spec:
  profile:
    displayName: Ada Lovelace
    email: Ada@acme.example
  memberOf: [group:default/payments]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: grace
spec:
  profile:
    email: grace@acme.example
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: checkout
  description: Everything a shopper pays through
spec:
  owner: payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  description: Takes payments
  tags: [pci, revenue]
  annotations:
    github.com/project-slug: acme/payments-api
spec:
  type: service
  lifecycle: production
  owner: group:default/payments
  system: checkout
  dependsOn: [component:default/ledger-lib, resource:default/payments-db]
  providesApis: [payments-rest]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-web
spec:
  type: website
  lifecycle: experimental
  owner: group:payments
  system: system:default/checkout
  consumesApis: [api:default/payments-rest]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger-lib
spec:
  type: library
  lifecycle: deprecated
  owner: payments
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-rest
spec:
  type: openapi
  lifecycle: production
  owner: payments
  system: checkout
  definition: |
    openapi: 3.0.0
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: payments-db
spec:
  type: virtual_machine
  owner: platform
  dependsOn: [resource:k8s]
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: k8s
spec:
  type: kubernetes-cluster
  owner: platform
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: more
spec:
  targets: [./other/catalog-info.yaml]
`;

const yaml = (client: ApiClient, text: string, query = '', type = 'application/yaml'): Promise<ApiResponse> =>
  client.request('POST', `/api/v1/import${query}`, { raw: text, headers: { 'content-type': type } });

/** Every live record of the tenant by collection, as `name` → record (relations by name). */
async function catalogOf(client: ApiClient): Promise<Record<string, Record<string, Record<string, unknown>>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  const names = new Map<string, string>();
  const lists: Record<string, Record<string, unknown>[]> = {};
  for (const type of ['teams', 'people', 'products', 'services', 'components', 'resources']) {
    const res = await client.get(`/api/v1/${type}?limit=100`);
    expectStatus(res, 200, type);
    lists[type] = res.body.data as Record<string, unknown>[];
    for (const r of lists[type]) names.set(String(r.id), String(r.name));
  }
  const byName = (v: unknown) => (Array.isArray(v) ? v.map((id: string) => names.get(id) ?? id).sort() : typeof v === 'string' ? (names.get(v) ?? v) : v);
  const KEEP = ['type', 'status', 'description', 'tags', 'email', 'contact_email', 'environment'];
  const REL = ['team_id', 'service_ids', 'component_ids', 'resource_ids', 'depends_on_service_ids', 'depends_on_component_ids'];
  for (const [type, rows] of Object.entries(lists)) {
    out[type] = {};
    for (const r of rows) {
      const view: Record<string, unknown> = {};
      for (const k of KEEP) if (k in r) view[k] = r[k];
      for (const k of REL) if (k in r) view[k] = byName(r[k]);
      out[type][String(r.name)] = view;
    }
  }
  return out;
}

describe('HTTP descriptor import and export', function () {
  this.timeout(120_000);
  const suite = httpSuite();
  let admin: Tenant;
  let counts: () => Promise<Record<string, number>>;

  before(() => {
    admin = suite.admin;
    counts = () => tenantCounts(suite.app.db.knex, admin.tenantId, CATALOG_TABLES);
  });

  it('refuses a viewer with 403, dry run included, and writes nothing', async () => {
    const viewer = await addMember(suite.app, admin, 'viewer');
    const before = await counts();
    assertProblem(await yaml(viewer.client, FILE), 403);
    assertProblem(await yaml(viewer.client, FILE, '?dry_run=true'), 403);
    assert.deepEqual(await counts(), before);
  });

  it('a dry run reports every record it would create and writes nothing', async () => {
    const before = await counts();
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const res = await yaml(admin.client, FILE, '?dry_run=true');
    expectStatus(res, 200);
    const report = res.body.data;
    assert.equal(report.dry_run, true);
    assert.deepEqual(report.totals, { created: 11, updated: 0, unchanged: 0, invalid: 0, skipped: 1 });
    assert.deepEqual(
      report.entities.map((e: { kind: string; name: string; type: string | null; action: string }) => `${e.kind} ${e.name} → ${e.type}: ${e.action}`),
      [
        'Group payments → teams: created',
        'Group platform → teams: created',
        'User ada → people: created',
        'User grace → people: created',
        'System checkout → products: created',
        'Component payments-api → services: created',
        'Component checkout-web → services: created',
        'Component ledger-lib → components: created',
        'API payments-rest → services: created',
        'Resource payments-db → resources: created',
        'Resource k8s → resources: created',
        'Location more → null: skipped',
      ],
    );
    assert.ok(report.entities.every((e: { id: string | null }) => e.id === null));
    const db = report.entities.find((e: { name: string }) => e.name === 'payments-db');
    assert.match(db.warnings.join(' '), /resource holds no relation to a resource/);
    assert.deepEqual(await counts(), before);
    assert.equal(await lastSeq(suite.app.db.knex, admin.tenantId), seq);
  });

  it('imports the kinds with their owners and relations, one change event per record', async () => {
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const res = await yaml(admin.client, FILE);
    expectStatus(res, 200);
    assert.deepEqual(res.body.data.totals, { created: 11, updated: 0, unchanged: 0, invalid: 0, skipped: 1 });
    const catalog = await catalogOf(admin.client);
    assert.deepEqual(catalog.teams, {
      payments: { description: 'Money in and out', contact_email: 'payments@acme.example' },
      platform: { description: null, contact_email: null },
    });
    assert.deepEqual(catalog.people, {
      ada: { email: 'ada@acme.example', team_id: 'payments' },
      grace: { email: 'grace@acme.example', team_id: 'platform' },
    });
    assert.deepEqual(catalog.products.checkout, {
      status: 'active',
      description: 'Everything a shopper pays through',
      tags: [],
      team_id: 'payments',
      service_ids: ['checkout-web', 'payments-api', 'payments-rest'],
    });
    assert.deepEqual(catalog.services['payments-api'], {
      type: 'api',
      status: 'active',
      description: 'Takes payments',
      tags: ['pci', 'revenue'],
      team_id: 'payments',
      component_ids: ['ledger-lib'],
      resource_ids: ['payments-db'],
      depends_on_service_ids: [],
    });
    assert.equal(catalog.services['checkout-web'].type, 'web_application');
    assert.equal(catalog.services['checkout-web'].status, 'planned');
    assert.deepEqual(catalog.services['checkout-web'].depends_on_service_ids, ['payments-rest']);
    // The API depends on the service that provides it.
    assert.deepEqual(catalog.services['payments-rest'].depends_on_service_ids, ['payments-api']);
    assert.deepEqual(catalog.components['ledger-lib'], {
      type: 'library',
      status: 'deprecated',
      description: null,
      tags: [],
      team_id: 'payments',
      depends_on_component_ids: [],
      depends_on_service_ids: [],
    });
    assert.equal(catalog.resources.k8s.type, 'kubernetes');
    assert.equal(catalog.resources['payments-db'].team_id, 'platform');

    const events = (await suite.app.db.knex('change_events').where('tenant_id', admin.tenantId).where('seq', '>', seq).select('type', 'entity_id')) as {
      type: string;
      entity_id: string;
    }[];
    assert.equal(events.length, 11);
    assert.equal(new Set(events.map((e) => e.entity_id)).size, 11, 'one event per record');
    assert.ok(events.every((e) => e.type.endsWith('.created')));
    const audit = await suite.app.db
      .knex('audit_logs')
      .where({ tenant_id: admin.tenantId, action: 'create' })
      .whereIn('entity_type', ['services', 'teams'])
      .count<{ n: string }[]>('* as n');
    assert.ok(Number(audit[0].n) >= 5, 'audit entries written');
  });

  it('imports the same file again as unchanged: no write, the seq does not move', async () => {
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    for (const query of ['?dry_run=true', '']) {
      const res = await yaml(admin.client, FILE, query);
      expectStatus(res, 200);
      assert.deepEqual(res.body.data.totals, { created: 0, updated: 0, unchanged: 11, invalid: 0, skipped: 1 });
    }
    assert.equal(await lastSeq(suite.app.db.knex, admin.tenantId), seq);
  });

  it('updates a record by name (text/yaml too), with one event', async () => {
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const changed = FILE.replace('description: Takes payments', 'description: Takes card payments');
    const res = await yaml(admin.client, changed, '', 'text/yaml');
    expectStatus(res, 200);
    assert.deepEqual(res.body.data.totals, { created: 0, updated: 1, unchanged: 10, invalid: 0, skipped: 1 });
    assert.equal(await lastSeq(suite.app.db.knex, admin.tenantId), seq + 1);
    const catalog = await catalogOf(admin.client);
    assert.equal(catalog.services['payments-api'].description, 'Takes card payments');
  });

  it('an invalid document is a 422 naming it, and nothing is written; a dry run reports it', async () => {
    const bad = `${FILE}---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orphan
spec:
  type: service
  owner: group:nobody
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: odd
spec:
  type: spaceship
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: narcissus
spec:
  type: service
  dependsOn: [component:narcissus]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: new-team
`;
    const before = await counts();
    const res = await yaml(admin.client, bad);
    assertProblem(res, 422, { path: 'documents.12' });
    assert.match(res.text, /no such record/);
    assert.match(res.text, /spaceship/);
    assert.match(res.text, /cannot refer to itself/);
    assert.deepEqual(await counts(), before, 'nothing written, the new team included');
    const dry = await yaml(admin.client, bad, '?dry_run=true');
    expectStatus(dry, 200);
    assert.equal(dry.body.data.totals.invalid, 3);
    assert.equal(dry.body.data.totals.created, 1);
  });

  it('refuses aliases, too many documents, a body over 1 MB and JSON', async () => {
    const before = await counts();
    const alias = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: &m
  name: a
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: *m
`;
    assertProblem(await yaml(admin.client, alias), 422, { detail: /alias/ });
    const bomb = `a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n`;
    assertProblem(await yaml(admin.client, bomb, '?dry_run=true'), 422, { detail: /alias/ });
    const many = Array.from({ length: 1001 }, (_, i) => `kind: Group\nmetadata:\n  name: g${i}\n`).join('---\n');
    assertProblem(await yaml(admin.client, many), 422, { detail: /1000 are imported/ });
    const huge = `kind: Group\nmetadata:\n  name: big\n  description: "${'x'.repeat(1024 * 1024)}"\n`;
    assertProblem(await yaml(admin.client, huge), 413);
    assertProblem(await admin.client.post('/api/v1/import', { kind: 'Group' }), 415);
    assertProblem(await yaml(admin.client, 'kind: [unclosed'), 400);
    assert.deepEqual(await counts(), before);
  });

  it('a body just under 1 MB is read (above the JSON bound)', async () => {
    const big = `apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: payments\n  description: Money in and out\nspec:\n  type: team\n  profile:\n    email: payments@acme.example\n# ${'x'.repeat(900 * 1024)}\n`;
    const res = await yaml(admin.client, big, '?dry_run=true');
    expectStatus(res, 200);
    assert.deepEqual(res.body.data.totals, { created: 0, updated: 0, unchanged: 1, invalid: 0, skipped: 0 });
  });

  it("resolves an owner among the tenant's existing teams; a relation cycle among new records is written", async () => {
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const res = await yaml(
      admin.client,
      `kind: Component
metadata: {name: ping}
spec: {type: service, owner: platform, dependsOn: [component:pong]}
---
kind: Component
metadata: {name: pong}
spec: {type: service, owner: payments, dependsOn: [component:ping]}
`,
    );
    expectStatus(res, 200);
    assert.equal(res.body.data.totals.created, 2);
    const catalog = await catalogOf(admin.client);
    assert.deepEqual(catalog.services.ping.depends_on_service_ids, ['pong']);
    assert.deepEqual(catalog.services.pong.depends_on_service_ids, ['ping']);
    assert.equal(catalog.services.ping.team_id, 'platform');
    // The record that closes the cycle is created, then given its relation: its one extra event.
    const events = (await suite.app.db.knex('change_events').where('tenant_id', admin.tenantId).where('seq', '>', seq).orderBy('seq').select('type')) as {
      type: string;
    }[];
    assert.deepEqual(
      events.map((e) => e.type),
      ['services.created', 'services.created', 'services.updated'],
    );
  });

  it('adds a service to a System of the tenant that the file does not hold, keeping its other services', async () => {
    const res = await yaml(admin.client, `kind: Component\nmetadata: {name: receipts}\nspec: {type: service, owner: payments, system: checkout}\n`);
    expectStatus(res, 200);
    const entries = res.body.data.entities.map(
      (e: { document: number | null; kind: string; name: string; action: string }) => `${e.document} ${e.kind} ${e.name}: ${e.action}`,
    );
    assert.deepEqual(entries, ['0 Component receipts: created', 'null System checkout: updated']);
    const catalog = await catalogOf(admin.client);
    assert.deepEqual(catalog.products.checkout.service_ids, ['checkout-web', 'payments-api', 'payments-rest', 'receipts']);
    assert.equal(catalog.products.checkout.description, 'Everything a shopper pays through');
  });

  it('keeps a User owner out with a warning, and replays a retry with the same Idempotency-Key', async () => {
    const file = `kind: Component\nmetadata: {name: solo}\nspec: {type: library, owner: user:default/jdoe}\n`;
    const headers = { 'content-type': 'application/yaml', 'idempotency-key': 'descriptor-retry-1' };
    const first = await admin.client.request('POST', '/api/v1/import', { raw: file, headers });
    expectStatus(first, 200);
    assert.equal(first.body.data.entities[0].action, 'created');
    assert.match(first.body.data.entities[0].warnings[0], /only a Group owns records/);
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const retry = await admin.client.request('POST', '/api/v1/import', { raw: file, headers });
    expectStatus(retry, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.body, first.body);
    assert.equal(await lastSeq(suite.app.db.knex, admin.tenantId), seq);
    const other = await admin.client.request('POST', '/api/v1/import', { raw: file.replace('solo', 'duo'), headers });
    assertProblem(other, 422, { path: 'Idempotency-Key' });
  });

  it('another tenant sees none of it, and its export is empty', async () => {
    const other = await signupTenant(suite.app);
    const res = await other.client.get('/api/v1/services?limit=100');
    expectStatus(res, 200);
    assert.equal(res.body.data.length, 0);
    const exported = await other.client.get('/api/v1/export?format=yaml');
    expectStatus(exported, 200);
    assert.equal(exported.text, '');
  });

  it('exports descriptors that import into a fresh tenant as the same records and relations', async () => {
    await created(admin.client, '/api/v1/resources', { name: 'cdn-edge', type: 'cdn', environment: 'staging' });
    const exported = await admin.client.get('/api/v1/export?format=yaml');
    expectStatus(exported, 200);
    assert.match(exported.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.match(exported.text, /kind: Component/);

    // Back into the same tenant: nothing changes.
    const seq = await lastSeq(suite.app.db.knex, admin.tenantId);
    const again = await yaml(admin.client, exported.text, '?dry_run=true');
    expectStatus(again, 200);
    assert.equal(
      again.body.data.totals.unchanged,
      again.body.data.entities.length,
      JSON.stringify(again.body.data.entities.filter((e: { action: string }) => e.action !== 'unchanged')),
    );
    assert.equal(await lastSeq(suite.app.db.knex, admin.tenantId), seq);

    const fresh = await signupTenant(suite.app);
    const res = await yaml(fresh.client, exported.text);
    expectStatus(res, 200);
    assert.equal(res.body.data.totals.created, res.body.data.entities.length);
    assert.deepEqual(await catalogOf(fresh.client), await catalogOf(admin.client));
    const second = await fresh.client.get('/api/v1/export?format=yaml');
    assert.equal(second.text, exported.text);
  });

  it('round-trips the sample tenant: its export re-imports unchanged, and into a fresh tenant as the same catalog', async () => {
    const { tenantId, ctx } = await loadSampleData(suite.app.app.domain);
    const demo = suite.app.client(mintToken(tenantId, ctx.actor.userId!));
    const exported = await demo.get('/api/v1/export?format=yaml');
    expectStatus(exported, 200);
    const again = await yaml(demo, exported.text, '?dry_run=true');
    expectStatus(again, 200);
    const changed = again.body.data.entities.filter((e: { action: string }) => e.action !== 'unchanged');
    assert.deepEqual(changed, []);
    const fresh = await signupTenant(suite.app);
    expectStatus(await yaml(fresh.client, exported.text), 200);
    assert.deepEqual(await catalogOf(fresh.client), await catalogOf(demo));
  });

  it('refuses an unknown query parameter or format with 422', async () => {
    assertProblem(await admin.client.get('/api/v1/export?format=json'), 422, { path: 'query.format' });
    assertProblem(await yaml(admin.client, FILE, '?dry_run=maybe'), 422, { path: 'query.dry_run' });
  });
});
