// A write costs about what its SQL costs: the statements a REST write sends to PostgreSQL, counted
// from the driver (knex's query events, BEGIN and COMMIT included), for the common writes of a
// catalog record. Authentication is one statement before the transaction.
import assert from 'node:assert/strict';
import { created, expectStatus, signupTenant, startHttpApp, type Tenant } from './support/http-assertions.js';
import type { TestApp } from './support/server.js';

describe('catalog writes: statements per request', function () {
  this.timeout(60_000);
  let app: TestApp;
  let admin: Tenant;

  before(async () => {
    app = await startHttpApp();
    admin = await signupTenant(app);
  });
  after(async () => {
    await app?.close();
  });

  async function counted<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    const statements: string[] = [];
    const onQuery = (q: { sql: string }) => statements.push(q.sql);
    app.db.knex.on('query', onQuery);
    try {
      return { result: await work(), statements };
    } finally {
      app.db.knex.off('query', onQuery);
    }
  }

  it('creates a service in authentication + BEGIN, INSERT, the log, COMMIT', async () => {
    const { result, statements } = await counted(() => admin.client.post('/api/v1/services', { name: 'counted-post', type: 'api' }));
    expectStatus(result, 201);
    assert.deepEqual(result.body.data.component_ids, []);
    assert.deepEqual(result.body.data.assignments, []);
    assert.equal(statements.length, 5, statements.join('\n---\n'));
  });

  it('patches a service in authentication + BEGIN, the locked read with its lists, UPDATE, the log, COMMIT', async () => {
    const component = await created(admin.client, '/api/v1/components', { name: 'counted-lib', type: 'library' });
    const svc = await created(admin.client, '/api/v1/services', { name: 'counted-patch', type: 'api', component_ids: [component.id] });
    const { result, statements } = await counted(() =>
      admin.client.patch(`/api/v1/services/${svc.id}`, { description: 'cheaper' }, { 'if-match': `"${svc.row_version}"` }));
    expectStatus(result, 200);
    assert.equal(result.body.data.description, 'cheaper');
    assert.deepEqual(result.body.data.component_ids, [component.id], 'the lists it had');
    assert.equal(result.headers.get('etag'), `"${svc.row_version + 1}"`);
    assert.equal(statements.length, 6, statements.join('\n---\n'));
    const read = await admin.client.get(`/api/v1/services/${svc.id}`);
    assert.deepEqual(read.body.data.component_ids, [component.id]);
  });
});
