// Shared helpers for the black-box HTTP suites (test/http-*.test.ts): a started app node, users
// of any role with a token, problem+json assertions and "nothing was written" checks.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Knex } from 'knex';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, TokenSigner } from '../../src/modules/auth/tokens.js';
import type { Config } from '../../src/platform/config.js';
import { startTestApp, type ApiClient, type ApiResponse, type TestApp } from './server.js';

/** The secret testConfig() gives every test node. */
export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export type Role = 'admin' | 'editor' | 'incident_commander' | 'viewer';

/** A node over a fresh database (startTestApp; one place to change how the HTTP suites start). */
export async function startHttpApp(config: Partial<Config> = {}): Promise<TestApp> {
  return startTestApp({}, config);
}

/**
 * A suite's node and first tenant: registers the before/after hooks that start the node over a
 * fresh database, sign a tenant up and close it all; the fields are set once before() has run.
 */
export function httpSuite(config: Partial<Config> = {}): { app: TestApp; admin: Tenant } {
  const suite = {} as { app: TestApp; admin: Tenant };
  before(async () => {
    suite.app = await startHttpApp(config);
    suite.admin = await signupTenant(suite.app);
  });
  after(async () => {
    await suite.app?.close();
  });
  return suite;
}

export interface Tenant {
  tenantId: string;
  userId: string;
  slug: string;
  token: string;
  email: string;
  password: string;
  client: ApiClient;
}

export async function signupTenant(app: TestApp, slug?: string): Promise<Tenant> {
  const s = await app.signup(slug);
  return { ...s, client: app.client(s.token) };
}

/**
 * A login token signed by the node's own signer (HS256; sub, tid, ver, iat, exp, iss, aud), for a
 * user at token version `ver` (0: never logged out), valid for an hour unless told.
 */
export function mintToken(tenantId: string, userId: string, expiresIn: number = 3600, secret = TEST_JWT_SECRET, ver = 0): string {
  return new TokenSigner(secret).sign({ sub: userId, tid: tenantId, ver }, expiresIn);
}

/**
 * A JWT of exactly these claims (tests of what the node refuses): HS256 with the test secret, and
 * the node's issuer and audience unless given (null leaves the claim out); iat only when given.
 */
export function signClaims(claims: Record<string, unknown>, opts: { issuer?: string | null; audience?: string | null } = {}): string {
  const iss = opts.issuer === undefined ? TOKEN_ISSUER : opts.issuer;
  const aud = opts.audience === undefined ? TOKEN_AUDIENCE : opts.audience;
  return jwt.sign({ ...claims, ...(iss ? { iss } : {}), ...(aud ? { aud } : {}) }, TEST_JWT_SECRET, { algorithm: 'HS256', noTimestamp: !('iat' in claims) });
}

export interface Member {
  id: string;
  email: string;
  role: Role;
  token: string;
  client: ApiClient;
}

/**
 * A user of the role, created over HTTP by the tenant's admin without a password (no bcrypt cost),
 * with a token minted for them: login itself is covered by http-auth.test.ts.
 */
export async function addMember(app: TestApp, tenant: Tenant, role: Role): Promise<Member> {
  const email = `${role.replace('_', '-')}-${randomUUID().slice(0, 8)}@${tenant.slug}.example`;
  const res = await tenant.client.post('/api/v1/users', { email, display_name: `The ${role}`, role });
  assert.equal(res.status, 201, `creating a ${role}: ${res.status} ${res.text}`);
  const token = mintToken(tenant.tenantId, res.body.data.id);
  return { id: res.body.data.id, email, role, token, client: app.client(token) };
}

/** POST that must answer 201; returns `data`. */
export async function created(client: ApiClient, url: string, body: unknown): Promise<Record<string, any>> {
  const res = await client.post(url, body);
  assert.equal(res.status, 201, `POST ${url}: ${res.status} ${res.text}`);
  return res.body.data;
}

export function expectStatus(res: ApiResponse, status: number, what = ''): void {
  assert.equal(res.status, status, `${what} expected ${status}, got ${res.status}: ${res.text.slice(0, 600)}`);
}

const LEAKS = ['select ', 'insert into', 'update "', 'delete from', 'violates', 'syntax error', 'node_modules', 'objection', 'knex'];

/** No stack trace, no SQL text, no driver message in a response body. */
export function assertNoLeak(text: string): void {
  assert.doesNotMatch(text, /\n\s+at /, 'a stack trace leaked');
  assert.doesNotMatch(text, /\bat (?:async )?[\w.<>]+ \(.*:\d+:\d+\)/, 'a stack frame leaked');
  assert.doesNotMatch(text, /\.ts:\d+|\.js:\d+/, 'a source location leaked');
  const lower = text.toLowerCase();
  for (const needle of LEAKS) assert.ok(!lower.includes(needle), `response leaks '${needle}': ${text.slice(0, 400)}`);
}

/**
 * An RFC 9457 problem with the status, never a 500, and nothing internal in it. With `path`, one
 * of `errors[]` names it (exactly, or as a prefix followed by a dot).
 */
export function assertProblem(res: ApiResponse, status: number, opts: { path?: string; detail?: RegExp } = {}): void {
  assert.notEqual(res.status, 500, `a 500: ${res.text}`);
  expectStatus(res, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, `content-type of a ${status}`);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  assert.equal(typeof body.type, 'string', 'problem.type');
  assert.equal(typeof body.title, 'string', 'problem.title');
  assert.equal(body.status, status, 'problem.status');
  assert.equal(typeof body.detail, 'string', 'problem.detail');
  assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on an error');
  assertNoLeak(res.text);
  if (body.errors !== undefined) {
    assert.ok(Array.isArray(body.errors), 'problem.errors is an array');
    for (const e of body.errors as { path: unknown; message: unknown }[]) {
      assert.equal(typeof e.path, 'string', 'errors[].path');
      assert.equal(typeof e.message, 'string', 'errors[].message');
    }
  }
  if (opts.path) {
    const paths = ((body.errors ?? []) as { path: string }[]).map((e) => e.path);
    assert.ok(
      paths.some((p) => p === opts.path || p.startsWith(`${opts.path}.`)),
      `errors[].path should name '${opts.path}', got ${JSON.stringify(paths)}`,
    );
  }
  if (opts.detail) assert.match(String(body.detail), opts.detail);
}

const tenantColumnCache = new WeakMap<Knex, Promise<Set<string>>>();

function tablesWithTenant(knex: Knex): Promise<Set<string>> {
  let found = tenantColumnCache.get(knex);
  if (!found) {
    found = knex('information_schema.columns')
      .where({ table_schema: 'public', column_name: 'tenant_id' })
      .select('table_name')
      .then((rows: { table_name: string }[]) => new Set(rows.map((r) => r.table_name)));
    tenantColumnCache.set(knex, found);
  }
  return found;
}

/** Actions of the events change-log followers append after commit, in the background, for earlier writes. */
export const DERIVED_ACTIONS = ['score_changed', 'data_changed'];

/**
 * Row counts per table (the tenant's rows where the table has tenant_id), plus the tenant's
 * change_events and audit_logs. Derived events are not counted: a follower may append them at any
 * moment for the writes before, and a refused write commits nothing they could follow.
 */
export async function tenantCounts(knex: Knex, tenantId: string, tables: string[]): Promise<Record<string, number>> {
  const withTenant = await tablesWithTenant(knex);
  const counts: Record<string, number> = {};
  for (const table of [...new Set([...tables, 'change_events', 'audit_logs'])]) {
    const q = knex(table).count<{ n: string }[]>('* as n');
    if (withTenant.has(table)) q.where('tenant_id', tenantId);
    if (table === 'change_events') q.whereNotIn('action', DERIVED_ACTIONS);
    counts[table] = Number((await q)[0].n);
  }
  return counts;
}

/**
 * Runs a write that must be refused and checks it left nothing behind: the same row counts in
 * `tables` and no new change_events or audit_logs for the tenant.
 */
export async function refused(
  knex: Knex,
  tenantId: string,
  tables: string[],
  write: () => Promise<ApiResponse>,
  status: number,
  opts: { path?: string; detail?: RegExp } = {},
): Promise<ApiResponse> {
  const before = await tenantCounts(knex, tenantId, tables);
  const res = await write();
  assertProblem(res, status, opts);
  assert.deepEqual(await tenantCounts(knex, tenantId, tables), before, 'a refused write changed rows');
  return res;
}

/** `refused` for a suite's node and tenant (read when called, as suites set them in before()), services by default. */
export function refusedWriteOf(app: () => TestApp, tenant: () => { tenantId: string }) {
  return (write: () => Promise<ApiResponse>, status: number, opts: { path?: string; detail?: RegExp } = {}, tables = ['services']) =>
    refused(app().db.knex, tenant().tenantId, tables, write, status, opts);
}

/** Every tenant's and user's row, every audit entry and change event: a refused signup adds none. */
export async function globalCounts(knex: Knex): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['tenants', 'users', 'audit_logs', 'change_events']) {
    counts[table] = Number((await knex(table).count<{ n: string }[]>('* as n'))[0].n);
  }
  return counts;
}

/** A password the policy takes (random, so zxcvbn rates it strong) of exactly `bytes` ASCII bytes. */
export function strongPassword(bytes: number): string {
  return randomBytes(bytes).toString('base64').slice(0, bytes);
}

/** The latest change-log seq of a tenant (0 when none). */
export async function lastSeq(knex: Knex, tenantId: string): Promise<number> {
  const row = await knex('change_events').where('tenant_id', tenantId).max<{ max: string | null }[]>('seq as max');
  return Number(row[0]?.max ?? 0);
}

/** Walks a cursor-paginated list; returns every item and every page's meta. */
export async function walkPages(client: ApiClient, url: string): Promise<{ items: any[]; metas: any[] }> {
  const items: any[] = [];
  const metas: any[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 1000; guard++) {
    const sep = url.includes('?') ? '&' : '?';
    const res = await client.get(cursor ? `${url}${sep}cursor=${encodeURIComponent(cursor)}` : url);
    expectStatus(res, 200, `GET ${url}`);
    items.push(...res.body.data);
    metas.push(res.body.meta);
    cursor = res.body.meta.next_cursor;
    if (!cursor) return { items, metas };
  }
  throw new Error(`pagination of ${url} did not end`);
}
