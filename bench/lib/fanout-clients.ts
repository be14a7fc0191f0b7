// The fan-out suite's receiving side: many socket.io-client sockets (websocket transport only) that
// check every `change` they get — seqs consecutive per socket, nothing missing, no duplicate — and
// record commit-to-socket latency (receive time − the envelope's `at`) for the events of a window.
// The same fleet measures the app nodes and the raw Socket.IO baseline, so both pay the same
// client-side cost; by default both decode `change` frames with fanout-lean-parser.ts.
import { io, type Socket } from 'socket.io-client';
import { LeanEnvelope, leanParser } from './fanout-lean-parser.js';

/** What the fleet reads from an envelope. */
export interface Envelope {
  seq: number;
  /** ISO time set by the writer as it appends to the change log (the raw baseline: right before io.emit). */
  at: string;
}

/** Latencies in whole ms (both clocks have ms resolution), bucketed; the last bucket is "≥ MAX". */
const MAX_LATENCY_MS = 60_000;

export interface WindowStats {
  /** Events in the window (seqs from+1..to). */
  events: number;
  sockets: number;
  /** sockets × events */
  expected: number;
  /** Distinct (socket, seq) deliveries in the window. */
  delivered: number;
  missing: number;
  /** Arrivals that were not the socket's last seq + 1 (a gap or reordering), during the window. */
  outOfOrder: number;
  duplicates: number;
  disconnects: number;
  p50: number;
  p99: number;
  max: number;
  /**
   * The same deliveries timed from the event's `origin` (when set: the moment the bench saw the
   * event on the Redis bus), so the latency splits into `at` → bus and bus → socket.
   */
  fromOrigin?: { p50: number; p99: number; samples: number };
  /** p50/p99 of the sockets of each node (index of the URL they were opened on). */
  perNode: { p50: number; p99: number; samples: number }[];
  /** ms from the window's end (last write acknowledged) until every socket had every event. */
  drainMs: number;
  drained: boolean;
}

interface Member {
  socket: Socket;
  /** Highest seq received; -1 before the first. */
  last: number;
  node: number;
}

interface Window {
  from: number;
  to: number;
  histogram: Uint32Array;
  delivered: number;
  perNode: { histogram: Uint32Array; samples: number }[];
  originHistogram?: Uint32Array;
  originSamples: number;
}

export interface ConnectResult {
  /** Wall time to connect all of them (with `concurrency` handshakes in flight). */
  wallMs: number;
  /** Connected sockets per second of wall time. */
  rate: number;
}

export class SocketFleet {
  private readonly members: Member[] = [];
  private window: Window | undefined;
  private outOfOrder = 0;
  private duplicates = 0;
  private disconnects = 0;
  // One event reaches every socket: parse its `at` once (a ring of recent seqs).
  private readonly ringSeq = new Float64Array(8192).fill(-1);
  private readonly ringAt = new Float64Array(8192);
  /** The first envelope received (the raw baseline reuses it as its payload). */
  sample: unknown;
  /** A second time origin per seq (ms), e.g. when the event was seen on the Redis bus. */
  origin: ((seq: number) => number | undefined) | undefined;

  get size(): number {
    return this.members.length;
  }

  /**
   * Opens `count` sockets round-robin over `urls`, `concurrency` handshakes at a time; throws on
   * the first connect_error (e.g. `unauthorized`).
   */
  constructor(private readonly opts: { lean?: boolean } = {}) {}

  async connect(
    urls: string[],
    count: number,
    opts: { auth?: Record<string, unknown>; concurrency?: number; timeoutMs?: number } = {},
  ): Promise<ConnectResult> {
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const k = next++;
        await this.open(urls[k % urls.length]!, k % urls.length, opts.auth, opts.timeoutMs ?? 15_000);
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, opts.concurrency ?? 50) }, worker));
    const wallMs = performance.now() - started;
    return { wallMs, rate: count / (wallMs / 1000) };
  }

  private open(url: string, node: number, auth: Record<string, unknown> | undefined, timeoutMs: number): Promise<void> {
    const socket = io(url, {
      forceNew: true,
      transports: ['websocket'],
      reconnection: false,
      timeout: timeoutMs,
      ...(auth ? { auth } : {}),
      ...(this.opts.lean !== false ? { parser: leanParser } : {}),
    });
    const member: Member = { socket, last: -1, node };
    this.members.push(member);
    socket.on('change', (e: Envelope) => this.receive(member, e));
    return new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error');
        socket.on('disconnect', () => this.disconnects++);
        resolve();
      });
      socket.once('connect_error', (err) => reject(new Error(`socket to ${url} did not connect: ${err.message}`)));
    });
  }

  private receive(m: Member, e: Envelope): void {
    const now = Date.now();
    const seq = e.seq;
    const fresh = seq > m.last;
    if (m.last >= 0 && seq !== m.last + 1) {
      if (fresh) this.outOfOrder++;
      else this.duplicates++;
    }
    if (!fresh) return;
    m.last = seq;
    this.sample ??= e instanceof LeanEnvelope ? (JSON.parse(e.frame.slice(e.frame.indexOf(',') + 1, -1)) as unknown) : e;
    const w = this.window;
    if (!w || seq <= w.from || seq > w.to) return;
    const slot = seq & 8191;
    let at: number;
    if (this.ringSeq[slot] === seq) at = this.ringAt[slot]!;
    else {
      at = Date.parse(e.at);
      this.ringSeq[slot] = seq;
      this.ringAt[slot] = at;
    }
    const ms = bucket(now - at);
    w.histogram[ms]!++;
    w.delivered++;
    const own = (w.perNode[m.node] ??= { histogram: new Uint32Array(MAX_LATENCY_MS + 1), samples: 0 });
    own.histogram[ms]!++;
    own.samples++;
    if (w.originHistogram) {
      const origin = this.origin!(seq);
      if (origin !== undefined) {
        w.originHistogram[bucket(now - origin)]!++;
        w.originSamples++;
      }
    }
  }

  /** Waits until every socket has received `seq`; false on timeout. */
  async reached(seq: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.members.every((m) => m.last >= seq)) return true;
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** How many sockets have not received `seq` yet. */
  behind(seq: number): number {
    return this.members.filter((m) => m.last < seq).length;
  }

  /** Opens a window: events after `from` are checked and timed until closeWindow. */
  openWindow(from: number): void {
    this.outOfOrder = 0;
    this.duplicates = 0;
    this.disconnects = 0;
    this.window = {
      from,
      to: Number.MAX_SAFE_INTEGER,
      histogram: new Uint32Array(MAX_LATENCY_MS + 1),
      delivered: 0,
      perNode: [],
      originHistogram: this.origin ? new Uint32Array(MAX_LATENCY_MS + 1) : undefined,
      originSamples: 0,
    };
  }

  /**
   * The window ends at `to` (the last committed seq): waits up to `drainTimeoutMs` for every
   * socket to get it, then returns the window's figures.
   */
  async closeWindow(to: number, drainTimeoutMs: number): Promise<WindowStats> {
    const w = this.window;
    if (!w) throw new Error('no window is open');
    w.to = to;
    const started = performance.now();
    const drained = await this.reached(to, drainTimeoutMs);
    const drainMs = performance.now() - started;
    this.window = undefined;
    const events = Math.max(0, to - w.from);
    const expected = events * this.members.length;
    return {
      events,
      sockets: this.members.length,
      expected,
      delivered: w.delivered,
      missing: expected - w.delivered,
      outOfOrder: this.outOfOrder,
      duplicates: this.duplicates,
      disconnects: this.disconnects,
      p50: histogramPercentile(w.histogram, w.delivered, 50),
      p99: histogramPercentile(w.histogram, w.delivered, 99),
      max: histogramPercentile(w.histogram, w.delivered, 100),
      perNode: Array.from(w.perNode, (n) => ({
        p50: histogramPercentile(n?.histogram ?? new Uint32Array(1), n?.samples ?? 0, 50),
        p99: histogramPercentile(n?.histogram ?? new Uint32Array(1), n?.samples ?? 0, 99),
        samples: n?.samples ?? 0,
      })),
      ...(w.originHistogram
        ? {
            fromOrigin: {
              p50: histogramPercentile(w.originHistogram, w.originSamples, 50),
              p99: histogramPercentile(w.originHistogram, w.originSamples, 99),
              samples: w.originSamples,
            },
          }
        : {}),
      drainMs,
      drained,
    };
  }

  /** Disconnects every socket (client side) and forgets them. */
  async close(): Promise<void> {
    for (const m of this.members.splice(0)) {
      m.socket.off();
      m.socket.disconnect();
    }
    // Let the close frames go out before the servers are asked for their memory or stopped.
    await new Promise((r) => setTimeout(r, 200));
  }
}

const bucket = (ms: number) => Math.min(MAX_LATENCY_MS, Math.max(0, ms));

/** Nearest-rank percentile over a histogram of whole ms. */
function histogramPercentile(h: Uint32Array, n: number, p: number): number {
  if (n === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let ms = 0; ms < h.length; ms++) {
    seen += h[ms]!;
    if (seen >= rank) return ms;
  }
  return MAX_LATENCY_MS;
}
