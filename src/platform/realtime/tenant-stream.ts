// One tenant's live-event stream on this node: delivers the tenant's change log, gapless and in seq
// order, to the node's own sockets. Bus messages are a fast path only; whenever one is missing
// (a gap, a lost Redis message, a writer killed before publishing) the stream reads the missing
// range from the change log. Every step runs on one promise chain, so order holds.
import { publicEnvelope, type ChangeEnvelope, type ChangeEvent } from '../bus.js';
import type { Logger } from '../logger.js';
import { NO_METRICS, type MetricsSink } from '../metrics-sink.js';
import { unsentBytes } from './backpressure.js';
import { wants, type LiveServer, type LiveSocket, type RevokedReason, type SubscriptionFilter } from './events.js';

export interface ChangeLogSource {
  /** Events with seq > since, oldest first, at most `limit`. */
  since(tenantId: string, since: number, limit: number): Promise<ChangeEvent[]>;
  /** The tenant's latest committed seq (0 when it has none). */
  latest(tenantId: string): Promise<number>;
}

/** The visibility rule, injected by the app (its access module): what a reader sees, which events revoke. */
export interface VisibilityRule {
  /** Whether non-admins see a reduced form of the event (so rooms get it encoded twice). */
  needsRedaction(event: ChangeEnvelope): boolean;
  /** The event as an admin or another member may see it. */
  visibleTo<E extends ChangeEnvelope>(isAdmin: boolean, event: E): E;
  /** An event that ends a principal's access (an API key revoked, a user deactivated), or null. */
  revocationOf(event: ChangeEnvelope): Revocation | null;
}

/**
 * Whose sockets an event disconnects: a user's (with `sessions`, only their login-token sockets,
 * and with `versionBelow` only those of an older token version), an API key's, or the whole
 * tenant's (`everyone`).
 */
export interface Revocation {
  userId?: string;
  sessions?: { versionBelow?: number };
  apiKeyId?: string;
  everyone?: boolean;
  reason: RevokedReason;
}

export interface Principal {
  actorType: string;
  actorId: string | null;
  userId: string | null;
  admin: boolean;
  /** A login token's session version; null (or absent) for API keys. */
  tokenVersion?: number | null;
}

/** Whether a revocation ends this member's access. */
export function revokes(revoked: Revocation, p: Principal): boolean {
  if (revoked.everyone) return true;
  if (revoked.userId) {
    if (p.userId !== revoked.userId) return false;
    if (!revoked.sessions) return true;
    const { versionBelow } = revoked.sessions;
    // Only login tokens carry a version: an API key is not a session.
    return typeof p.tokenVersion === 'number' && (versionBelow === undefined || p.tokenVersion < versionBelow);
  }
  return p.actorType === 'api_key' && p.actorId === revoked.apiKeyId;
}

/** A local socket of the stream. `joining` sockets are replaying from the log, `live` ones follow the stream. */
export class StreamMember {
  state: 'joining' | 'live' | 'closed' = 'joining';
  /** While joining: the last seq replayed to it. Live members are always at the stream's lastDelivered. */
  lastSent = 0;
  filters: SubscriptionFilter[] = [];
  /** The delivery slice whose room this member is in while live and unfiltered; -1 otherwise. */
  slice = -1;
  /** Events the replay from `since` sent (told in `caught_up`). */
  replayed = 0;
  constructor(
    readonly socket: LiveSocket,
    readonly principal: Principal,
  ) {}
}

export interface StreamDeps {
  io: LiveServer;
  source: ChangeLogSource;
  visibility: VisibilityRule;
  logger: Logger;
  /** Called (once per member) when a delivered event revokes the member's token. */
  onRevoked(member: StreamMember, reason: RevokedReason): void;
  /**
   * Unsent bytes a socket may hold after an emit before it is a slow consumer; then onSlow (once
   * per member) drops it. Without it nothing is checked.
   */
  maxBufferedBytes?: number;
  onSlow?(member: StreamMember, unsent: number): void;
  pageSize?: number;
  /** Live sockets per delivery slice (see TenantStream.deliver). */
  sliceSize?: number;
  /** Where deliveries, replays and catch-ups are counted: once per event or page, never per socket. */
  metrics?: MetricsSink;
}

const DEFAULT_PAGE = 500;
const DEFAULT_SLICE = 100;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class TenantStream {
  /** Highest seq this node has delivered to the tenant's live sockets. */
  lastDelivered = 0;
  /**
   * Live members without filters share local rooms per visibility (`room`, `memberRoom`), split
   * into slices of at most sliceSize members (`<room>:<slice>`): an event is encoded once per
   * slice and class, and the event loop serves other work between slices.
   */
  readonly room: string;
  readonly memberRoom: string;
  private initialized = false;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly members = new Set<StreamMember>();
  private readonly filteredLive = new Set<StreamMember>();
  private catchUpTimer: NodeJS.Timeout | undefined;
  private catchUpTarget = 0;
  private readonly pageSize: number;
  private readonly sliceSize: number;
  private readonly metrics: MetricsSink;
  /** Members per slice; a slice's index is its room suffix. */
  private readonly slices: number[] = [];
  /** Set while an event's slices are being delivered: no member changes rooms meanwhile. */
  private delivering: Promise<void> | undefined;

  constructor(
    readonly tenantId: string,
    private readonly deps: StreamDeps,
  ) {
    this.room = `live:${tenantId}`;
    this.memberRoom = `live:${tenantId}:members`;
    this.pageSize = deps.pageSize ?? DEFAULT_PAGE;
    this.sliceSize = deps.sliceSize ?? DEFAULT_SLICE;
    this.metrics = deps.metrics ?? NO_METRICS;
  }

  get size(): number {
    return this.members.size;
  }

  add(socket: LiveSocket, principal: Principal): StreamMember {
    const member = new StreamMember(socket, principal);
    this.members.add(member);
    return member;
  }

  remove(member: StreamMember): void {
    member.state = 'closed';
    this.members.delete(member);
    this.filteredLive.delete(member);
    this.releaseSlice(member);
  }

  /** Stops timers; queued steps still run but reach no socket. */
  close(): void {
    this.closed = true;
    clearTimeout(this.catchUpTimer);
  }

  /** Resolves once every step queued so far has run. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Events from the bus (one committed transaction's batch), in seq order. */
  ingest(events: ChangeEvent[]): void {
    if (this.closed) return;
    void this.enqueue(async () => {
      if (!this.initialized || this.closed) return; // admit() initialises from the log, which covers these
      for (const event of events) {
        if (event.seq <= this.lastDelivered) continue; // already delivered (catch-up got there first)
        if (event.seq !== this.lastDelivered + 1) {
          // A message was missed or overtaken: the log has everything committed before this one.
          await this.pull();
          continue;
        }
        await this.deliver(event);
      }
    }).catch(() => {}); // logged by enqueue; the sweep retries from the log
  }

  /** The log is known to hold `target`: read up to it after a grace period (a bus message may be in flight). */
  catchUpSoon(target: number, graceMs: number): void {
    if (this.closed || target <= this.lastDelivered) return;
    this.catchUpTarget = Math.max(this.catchUpTarget, target);
    if (this.catchUpTimer) return;
    this.catchUpTimer = setTimeout(() => {
      this.catchUpTimer = undefined;
      const wanted = this.catchUpTarget;
      void this.enqueue(async () => {
        if (this.initialized && !this.closed && this.lastDelivered < wanted) await this.pull();
      }).catch(() => {});
    }, graceMs);
    this.catchUpTimer.unref();
  }

  /**
   * Brings a new member to the stream: replay from the log after `since` (or start at the stream's
   * position), then switch it to live at the exact seq the stream has delivered, so there is no
   * gap and no duplicate at the seam. Throws when the log cannot be read.
   */
  async admit(member: StreamMember, since: number | undefined): Promise<void> {
    await this.ensureInitialized();
    let start = this.lastDelivered;
    if (since !== undefined) {
      const latest = await this.deps.source.latest(this.tenantId);
      // Nothing is pruned yet, so every seq in [0, latest] is replayable; anything else is a
      // client from another database (reset, restored) and must refetch.
      if (since < 0 || since > latest) {
        // Told before any event, so the client knows to refetch and continue from latest_seq.
        const reason = since < 0 ? 'before_retained_log' : 'ahead_of_log';
        member.socket.emit('resync_required', { since, latest_seq: latest, reason });
        start = latest;
      } else {
        start = since;
      }
      if (start > this.lastDelivered) {
        await this.enqueue(async () => {
          if (this.lastDelivered < start) await this.pull();
        });
      }
    }
    member.lastSent = start;
    while (member.state === 'joining') {
      if (this.delivering) {
        // An event is half delivered: joining a slice now could repeat it or miss it.
        await this.delivering;
        continue;
      }
      // Synchronous check-and-switch: nothing can be delivered between the two.
      if (member.lastSent >= this.lastDelivered) {
        this.goLive(member);
        break;
      }
      const target = this.lastDelivered;
      // Reads stop at the stream's position (seqs are gapless), so the member never gets ahead of it.
      const page = await this.deps.source.since(this.tenantId, member.lastSent, Math.min(this.pageSize, target - member.lastSent));
      if (member.state !== 'joining') break;
      if (page.length === 0) throw new Error(`change log of tenant ${this.tenantId} has no events after seq ${member.lastSent}`);
      let sent = 0;
      for (const event of page) {
        if (event.seq <= member.lastSent) continue;
        member.lastSent = event.seq;
        if (!wants(member.filters, event)) continue;
        member.socket.emit('change', this.deps.visibility.visibleTo(member.principal.admin, publicEnvelope(event)));
        sent += 1;
        member.replayed += 1;
        if (this.isSlow(member)) break; // closed now, which ends the replay
      }
      this.metrics.eventsReplayed(sent);
    }
  }

  setFilters(member: StreamMember, filters: SubscriptionFilter[]): void {
    member.filters = filters;
    if (member.state === 'live') this.placeBetweenEvents(member);
  }

  /** Rooms change between events only, so the event being delivered reaches the member once. */
  private placeBetweenEvents(member: StreamMember): void {
    if (member.state !== 'live') return;
    if (this.delivering) void this.delivering.then(() => this.placeBetweenEvents(member));
    else this.placeLive(member);
  }

  private goLive(member: StreamMember): void {
    member.state = 'live';
    // Before the member can receive a live event: everything up to here was replayed.
    member.socket.emit('caught_up', { seq: this.lastDelivered, replayed: member.replayed });
    this.placeLive(member);
  }

  private placeLive(member: StreamMember): void {
    if (member.filters.length === 0) {
      this.filteredLive.delete(member);
      if (member.slice < 0) {
        member.slice = this.takeSlice();
        void member.socket.join(this.sliceRoom(member));
      }
    } else {
      if (member.slice >= 0) void member.socket.leave(this.sliceRoom(member));
      this.releaseSlice(member);
      this.filteredLive.add(member);
    }
  }

  private sliceRoom(member: StreamMember): string {
    return `${member.principal.admin ? this.room : this.memberRoom}:${member.slice}`;
  }

  /** The first slice with room to spare (a new one when all are full). */
  private takeSlice(): number {
    let index = this.slices.findIndex((n) => n < this.sliceSize);
    if (index < 0) index = this.slices.push(0) - 1;
    this.slices[index] += 1;
    return index;
  }

  private releaseSlice(member: StreamMember): void {
    if (member.slice < 0) return;
    this.slices[member.slice] -= 1;
    member.slice = -1;
    while (this.slices.length > 0 && this.slices[this.slices.length - 1] === 0) this.slices.pop();
  }

  private ensureInitialized(): Promise<void> {
    if (this.initialized) return Promise.resolve();
    return this.enqueue(async () => {
      if (this.initialized) return;
      this.lastDelivered = await this.deps.source.latest(this.tenantId);
      this.initialized = true;
    });
  }

  /** Reads everything after lastDelivered from the log and delivers it. */
  private async pull(): Promise<void> {
    let delivered = 0;
    for (;;) {
      const page = await this.deps.source.since(this.tenantId, this.lastDelivered, this.pageSize);
      for (const event of page) {
        if (event.seq <= this.lastDelivered) continue;
        if (event.seq !== this.lastDelivered + 1) {
          // Cannot happen with a gapless log; never stall the tenant on it.
          this.deps.logger.error('change log gap', { tenant_id: this.tenantId, after: this.lastDelivered, next: event.seq });
        }
        await this.deliver(event);
        delivered += 1;
      }
      if (page.length < this.pageSize) break;
    }
    this.metrics.caughtUp(delivered);
  }

  /**
   * One event to every live member, a slice at a time: the event loop serves other I/O between
   * slices (a writer's next statement, a bus message), so fanning out to thousands of sockets
   * never holds the node, or a transaction waiting on it, for the whole walk. Steps run one at a
   * time on the chain, and members change rooms only between events (`delivering`), so each live
   * member gets each event once, in seq order.
   */
  private deliver(event: ChangeEvent): Promise<void> {
    this.lastDelivered = event.seq;
    if (this.closed) return Promise.resolve();
    // Sockets get the public envelope: the origin stays inside the nodes.
    const envelope = publicEnvelope(event);
    const { visibility } = this.deps;
    const revoked = visibility.revocationOf(envelope);
    if (revoked) {
      for (const member of [...this.members]) {
        if (revokes(revoked, member.principal)) this.deps.onRevoked(member, revoked.reason);
      }
    }
    // One emit per visibility class and slice, so the event is encoded once per slice and class,
    // not once per socket. Filtered sockets that want it are reached by their own id (every
    // Socket.IO socket is in a room named by its id), with the first slice.
    const redact = visibility.needsRedaction(envelope);
    const full: string[] = [];
    const reduced: string[] = [];
    for (const member of this.filteredLive) {
      if (wants(member.filters, envelope)) (member.principal.admin || !redact ? full : reduced).push(member.socket.id);
    }
    let sockets = full.length + reduced.length;
    for (const members of this.slices) sockets += members;
    this.metrics.eventDelivered(sockets, (Date.now() - Date.parse(event.at)) / 1000);
    const emitSlice = (index: number): void => {
      const fullRooms = [`${this.room}:${index}`, ...(index === 0 ? full : [])];
      const reducedRooms = [`${this.memberRoom}:${index}`, ...(index === 0 ? reduced : [])];
      if (redact) {
        this.deps.io.local.to(fullRooms).emit('change', envelope);
        this.deps.io.local.to(reducedRooms).emit('change', visibility.visibleTo(false, envelope));
      } else {
        this.deps.io.local.to([...fullRooms, ...reducedRooms]).emit('change', envelope);
      }
    };
    emitSlice(0);
    const count = this.slices.length;
    if (count <= 1) {
      this.dropSlowConsumers();
      return Promise.resolve();
    }
    const done = (async () => {
      for (let index = 1; index < count; index += 1) {
        await nextTurn();
        if (this.closed) return;
        emitSlice(index);
      }
      this.dropSlowConsumers();
    })().finally(() => {
      this.delivering = undefined;
    });
    this.delivering = done;
    return done;
  }

  /** After an event went out: live members holding more unsent bytes than allowed are dropped. */
  private dropSlowConsumers(): void {
    if (this.deps.maxBufferedBytes === undefined) return;
    for (const member of [...this.members]) if (member.state === 'live') this.isSlow(member);
  }

  /** Whether the member holds more unsent bytes than allowed; such a member is handed to onSlow (and closed). */
  private isSlow(member: StreamMember): boolean {
    const max = this.deps.maxBufferedBytes;
    if (max === undefined || member.state === 'closed') return false;
    const unsent = unsentBytes(member.socket);
    if (unsent <= max) return false;
    this.deps.onSlow?.(member, unsent);
    member.state = 'closed';
    return true;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch((err: unknown) => {
      this.deps.logger.warn('live event stream step failed', { tenant_id: this.tenantId, err: String(err) });
    });
    return run;
  }
}
