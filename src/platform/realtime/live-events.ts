// The live-event Socket.IO server: authenticates the handshake, keeps one TenantStream per tenant
// with sockets on this node, feeds the streams from the event bus, and sweeps the change log so a
// lost bus message is delivered anyway. See docs/LIVE-EVENTS.md for the design.
import type http from 'node:http';
import { Server, type ExtendedError, type ServerOptions } from 'socket.io';
import { bearerToken } from '../bearer.js';
import type { ChangeEvent, EventBus } from '../bus.js';
import { zodIssues } from '../errors.js';
import type { Logger } from '../logger.js';
import { NO_METRICS, type MetricsSink } from '../metrics-sink.js';
import { redactUrl } from '../redact.js';
import { corsOptions } from '../http/cors.js';
import type { OriginPolicy } from '../origins.js';
import {
  MAX_SUBSCRIPTIONS,
  handshakeAuth,
  invalidPayload,
  normalizeFilter,
  sameFilter,
  subscribeInput,
  unsubscribeInput,
  type Ack,
  type ConnectErrorMessage,
  type LiveServer,
  type LiveSocket,
  type RefreshAck,
  type RevokedReason,
} from './events.js';
import { dropConnection } from './backpressure.js';
import type { SocketCaps } from './socket-caps.js';
import { SocketSessions, type LivePrincipal } from './socket-sessions.js';
import { TenantStream, type ChangeLogSource, type StreamMember, type VisibilityRule } from './tenant-stream.js';

export type { LivePrincipal } from './socket-sessions.js';

/** The change log as live events read it: replay pages, a tenant's latest seq, and many tenants' at once (the sweep). */
export interface LiveChangeLog extends ChangeLogSource {
  latestSeqs(tenantIds: string[]): Promise<Map<string, number>>;
}

export interface LiveEventsOptions {
  server: http.Server;
  /**
   * The principal behind a token; null when it does not sign in (bad, expired, revoked). Throws
   * when it cannot tell. `fresh`: not from a cache (re-checks).
   */
  authenticate(token: string | undefined, opts?: { fresh?: boolean }): Promise<LivePrincipal | null>;
  changeLog: LiveChangeLog;
  /** Committed events of every node (in-process, or Redis in cluster mode). */
  bus: EventBus;
  visibility: VisibilityRule;
  logger: Logger;
  /** The Socket.IO adapter (cluster mode: the Redis adapter); default in-memory. */
  adapter?: ServerOptions['adapter'];
  /** How often the change log is compared with what this node delivered (ms). */
  sweepIntervalMs?: number;
  /** How long a missing event may be in flight on the bus before it is read from the log (ms). */
  catchUpGraceMs?: number;
  /** Live sockets reached per turn of the event loop when an event fans out (default 100). */
  sliceSize?: number;
  /** Caps on concurrent sockets per user and per tenant; without them a handshake is not counted. */
  caps?: SocketCaps;
  /** Unsent bytes a socket may hold before it is dropped as a slow consumer; unset: unbounded. */
  maxBufferedBytes?: number;
  /** Where deliveries, replays, sweeps and catch-ups are counted (the node's metrics). */
  metrics?: MetricsSink;
  /** Browser origins that may connect; unset: any (the engine alone, in tests of its own). */
  origins?: OriginPolicy;
}

/** Buses that can tell when their subscription resumed after an outage (Redis). */
interface ResumableBus extends EventBus {
  onResume?(listener: () => void): () => void;
}

const FLUSH_TIMEOUT_MS = 2_000;
const DISCONNECT_WAIT_MS = 1_000;

function connectError(message: ConnectErrorMessage, data?: unknown): ExtendedError {
  const err = new Error(message) as ExtendedError;
  if (data !== undefined) err.data = data;
  return err;
}

export class LiveEvents {
  readonly io: LiveServer;
  private readonly streams = new Map<string, TenantStream>();
  private readonly logger: Logger;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly catchUpGraceMs: number;
  private readonly metrics: MetricsSink;
  /** Token expiry and renewal of every socket. */
  private readonly sessions: SocketSessions;
  private accepting = true;
  private sweeping = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: LiveEventsOptions) {
    const { server, adapter } = opts;
    this.logger = opts.logger.child({ component: 'live-events' });
    this.metrics = opts.metrics ?? NO_METRICS;
    // destroyUpgrade: false — other upgrades on this server (/collab) are not Socket.IO's to end.
    this.io = new Server(server, {
      serveClient: false,
      destroyUpgrade: false,
      ...(adapter ? { adapter } : {}),
      ...this.originRules(opts.origins),
    }) as LiveServer;
    const sweepIntervalMs = opts.sweepIntervalMs ?? 1_000;
    this.catchUpGraceMs = opts.catchUpGraceMs ?? Math.min(250, Math.floor(sweepIntervalMs / 2));
    this.sessions = new SocketSessions({
      authenticate: (token) => this.opts.authenticate(token, { fresh: true }),
      revoke: (member, reason) => this.revoke(member, reason),
    });

    this.io.use((socket, next) => {
      this.authenticate(socket).then(
        () => next(),
        (err: ExtendedError) => {
          this.logger.info('socket refused', { socket_id: socket.id, reason: err.message, url: redactUrl(socket.handshake.url) });
          next(err);
        },
      );
    });
    this.io.on('connection', (socket) => this.onConnection(socket));

    const bus = opts.bus as ResumableBus;
    this.unsubscribers.push(bus.subscribe((events) => this.onBusEvents(events)));
    if (bus.onResume) this.unsubscribers.push(bus.onResume(() => void this.sweep()));
    this.sweepTimer = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * CORS for the polling transport, and a refusal (403) of any handshake, polling or WebSocket,
   * whose Origin is not allowed: browsers do not apply CORS to WebSockets, so the origin is
   * checked here. A client without an Origin header (not a browser) passes.
   */
  private originRules(origins: OriginPolicy | undefined): Partial<ServerOptions> {
    if (!origins) return {};
    return {
      cors: corsOptions(origins, ['GET', 'POST'], ['Authorization', 'Content-Type']),
      allowRequest: (req, callback) => callback(origins.allows(req) ? null : 'origin not allowed', origins.allows(req)),
    };
  }

  /** Local sockets per tenant (for tests and metrics). */
  localSocketCount(tenantId?: string): number {
    if (tenantId) return this.streams.get(tenantId)?.size ?? 0;
    let n = 0;
    for (const stream of this.streams.values()) n += stream.size;
    return n;
  }

  /**
   * Graceful shutdown: refuse new sockets, deliver what is queued, tell every socket to reconnect
   * (elsewhere) with its last seq, then close the engine. The HTTP server is the caller's.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.accepting = false;
      clearInterval(this.sweepTimer);
      for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
      await withTimeout(Promise.allSettled([...this.streams.values()].map((s) => s.flush())), FLUSH_TIMEOUT_MS);
      for (const stream of this.streams.values()) stream.close();
      const namespace = this.io.of('/');
      for (const socket of namespace.sockets.values()) {
        socket.emit('server_shutdown', { reconnect: true });
        // Closing the transport (not socket.disconnect()) makes clients reconnect on their own;
        // engine.io writes the queued packets first.
        socket.conn.close();
      }
      await waitUntil(() => namespace.sockets.size === 0, DISCONNECT_WAIT_MS);
      await Promise.resolve(namespace.adapter.close()).catch(() => {});
      this.io.engine.close();
      this.streams.clear();
      this.opts.caps?.close();
    })();
    return this.closing;
  }

  private async authenticate(socket: LiveSocket): Promise<void> {
    if (!this.accepting) throw connectError('server_shutting_down');
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    const token = typeof auth.token === 'string' ? auth.token : bearerToken(socket.handshake.headers.authorization);
    let principal: LivePrincipal | null;
    try {
      principal = await this.opts.authenticate(token);
    } catch (err) {
      this.logger.warn('socket authentication failed', { err: String(err) });
      throw connectError('unavailable');
    }
    if (!principal) throw connectError('unauthorized');
    const parsed = handshakeAuth.safeParse(auth);
    if (!parsed.success) {
      throw connectError('invalid_handshake', { title: 'Invalid handshake', errors: zodIssues(parsed.error, ['auth']) });
    }
    const since = parsed.data.since ?? undefined;
    // Counted last, so a handshake refused for another reason holds no place.
    const admission = await this.opts.caps?.admit(principal.tenantId, principal.actor.userId);
    if (admission && !admission.ok) {
      throw connectError('too_many_sockets', {
        title: 'Too many sockets',
        errors: [{ path: '(root)', message: `at most ${admission.limit} live sockets per ${admission.scope}` }],
        scope: admission.scope,
        limit: admission.limit,
      });
    }
    if (admission && socket.conn.readyState !== 'open') {
      // Closed while it was counted: no 'connection', and so no 'disconnect', follows. Otherwise
      // the place is given back by the disconnect handler (onConnection), which every socket has.
      this.opts.caps!.release(principal.tenantId, principal.actor.userId);
      throw connectError('unavailable');
    }
    socket.data = {
      tenantId: principal.tenantId,
      actor: { type: principal.actor.type, id: principal.actor.id },
      userId: principal.actor.userId,
      admin: principal.admin,
      tokenVersion: principal.tokenVersion,
      expiresAt: principal.expiresAt,
      ...(since !== undefined ? { since } : {}),
    };
  }

  private onConnection(socket: LiveSocket): void {
    const { tenantId, actor, userId, admin, tokenVersion, expiresAt, since } = socket.data;
    void socket.join(`tenant:${tenantId}`);
    const stream = this.streamFor(tenantId);
    const member = stream.add(socket, { actorType: actor.type, actorId: actor.id, userId, admin, tokenVersion });
    this.sessions.expireAt(member, expiresAt);
    const who = { socket_id: socket.id, tenant_id: tenantId, actor };
    this.logger.info('socket connected', { ...who, transport: socket.conn.transport.name, url: redactUrl(socket.handshake.url) });
    socket.on('subscribe', (payload: unknown, ack?: (result: Ack) => void) => this.subscribe(stream, member, payload, ack));
    socket.on('unsubscribe', (payload: unknown, ack?: (result: Ack) => void) => this.unsubscribe(stream, member, payload, ack));
    socket.on('refresh_token', (payload: unknown, ack?: (result: RefreshAck) => void) => {
      void this.sessions.refresh(member, payload, replier<RefreshAck>(ack));
    });
    socket.on('disconnect', (reason) => {
      this.logger.info('socket disconnected', { ...who, reason });
      this.opts.caps?.release(tenantId, userId);
      this.sessions.end(member);
      stream.remove(member);
      if (stream.size === 0 && this.streams.get(tenantId) === stream) {
        this.streams.delete(tenantId);
        stream.close();
      }
    });
    void this.admit(stream, member, since);
  }

  private async admit(stream: TenantStream, member: StreamMember, since: number | undefined): Promise<void> {
    const { socket } = member;
    try {
      await Promise.all([stream.admit(member, since), this.recheckToken(member)]);
    } catch (err) {
      if (member.state === 'closed') return;
      // The log could not be read (database down): drop the transport so the client retries
      // with its since, rather than leave it connected and silently behind.
      this.logger.warn('live socket could not be brought up to date', { tenant_id: stream.tenantId, err: String(err) });
      socket.conn.close();
    }
  }

  /**
   * A revocation heard between the handshake's token check and the socket joining its stream
   * would otherwise be missed; checking once more after joining closes that window. The check may
   * be answered from the principal cache: an entry is dropped when this node hears a change of its
   * user or key (and never kept if one was heard while it was read), so a revocation heard before
   * the join makes this a database read, and one heard after it reaches the stream itself. A role
   * changed in that window (the socket joined the wrong visibility room) ends it with role_changed.
   */
  private async recheckToken(member: StreamMember): Promise<void> {
    const auth = (member.socket.handshake.auth ?? {}) as Record<string, unknown>;
    const token = typeof auth.token === 'string' ? auth.token : bearerToken(member.socket.handshake.headers.authorization);
    try {
      const principal = await this.opts.authenticate(token);
      if (!principal) this.revoke(member, 'token_revoked');
      else if (principal.admin !== member.principal.admin) this.revoke(member, 'role_changed');
    } catch {
      // A database hiccup: the stream still watches for revocations.
    }
  }

  private revoke(member: StreamMember, reason: RevokedReason): void {
    if (member.state === 'closed') return;
    member.state = 'closed';
    this.logger.info('socket revoked', { socket_id: member.socket.id, tenant_id: member.socket.data.tenantId, reason });
    member.socket.emit('revoked', { reason });
    member.socket.disconnect(true);
  }

  private streamFor(tenantId: string): TenantStream {
    let stream = this.streams.get(tenantId);
    if (!stream) {
      stream = new TenantStream(tenantId, {
        io: this.io,
        source: this.opts.changeLog,
        visibility: this.opts.visibility,
        logger: this.logger,
        onRevoked: (member, reason) => this.revoke(member, reason),
        sliceSize: this.opts.sliceSize,
        maxBufferedBytes: this.opts.maxBufferedBytes,
        metrics: this.metrics,
        onSlow: (member, unsent) => {
          this.logger.warn('live socket dropped: slow consumer', {
            tenant_id: tenantId,
            socket_id: member.socket.id,
            unsent_bytes: unsent,
            code: 'slow_consumer',
          });
          dropConnection(member.socket);
        },
      });
      this.streams.set(tenantId, stream);
    }
    return stream;
  }

  private subscribe(stream: TenantStream, member: StreamMember, payload: unknown, ack: unknown): void {
    const reply = replier(ack);
    const parsed = subscribeInput.safeParse(payload);
    if (!parsed.success) return reply(invalidPayload(parsed.error));
    const filter = normalizeFilter(parsed.data);
    if (member.filters.some((f) => sameFilter(f, filter))) return reply({ ok: true });
    if (member.filters.length >= MAX_SUBSCRIPTIONS) {
      return reply({
        ok: false,
        error: { title: 'Too many subscriptions', errors: [{ path: '(root)', message: `at most ${MAX_SUBSCRIPTIONS} subscriptions per socket` }] },
      });
    }
    stream.setFilters(member, [...member.filters, filter]);
    reply({ ok: true });
  }

  private unsubscribe(stream: TenantStream, member: StreamMember, payload: unknown, ack: unknown): void {
    const reply = replier(ack);
    const parsed = unsubscribeInput.safeParse(payload ?? {});
    if (!parsed.success) return reply(invalidPayload(parsed.error));
    const filter = normalizeFilter(parsed.data);
    const empty = !filter.entity_types && !filter.entity_ids && !filter.types;
    stream.setFilters(member, empty ? [] : member.filters.filter((f) => !sameFilter(f, filter)));
    reply({ ok: true });
  }

  private onBusEvents(events: ChangeEvent[]): void {
    // A batch is one transaction's events, so one tenant; grouping keeps odd publishers safe.
    let batch: ChangeEvent[] = [];
    for (const event of events) {
      if (batch.length > 0 && batch[0].tenant_id !== event.tenant_id) {
        this.streams.get(batch[0].tenant_id)?.ingest(batch);
        batch = [];
      }
      batch.push(event);
    }
    if (batch.length > 0) this.streams.get(batch[0].tenant_id)?.ingest(batch);
  }

  /**
   * The safety net: compares what this node delivered with the log's latest seq for every tenant
   * with local sockets (one query), and reads what is missing after a grace period.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.streams.size === 0 || !this.accepting) return;
    this.sweeping = true;
    try {
      const latest = await this.opts.changeLog.latestSeqs([...this.streams.keys()]);
      this.metrics.changeLogSwept(false);
      for (const [tenantId, seq] of latest) this.streams.get(tenantId)?.catchUpSoon(seq, this.catchUpGraceMs);
    } catch (err) {
      this.metrics.changeLogSwept(true);
      this.logger.warn('change log sweep failed', { err: String(err) });
    } finally {
      this.sweeping = false;
    }
  }
}

function replier<R = Ack>(ack: unknown): (result: R) => void {
  return typeof ack === 'function' ? (result) => (ack as (r: R) => void)(result) : () => {};
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function waitUntil(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}
