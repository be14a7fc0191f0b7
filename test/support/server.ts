// A real app node on port 0 over a fresh database, and a small JSON client for black-box tests.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { startServer, type AppHandle, type StartOptions } from '../../src/app.js';
import { DEFAULT_COLLAB_LIMITS } from '../../src/platform/collab/limits.js';
import { DERIVED_EVENT_DEFAULTS, HTTP_DEFAULTS, LIVE_LIMIT_DEFAULTS, RATE_LIMIT_DEFAULTS, WEBHOOK_DEFAULTS, type Config } from '../../src/platform/config.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { quietLogger } from './factories.js';

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir: path.join(os.tmpdir(), `ail-test-${randomUUID()}`),
    jwtSecret: 'test-secret-that-is-at-least-32-characters-long',
    logLevel: 'error',
    nodeId: `test-${randomUUID().slice(0, 8)}`,
    dbPoolMax: 10,
    http: { ...HTTP_DEFAULTS },
    collab: { ...DEFAULT_COLLAB_LIMITS },
    // Suites sign up and log in far more from 127.0.0.1 than a person does; limit tests lower these.
    rateLimits: { ...RATE_LIMIT_DEFAULTS, loginAttemptsPerIp: 100_000, signupsPerIp: 100_000 },
    live: { ...LIVE_LIMIT_DEFAULTS },
    webhooks: { ...WEBHOOK_DEFAULTS },
    // Followers wake on the bus; a slow poll keeps their background reads out of the statement counts.
    derivedEvents: { ...DERIVED_EVENT_DEFAULTS, pollMs: 60_000 },
    mode: 'embedded',
    seedSampleData: false,
    statementTimeoutMs: 30_000,
    ...overrides,
  };
}

export interface TestApp {
  app: AppHandle;
  db: TestDatabase;
  url: string;
  client: (token?: string) => ApiClient;
  /** Signs up a fresh tenant; returns its admin's token and ids. */
  signup(slug?: string): Promise<{ token: string; tenantId: string; userId: string; slug: string; email: string; password: string }>;
  close(): Promise<void>;
}

export async function startTestApp(options: Partial<Omit<StartOptions, 'config' | 'knex'>> = {}, config: Partial<Config> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const app = await startServer({ config: testConfig(config), knex: db.knex, logger: quietLogger, ...options });
  const client = (token?: string) => new ApiClient(app.url, token);
  return {
    app,
    db,
    url: app.url,
    client,
    async signup(slug = `t-${randomUUID().slice(0, 8)}`) {
      const email = `admin@${slug}.example`;
      const password = 'correct horse battery';
      const res = await client().post('/api/v1/auth/signup', {
        tenant_name: `Tenant ${slug}`,
        tenant_slug: slug,
        email,
        password,
        display_name: 'Admin',
      });
      if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
      const data = res.body.data;
      return { token: data.access_token, tenantId: data.tenant.id, userId: data.user.id, slug, email, password };
    },
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export class ApiClient {
  constructor(
    readonly base: string,
    readonly token?: string,
  ) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.base, token);
  }

  async request(method: string, url: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${url}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  get(url: string, headers?: Record<string, string>) {
    return this.request('GET', url, { headers });
  }
  post(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', url, { body, headers });
  }
  patch(url: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('PATCH', url, { body, headers });
  }
  delete(url: string, headers?: Record<string, string>) {
    return this.request('DELETE', url, { headers });
  }
}
