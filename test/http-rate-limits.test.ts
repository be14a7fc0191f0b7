// Black-box HTTP: rate limits on login and signup. Failed logins count per (tenant, email, client
// IP) and a success clears them; every login attempt counts per IP; sign-ups count per IP; a spent
// budget answers 429 problem+json with Retry-After. TRUST_PROXY decides whether X-Forwarded-For
// names the client. With Redis the counts are the cluster's; while Redis is down each node counts
// in memory, so the limit holds and logins still work.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { startServer, type AppHandle } from '../src/app.js';
import { createKnex } from '../src/platform/db.js';
import type { Config } from '../src/platform/config.js';
import { quietLogger } from './support/factories.js';
import { assertProblem, expectStatus, signupTenant, type Tenant } from './support/http-assertions.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis, type TestRedis } from './support/redis.js';
import { ApiClient, startTestApp, testConfig, type ApiResponse, type TestApp } from './support/server.js';

const WINDOW_SECONDS = 15 * 60;

function limits(overrides: Partial<Config['rateLimits']>): Partial<Config> {
  return { rateLimits: { loginFailuresPerAccountIp: 3, loginAttemptsPerIp: 1_000, signupsPerIp: 1_000, ...overrides } };
}

function login(base: string, tenant: Tenant, password: string, headers: Record<string, string> = {}, email = tenant.email): Promise<ApiResponse> {
  return new ApiClient(base).post('/api/v1/auth/login', { tenant_slug: tenant.slug, email, password }, headers);
}

function assertTooMany(res: ApiResponse, maxSeconds = WINDOW_SECONDS): void {
  assertProblem(res, 429);
  assert.equal(JSON.parse(res.text).type, 'https://appinventory.live/problems/too_many_requests');
  const retryAfter = res.headers.get('retry-after');
  assert.match(retryAfter ?? '', /^\d+$/, 'Retry-After in whole seconds');
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= maxSeconds, `Retry-After ${retryAfter}`);
}

async function failLogins(base: string, tenant: Tenant, n: number, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < n; i++) expectStatus(await login(base, tenant, `wrong-password-${i}`, headers), 401, `failed login ${i + 1}`);
}

describe('HTTP rate limits: login and signup', () => {
  describe('one node (memory)', () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp({}, limits({}));
    });
    after(() => app?.close());

    it('refuses an account+IP whose failed logins are spent with 429 and Retry-After, even with the right password', async () => {
      const tenant = await signupTenant(app);
      await failLogins(app.url, tenant, 3);
      const refused = await login(app.url, tenant, tenant.password);
      assertTooMany(refused);
      assertTooMany(await login(app.url, tenant, 'wrong-again'));
    });

    it('clears the failures of an account+IP on a successful login', async () => {
      const tenant = await signupTenant(app);
      await failLogins(app.url, tenant, 2);
      expectStatus(await login(app.url, tenant, tenant.password), 200, 'the right password within the budget');
      await failLogins(app.url, tenant, 3);
      assertTooMany(await login(app.url, tenant, tenant.password));
    });

    it('counts failures per account: another email of the same tenant from the same IP is not refused', async () => {
      const tenant = await signupTenant(app);
      await failLogins(app.url, tenant, 3);
      const other = await login(app.url, tenant, 'whatever-it-is', {}, `someone-else@${tenant.slug}.example`);
      expectStatus(other, 401, 'another account');
    });

    it('ignores X-Forwarded-For without TRUST_PROXY: a spoofed header does not reset the count', async () => {
      const tenant = await signupTenant(app);
      for (let i = 0; i < 3; i++) {
        expectStatus(await login(app.url, tenant, `wrong-${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` }), 401);
      }
      assertTooMany(await login(app.url, tenant, tenant.password, { 'x-forwarded-for': '203.0.113.99' }));
    });
  });

  describe('behind a proxy (TRUST_PROXY)', () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp({}, { ...limits({}), http: { ...testConfig().http, trustProxy: 'loopback' } });
    });
    after(() => app?.close());

    it("a stranger's failures from another IP do not lock the account's owner out", async () => {
      const tenant = await signupTenant(app);
      const stranger = { 'x-forwarded-for': '203.0.113.7' };
      await failLogins(app.url, tenant, 3, stranger);
      assertTooMany(await login(app.url, tenant, tenant.password, stranger));
      expectStatus(await login(app.url, tenant, tenant.password, { 'x-forwarded-for': '198.51.100.20' }), 200, "the owner's login from their own IP");
    });
  });

  describe('per IP', () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp({}, limits({ loginFailuresPerAccountIp: 100, loginAttemptsPerIp: 4, signupsPerIp: 2 }));
    });
    after(() => app?.close());

    it('bounds every login attempt of an IP, whatever account it names', async () => {
      const tenant = { slug: 'no-such-tenant', email: '', password: '' } as Tenant;
      for (let i = 0; i < 4; i++) {
        expectStatus(await login(app.url, tenant, 'guess', {}, `user-${i}@example.com`), 401, `attempt ${i + 1}`);
      }
      assertTooMany(await login(app.url, tenant, 'guess', {}, 'user-4@example.com'));
    });

    it('bounds sign-ups per IP', async () => {
      await signupTenant(app);
      await signupTenant(app);
      const slug = `t-${randomUUID().slice(0, 8)}`;
      const res = await app.client().post('/api/v1/auth/signup', {
        tenant_name: `Tenant ${slug}`,
        tenant_slug: slug,
        email: `a@${slug}.example`,
        password: 'correct horse battery',
        display_name: 'A',
      });
      assertTooMany(res, 60 * 60);
    });
  });

  describe('two nodes over Redis', function () {
    requireRedis(this);
    let redis: TestRedis;
    let db: TestDatabase;
    const pools: Knex[] = [];
    const nodes: AppHandle[] = [];
    const prefix = `rl-test-${randomUUID().slice(0, 8)}`;

    before(async function () {
      this.timeout(60_000);
      redis = (await getRedis())!;
      db = await createTestDatabase();
      for (let i = 0; i < 2; i++) {
        const knex = createKnex(db.url, { poolMax: 5 });
        pools.push(knex);
        const config = testConfig({ ...limits({}), redisUrl: redis.url, databaseUrl: db.url, mode: 'cluster', nodeId: `rl-node-${i}` });
        nodes.push(await startServer({ config, knex, logger: quietLogger, live: { redisPrefix: prefix } }));
      }
    });
    after(async function () {
      this.timeout(30_000);
      if (redis?.managed) await redis.restart().catch(() => {});
      for (const node of nodes) await node.close();
      for (const pool of pools) await pool.destroy();
      await db?.drop();
    });

    const signupOn = async (i: number) => {
      const slug = `t-${randomUUID().slice(0, 8)}`;
      const password = 'correct horse battery';
      const res = await new ApiClient(nodes[i].url).post('/api/v1/auth/signup', {
        tenant_name: `Tenant ${slug}`,
        tenant_slug: slug,
        email: `admin@${slug}.example`,
        password,
        display_name: 'Admin',
      });
      expectStatus(res, 201, 'signup');
      return { slug, email: `admin@${slug}.example`, password } as Tenant;
    };

    it('counts failures across the cluster: failures on one node spend the budget on the other', async () => {
      const tenant = await signupOn(0);
      await failLogins(nodes[0].url, tenant, 2);
      await failLogins(nodes[1].url, tenant, 1);
      assertTooMany(await login(nodes[1].url, tenant, tenant.password));
      assertTooMany(await login(nodes[0].url, tenant, tenant.password));
    });

    it('with Redis down, limits logins in memory: neither unlimited nor refused outright', async function () {
      if (!redis.managed) this.skip(); // a REDIS_URL server is not ours to stop
      this.timeout(30_000);
      const tenant = await signupOn(0);
      await redis.stop();
      expectStatus(await login(nodes[0].url, tenant, tenant.password), 200, 'the right password during the outage');
      await failLogins(nodes[0].url, tenant, 3);
      assertTooMany(await login(nodes[0].url, tenant, tenant.password));
      await redis.restart();
    });
  });
});
