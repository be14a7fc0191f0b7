// Live-event test helpers: real socket.io-client sockets that record what they receive and resume
// from their last seq on reconnect, REST calls, and bounded waits.
import { randomUUID } from 'node:crypto';
import { io as ioClient, type Socket } from 'socket.io-client';
import type { ChangeEvent } from '../../src/platform/bus.js';
import type { Ack, ClientToServerEvents, RefreshAck, ResyncInfo, ServerToClientEvents, SubscriptionFilter } from '../../src/platform/realtime/events.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LiveClientOptions {
  token: string;
  since?: unknown;
  /** Reconnect automatically, resuming with since = last seq received (default false). */
  reconnect?: boolean;
}

/** A socket.io-client socket that records every `change`, `resync_required` and `revoked` it gets. */
export class LiveClient {
  readonly events: ChangeEvent[] = [];
  readonly resyncs: ResyncInfo[] = [];
  /** Each `caught_up` with the number of `change` events received before it. */
  readonly caughtUp: { seq: number; replayed: number; afterEvents: number }[] = [];
  readonly revocations: string[] = [];
  readonly disconnects: string[] = [];
  serverShutdowns = 0;
  lastSeq: number | undefined;
  readonly socket: ClientSocket;
  /** The URL the next (re)connection goes to; tests move a client to another node by changing it. */
  url: string;

  constructor(url: string, options: LiveClientOptions) {
    this.url = url;
    this.lastSeq = typeof options.since === 'number' ? options.since : undefined;
    let first = true;
    this.socket = ioClient(url, {
      forceNew: true,
      transports: ['websocket'],
      reconnection: options.reconnect ?? false,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
      timeout: 5_000,
      auth: (cb) => {
        const since = first ? options.since : this.lastSeq;
        first = false;
        cb(since === undefined ? { token: options.token } : { token: options.token, since });
      },
    }) as ClientSocket;
    this.socket.on('change', (event) => {
      this.events.push(event);
      this.lastSeq = event.seq;
    });
    this.socket.on('resync_required', (info) => {
      this.resyncs.push(info);
      this.lastSeq = info.latest_seq;
    });
    this.socket.on('caught_up', (info) => this.caughtUp.push({ ...info, afterEvents: this.events.length }));
    this.socket.on('revoked', ({ reason }) => this.revocations.push(reason));
    this.socket.on('server_shutdown', () => this.serverShutdowns++);
    this.socket.on('disconnect', (reason) => this.disconnects.push(reason));
  }

  seqs(): number[] {
    return this.events.map((e) => e.seq);
  }

  /** Resolves on connect; rejects with the connect_error. */
  connected(timeoutMs = 5_000): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not connect in time')), timeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Points the manager at another node (used before the next reconnection attempt). */
  moveTo(url: string): void {
    this.url = url;
    // The manager opens every new engine on its uri.
    (this.socket.io as unknown as { uri: string }).uri = url;
  }

  emitWithAck(event: 'subscribe' | 'unsubscribe', payload: unknown): Promise<Ack> {
    return this.socket.timeout(5_000).emitWithAck(event, payload as SubscriptionFilter);
  }

  /** `refresh_token` with its ack: the socket takes a renewed token. */
  refreshToken(payload: unknown): Promise<RefreshAck> {
    return this.socket.timeout(5_000).emitWithAck('refresh_token', payload as { token: string });
  }

  close(): void {
    this.socket.io.reconnection(false);
    this.socket.disconnect();
  }
}

export async function connectLive(url: string, options: LiveClientOptions): Promise<LiveClient> {
  const client = new LiveClient(url, options);
  try {
    await client.connected();
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

/** The connect_error of a handshake that must fail. */
export async function connectError(url: string, auth: Record<string, unknown>): Promise<Error & { data?: unknown }> {
  const socket = ioClient(url, { forceNew: true, transports: ['websocket'], reconnection: false, timeout: 5_000, auth });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connect_error in time')), 5_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        reject(new Error('the handshake unexpectedly succeeded'));
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        resolve(err as Error & { data?: unknown });
      });
    });
  } finally {
    socket.disconnect();
  }
}

export interface RestResult<T = unknown> {
  status: number;
  body: T;
}

export async function rest<T = any>(baseUrl: string, method: string, path: string, token?: string, body?: unknown): Promise<RestResult<T>> {
  const res = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A new tenant through the real sign-up; returns its id and an admin's login token. */
export async function signup(baseUrl: string): Promise<{ tenantId: string; token: string; userId: string }> {
  const slug = `live-${randomUUID().slice(0, 8)}`;
  const res = await rest(baseUrl, 'POST', '/auth/signup', undefined, {
    tenant_name: `Tenant ${slug}`,
    tenant_slug: slug,
    email: `admin@${slug}.example.com`,
    password: 'correct horse battery',
    display_name: 'Admin',
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { tenantId: res.body.data.tenant.id, token: res.body.data.access_token, userId: res.body.data.user.id };
}

export async function createTeam(baseUrl: string, token: string, name = `team-${randomUUID().slice(0, 8)}`): Promise<string> {
  const res = await rest(baseUrl, 'POST', '/teams', token, { name });
  if (res.status !== 201) throw new Error(`create team failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.id as string;
}

/** Asserts 1..n style: strictly increasing by one from `first`, no gap, no duplicate. */
export function isConsecutive(seqs: number[], first: number, last: number): boolean {
  if (seqs.length !== last - first + 1) return false;
  return seqs.every((s, i) => s === first + i);
}

interface Authenticator<P> {
  authenticate(token: string | undefined, opts?: { fresh?: boolean }): Promise<P>;
}

/**
 * Holds the handshake of `token` right after its token check passed (its first authentication
 * that is not a re-check) until `release()`: the window between the check and joining the stream.
 * `restore()` puts the real authenticate back.
 */
export function holdHandshake<P>(auth: Authenticator<P>, token: string) {
  const original = auth.authenticate.bind(auth);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  auth.authenticate = async (given, opts) => {
    const principal = await original(given, opts);
    if (given === token && !held && !opts?.fresh) {
      held = true;
      await gate;
    }
    return principal;
  };
  return {
    held: () => held,
    release: () => release(),
    restore() {
      auth.authenticate = original;
      release();
    },
  };
}
