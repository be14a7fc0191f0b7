// A write costs about what its SQL costs: the statements a REST write sends to PostgreSQL, counted
// from the driver (knex's query events, BEGIN and COMMIT included), for the common writes of a
// catalog record. Authentication is one statement before the transaction when the token's
// principal is not in the node's cache, none when it is.
import assert from 'node:assert/strict';
import { created, expectStatus, httpSuite } from './support/http-assertions.js';
import { counted, isPrincipalRead } from './support/sql.js';

describe('catalog writes and authentication: statements per request', function () {
  this.timeout(60_000);
  const suite = httpSuite();

  const count = <T>(work: () => Promise<T>) => counted(suite.app.db.knex, work);

  it('creates a service in authentication + BEGIN, INSERT, the log, COMMIT', async () => {
    const { result, statements } = await count(() => suite.admin.client.post('/api/v1/services', { name: 'counted-post', type: 'api' }));
    expectStatus(result, 201);
    assert.deepEqual(result.body.data.component_ids, []);
    assert.deepEqual(result.body.data.assignments, []);
    assert.equal(statements.filter((sql) => !isPrincipalRead(sql)).length, 4, statements.join('\n---\n'));
    assert.ok(statements.length <= 5, statements.join('\n---\n'));
  });

  it('patches a service in authentication + BEGIN, the locked read with its lists, UPDATE, the log, COMMIT', async () => {
    const component = await created(suite.admin.client, '/api/v1/components', { name: 'counted-lib', type: 'library' });
    const svc = await created(suite.admin.client, '/api/v1/services', { name: 'counted-patch', type: 'api', component_ids: [component.id] });
    const { result, statements } = await count(() =>
      suite.admin.client.patch(`/api/v1/services/${svc.id}`, { description: 'cheaper' }, { 'if-match': `"${svc.row_version}"` }),
    );
    expectStatus(result, 200);
    assert.equal(result.body.data.description, 'cheaper');
    assert.deepEqual(result.body.data.component_ids, [component.id], 'the lists it had');
    assert.equal(result.headers.get('etag'), `"${svc.row_version + 1}"`);
    assert.equal(statements.filter((sql) => !isPrincipalRead(sql)).length, 5, statements.join('\n---\n'));
    assert.ok(statements.length <= 6, statements.join('\n---\n'));
    const read = await suite.admin.client.get(`/api/v1/services/${svc.id}`);
    assert.deepEqual(read.body.data.component_ids, [component.id]);
  });

  describe('authentication: the principal cache', () => {
    async function principalReads(token: string): Promise<{ status: number; reads: number }> {
      const { result, statements } = await count(() => suite.app.client(token).get('/api/v1/me'));
      return { status: result.status, reads: statements.filter(isPrincipalRead).length };
    }

    it('serves a repeated token without reading the user, and reads it again after the user changes', async () => {
      await principalReads(suite.admin.token); // warms the cache
      assert.deepEqual(await principalReads(suite.admin.token), { status: 200, reads: 0 });
      expectStatus(await suite.admin.client.patch(`/api/v1/users/${suite.admin.userId}`, { display_name: 'Renamed' }), 200);
      assert.deepEqual(await principalReads(suite.admin.token), { status: 200, reads: 1 }, 'the change dropped the entry');
    });

    it('keeps revocation immediate: a revoked key and a deactivated user are refused on the next request', async () => {
      const key = (await suite.admin.client.post('/api/v1/api-keys', { name: 'cached', scope: 'read' })).body.data;
      assert.equal((await principalReads(key.key)).status, 200);
      assert.equal((await principalReads(key.key)).status, 200); // now from the cache
      expectStatus(await suite.admin.client.delete(`/api/v1/api-keys/${key.id}`), 204);
      assert.equal((await principalReads(key.key)).status, 401);

      const user = await suite.admin.client.post('/api/v1/users', {
        email: 'cached-user@example.com',
        display_name: 'C',
        role: 'viewer',
        password: 'long enough password',
      });
      expectStatus(user, 201);
      const login = await suite.app
        .client()
        .post('/api/v1/auth/login', { tenant_slug: suite.admin.slug, email: 'cached-user@example.com', password: 'long enough password' });
      const token = login.body.data.access_token as string;
      assert.equal((await principalReads(token)).status, 200);
      assert.equal((await principalReads(token)).status, 200);
      expectStatus(await suite.admin.client.patch(`/api/v1/users/${user.body.data.id}`, { is_active: false }), 200);
      assert.equal((await principalReads(token)).status, 401);
    });

    it('keeps ended sessions immediate: after logout or a password change a cached token is refused on the next request', async () => {
      const password = 'cached-session-passphrase-7ordinary';
      const user = await suite.admin.client.post('/api/v1/users', { email: 'cached-session@example.com', display_name: 'S', role: 'viewer', password });
      expectStatus(user, 201);
      const loginAs = async (pw: string) =>
        (
          await suite.app.client().post('/api/v1/auth/login', {
            tenant_slug: suite.admin.slug,
            email: 'cached-session@example.com',
            password: pw,
          })
        ).body.data.access_token as string;
      const first = await loginAs(password);
      const other = await loginAs(password);
      for (const token of [first, other]) {
        assert.equal((await principalReads(token)).status, 200);
        assert.deepEqual(await principalReads(token), { status: 200, reads: 0 }, 'now from the cache');
      }
      expectStatus(await suite.app.client(first).post('/api/v1/auth/logout'), 204);
      assert.equal((await principalReads(first)).status, 401);
      assert.equal((await principalReads(other)).status, 401, "the user's other session too");

      const next = await loginAs(password);
      assert.deepEqual((await principalReads(next)).status, 200);
      assert.deepEqual(await principalReads(next), { status: 200, reads: 0 });
      expectStatus(await suite.admin.client.patch(`/api/v1/users/${user.body.data.id}`, { password: `${password}-changed` }), 200);
      assert.equal((await principalReads(next)).status, 401);
    });
  });
});
