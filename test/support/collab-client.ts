// Co-editing test helpers: stock y-websocket providers (with `ws` as their WebSocket, and no
// BroadcastChannel, so two providers in one process only ever meet through the server), bounded
// waits, and attaching co-editing to a test node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mintToken as mintLoginToken } from './http-assertions.js';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import type { CollabOptions } from '../../src/app.js';
import { ApiClient } from './server.js';
import { createLogger } from '../../src/platform/logger.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a truthy value (or stops throwing); fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 5_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last as Error)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** Fast settings for tests; every delay is still the production code path. */
export const FAST_COLLAB: Partial<CollabOptions> = {
  projectionDelayMs: 100,
  projectionMaxDelayMs: 500,
  unloadDelayMs: 50,
  lockTtlMs: 3_000,
  lockRenewMs: 300,
};

/** What co-editing logged at warn and above, kept out of the test output and open to assertions. */
export const collabLog: string[] = [];
const collabLogger = createLogger('warn', {}, { stdout: (l) => void collabLog.push(l), stderr: (l) => void collabLog.push(l) });

/** Co-editing options for a test node (`startServer({collab})`): short timings, captured logs. */
export function testCollabOptions(extra: Partial<CollabOptions> = {}): Partial<CollabOptions> {
  return { logger: collabLogger, ...FAST_COLLAB, ...extra };
}

export interface Editor {
  doc: Y.Doc;
  provider: WebsocketProvider;
  fields: Y.Map<unknown>;
  description: Y.Text;
  attributes: Y.Map<unknown>;
  destroy(): void;
}

function collabBase(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/collab`;
}

/** A provider exactly as a browser would open it; resolves once synced with the server. */
export async function openEditor(httpUrl: string, room: string, token: string | undefined, timeoutMs = 5_000): Promise<Editor> {
  const editor = createEditor(httpUrl, room, token);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${room} did not sync within ${timeoutMs} ms`)), timeoutMs);
      editor.provider.on('sync', (synced) => {
        if (!synced) return;
        clearTimeout(timer);
        resolve();
      });
      editor.provider.on('connection-close', (event) => {
        if (!event || event.code < 4400 || event.code >= 4500) return;
        clearTimeout(timer);
        reject(new Error(`${room} was refused: ${event.code} ${event.reason}`));
      });
    });
  } catch (err) {
    editor.destroy();
    throw err;
  }
  return editor;
}

export function createEditor(httpUrl: string, room: string, token: string | undefined): Editor {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(collabBase(httpUrl), room, doc, {
    params: token ? { token } : {},
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 300,
  });
  return {
    doc,
    provider,
    fields: doc.getMap('fields'),
    description: doc.getText('description'),
    attributes: doc.getMap('attributes'),
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** Opens a provider that the server must refuse; resolves with the close code and reason. */
export async function refusedWith(httpUrl: string, room: string, token: string | undefined): Promise<{ code: number; reason: string }> {
  const editor = createEditor(httpUrl, room, token);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${room} was not refused`)), 5_000);
      editor.provider.on('connection-close', (event) => {
        if (!event) return;
        clearTimeout(timer);
        resolve({ code: event.code, reason: event.reason });
      });
      editor.provider.on('sync', (synced) => {
        if (synced) {
          clearTimeout(timer);
          reject(new Error(`${room} synced instead of being refused`));
        }
      });
    });
  } finally {
    editor.destroy();
  }
}

/** The server's notice about the last projection, from its awareness state. */
export function projectionNotice(editor: Editor): { status: string; detail?: string; errors?: { path: string; message: string }[] } | undefined {
  for (const state of editor.provider.awareness.getStates().values()) {
    if (state.server && state.projection) return state.projection;
  }
  return undefined;
}

// ---- tenants and members over REST --------------------------------------------------------------

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export interface Member {
  id: string;
  token: string;
  client: ApiClient;
}

export interface TestTenant {
  tenantId: string;
  admin: Member;
}

export async function signupTenant(url: string): Promise<TestTenant> {
  const slug = `c-${randomUUID().slice(0, 8)}`;
  const res = await new ApiClient(url).post('/api/v1/auth/signup', {
    tenant_name: `Collab ${slug}`,
    tenant_slug: slug,
    email: `admin@${slug}.example`,
    password: 'correct horse battery',
    display_name: 'Admin',
  });
  assert.equal(res.status, 201, res.text);
  const token = res.body.data.access_token as string;
  return { tenantId: res.body.data.tenant.id, admin: { id: res.body.data.user.id, token, client: new ApiClient(url, token) } };
}

/** A login token for the user (token version 0), valid for an hour: the HTTP suites' helper. */
export function mintToken(tenantId: string, userId: string, secret = TEST_JWT_SECRET): string {
  return mintLoginToken(tenantId, userId, 3600, secret);
}

export async function addMember(url: string, tenant: TestTenant, role: string, secret = TEST_JWT_SECRET): Promise<Member> {
  const res = await tenant.admin.client.post('/api/v1/users', {
    email: `${role.replace('_', '-')}-${randomUUID().slice(0, 8)}@example.com`,
    display_name: `The ${role}`,
    role,
  });
  assert.equal(res.status, 201, res.text);
  const token = mintToken(tenant.tenantId, res.body.data.id, secret);
  return { id: res.body.data.id, token, client: new ApiClient(url, token) };
}

export interface ServiceRow {
  id: string;
  name: string;
  row_version: number;
  [key: string]: any;
}

export async function createService(tenant: TestTenant, body: Record<string, unknown> = {}): Promise<ServiceRow> {
  const res = await tenant.admin.client.post('/api/v1/services', {
    name: `svc-${randomUUID().slice(0, 8)}`,
    type: 'api',
    description: 'The first line.',
    attributes: { protocol: 'https' },
    ...body,
  });
  assert.equal(res.status, 201, res.text);
  return res.body.data;
}
