// A listener on the app's Redis event channel (`<prefix>:events`) in the bench process: when each
// seq went by on the bus. That splits commit-to-socket latency in two: `at` → bus (the rest of the
// write transaction after `at` — waiting for the tenant's seq lock, the inserts, COMMIT — and the
// PUBLISH) and bus → socket (each node's parse, stream and emit, and the client). The bench sees
// a message about when the nodes do: same Redis, same machine.
import { Redis } from 'ioredis';

const MAX_MS = 60_000;
const RING = 1 << 16;

export class BusTap {
  private readonly ringSeq = new Float64Array(RING).fill(-1);
  private readonly ringAt = new Float64Array(RING);
  private window: { from: number; histogram: Uint32Array; samples: number } | undefined;

  private constructor(private readonly sub: Redis) {}

  static async start(url: string, channel: string): Promise<BusTap> {
    const sub = new Redis(url, { maxRetriesPerRequest: null });
    const tap = new BusTap(sub);
    sub.on('message', (ch: string, message: string) => {
      if (ch === channel) tap.onMessage(message);
    });
    await sub.subscribe(channel);
    return tap;
  }

  /** When `seq` was seen on the bus (ms since the epoch), if recently. */
  seenAt = (seq: number): number | undefined => (this.ringSeq[seq & (RING - 1)] === seq ? this.ringAt[seq & (RING - 1)] : undefined);

  openWindow(from: number): void {
    this.window = { from, histogram: new Uint32Array(MAX_MS + 1), samples: 0 };
  }

  /** `at` → bus percentiles of the window's events (one sample per event). */
  closeWindow(): { p50: number; p99: number; samples: number } {
    const w = this.window;
    this.window = undefined;
    if (!w) throw new Error('no window is open');
    return { p50: percentile(w.histogram, w.samples, 50), p99: percentile(w.histogram, w.samples, 99), samples: w.samples };
  }

  async close(): Promise<void> {
    this.sub.disconnect();
  }

  private onMessage(message: string): void {
    const now = Date.now();
    let events: { seq: number; at: string }[];
    try {
      events = JSON.parse(message) as { seq: number; at: string }[];
    } catch {
      return;
    }
    for (const e of events) {
      const slot = e.seq & (RING - 1);
      this.ringSeq[slot] = e.seq;
      this.ringAt[slot] = now;
      const w = this.window;
      if (w && e.seq > w.from) {
        w.histogram[Math.min(MAX_MS, Math.max(0, now - Date.parse(e.at)))]!++;
        w.samples++;
      }
    }
  }
}

function percentile(h: Uint32Array, n: number, p: number): number {
  if (n === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let ms = 0; ms < h.length; ms++) {
    seen += h[ms]!;
    if (seen >= rank) return ms;
  }
  return MAX_MS;
}
