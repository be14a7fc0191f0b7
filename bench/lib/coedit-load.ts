// The co-editing load: N stock y-websocket providers on one document in this process, each
// making small text edits at a fixed total rate (open loop, round-robin over the editors): insert
// a short word at a random place in `description`, and delete as much at another once the text is
// long enough, so the document stays the size of a real description. An edit is identified by its
// sender's Yjs client id and clock, which every receiver's transaction reports (the clock range it
// advanced by): the latency is the time from the sender's edit to the end of each other editor's
// transaction applying it (where observers run), on one clock, since all editors live in this
// process. (Reading the inserted text from the observer's delta instead costs a walk over every
// item of the text per event, which saturated the load generator first.)
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { percentile } from './measure.js';

export interface BenchEditor {
  index: number;
  doc: Y.Doc;
  text: Y.Text;
  provider: WebsocketProvider;
  destroy(): void;
}

export interface EditorSetOptions {
  /** ws://…/collab for an app node, ws://… for the relay. */
  wsBase: string;
  /** y-websocket room, e.g. services/<id>. */
  room: string;
  token?: string;
  count: number;
  timeoutMs: number;
  /** Content the editors hold before connecting (the relay starts empty). */
  initialUpdate?: Uint8Array;
}

const WORDS = ['ship', 'api', 'auth', 'tls', 'retry', 'queue', 'cache', 'sla'];

export function createEditor(index: number, wsBase: string, room: string, token: string | undefined, initial?: Uint8Array): BenchEditor {
  const doc = new Y.Doc();
  if (initial) Y.applyUpdate(doc, initial);
  const provider = new WebsocketProvider(wsBase, room, doc, {
    params: token ? { token } : {},
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  return {
    index,
    doc,
    text: doc.getText('description'),
    provider,
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** Resolves once the provider synced; rejects on a refusal (44xx) or after `timeoutMs`. */
export function whenSynced(editor: BenchEditor, timeoutMs: number): Promise<void> {
  if (editor.provider.synced) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`editor ${editor.index} did not sync within ${timeoutMs} ms`)), timeoutMs);
    editor.provider.on('sync', (synced: boolean) => {
      if (!synced) return;
      clearTimeout(timer);
      resolve();
    });
    editor.provider.on('connection-close', (event: CloseEvent | null) => {
      if (!event || event.code < 4400 || event.code >= 4500) return;
      clearTimeout(timer);
      reject(new Error(`editor ${editor.index} was refused: ${event.code} ${event.reason}`));
    });
  });
}

export interface StepOptions {
  /** Offered edits per second, over all editors of the document. */
  rate: number;
  warmupMs: number;
  windowMs: number;
  /** How long to wait after the last edit for the deliveries still on their way. */
  drainMs: number;
}

export interface StepResult {
  editors: number;
  rate: number;
  /** Edits made in the measured window, and per second. */
  edits: number;
  achievedRate: number;
  /** Sender's edit → another editor's observer, ms, sorted; undelivered ones are not in it. */
  latencies: number[];
  p50: number;
  p99: number;
  max: number;
  /** Remote updates applied by the editors during the window, per second (all editors). */
  appliedPerSec: number;
  /** Deliveries of window edits that never arrived within the drain time. */
  missing: number;
  expected: number;
  /** Event-loop utilisation of this (the load generator's) process during the window. */
  loadGeneratorElu: number;
  /** CPU this process used during the window, in cores (1 = one core busy all the time). */
  loadGeneratorCores: number;
  windowMs: number;
}

interface Sent {
  /** The sender's clock before the edit: the first clock of what it inserted. */
  clocks: number[];
  times: number[];
  /** Made in the window: its deliveries are recorded. */
  measured: boolean[];
}

interface Current {
  /** Per sender client id, its edits in clock order. */
  sent: Map<number, Sent>;
  measuredCount: number;
  latencies: number[];
  delivered: number;
  windowStart: number;
  windowEnd: number;
  arrivalsInWindow: number;
}

/** N editors on one document, with the observers that time every remote edit. */
export class EditorSet {
  private nextId = 0;
  private current: Current | null = null;
  private turn = 0;

  private constructor(
    readonly editors: BenchEditor[],
    private readonly maxLength: number,
  ) {
    for (const e of editors) {
      e.doc.on('afterTransaction', (tr: Y.Transaction) => {
        if (tr.local) return;
        const cur = this.current;
        if (!cur) return;
        const now = performance.now();
        for (const [client, after] of tr.afterState) {
          const sent = cur.sent.get(client);
          if (!sent) continue;
          const before = tr.beforeState.get(client) ?? 0;
          if (after <= before) continue;
          // Every edit of this sender whose first clock is in [before, after) arrived now.
          for (let k = lowerBound(sent.clocks, before); k < sent.clocks.length && sent.clocks[k]! < after; k++) {
            if (now >= cur.windowStart && now <= cur.windowEnd) cur.arrivalsInWindow++;
            if (sent.measured[k]) {
              cur.latencies.push(now - sent.times[k]!);
              cur.delivered++;
            }
          }
        }
      });
    }
  }

  static async open(o: EditorSetOptions, maxLength = 2_000): Promise<EditorSet> {
    // y-websocket adds a process 'exit' listener per provider in Node.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 100 + o.count * 2));
    const editors: BenchEditor[] = [];
    try {
      // A few at a time, as people would arrive; all must sync.
      for (let i = 0; i < o.count; i += 10) {
        const batch = Array.from({ length: Math.min(10, o.count - i) }, (_, k) => createEditor(i + k, o.wsBase, o.room, o.token, o.initialUpdate));
        editors.push(...batch);
        await Promise.all(batch.map((e) => whenSynced(e, o.timeoutMs)));
      }
    } catch (err) {
      for (const e of editors) e.destroy();
      throw err;
    }
    return new EditorSet(editors, maxLength);
  }

  get size(): number {
    return this.editors.length;
  }

  /** One small edit by the next editor in turn: insert a word, and delete as much once the text is long. */
  private edit(cur: Current, id: number, measured: boolean): void {
    const e = this.editors[this.turn++ % this.editors.length]!;
    const word = `${WORDS[id % WORDS.length]} `;
    const text = e.text;
    let sent = cur.sent.get(e.doc.clientID);
    if (!sent) cur.sent.set(e.doc.clientID, (sent = { clocks: [], times: [], measured: [] }));
    sent.clocks.push(Y.getState(e.doc.store, e.doc.clientID));
    sent.times.push(performance.now());
    sent.measured.push(measured);
    if (measured) cur.measuredCount++;
    e.doc.transact(() => {
      const length = text.length;
      if (length > this.maxLength) text.delete(Math.floor(Math.random() * (length - word.length)), word.length);
      text.insert(Math.floor(Math.random() * (text.length + 1)), word);
    });
  }

  async step(o: StepOptions): Promise<StepResult> {
    const peers = this.editors.length - 1;
    const start = performance.now();
    const cur: Current = {
      sent: new Map(),
      measuredCount: 0,
      latencies: [],
      delivered: 0,
      windowStart: start + o.warmupMs,
      windowEnd: start + o.warmupMs + o.windowMs,
      arrivalsInWindow: 0,
    };
    this.current = cur;
    const total = Math.round((o.rate * (o.warmupMs + o.windowMs)) / 1000);
    let issued = 0;
    let eluStart: ReturnType<typeof performance.eventLoopUtilization> | undefined;
    let elu = 0;
    let cpuStart: NodeJS.CpuUsage | undefined;
    let cpuWindow = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        if (!eluStart && now >= cur.windowStart) {
          eluStart = performance.eventLoopUtilization();
          cpuStart = process.cpuUsage();
        }
        const due = Math.min(total, Math.floor(((now - start) * o.rate) / 1000) + 1);
        while (issued < due) {
          const t = performance.now();
          this.edit(cur, this.nextId++, t >= cur.windowStart && t <= cur.windowEnd);
          issued++;
        }
        if (issued >= total && now >= cur.windowEnd) {
          elu = eluStart ? performance.eventLoopUtilization(eluStart).utilization : 1;
          const cpu = process.cpuUsage(cpuStart);
          cpuWindow = cpu.user + cpu.system;
          resolve();
        } else setTimeout(tick, 1);
      };
      tick();
    });
    const expected = cur.measuredCount * peers;
    const drainUntil = performance.now() + o.drainMs;
    while (cur.delivered < expected && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
    this.current = null;
    const latencies = cur.latencies.sort((a, b) => a - b);
    const missing = expected - cur.delivered;
    // An edit that never arrived counts as slower than any that did.
    const withMissing = missing > 0 ? [...latencies, ...Array<number>(missing).fill(Infinity)] : latencies;
    return {
      editors: this.editors.length,
      rate: o.rate,
      edits: cur.measuredCount,
      achievedRate: cur.measuredCount / (o.windowMs / 1000),
      latencies,
      p50: percentile(withMissing, 50),
      p99: percentile(withMissing, 99),
      max: withMissing[withMissing.length - 1] ?? NaN,
      appliedPerSec: cur.arrivalsInWindow / (o.windowMs / 1000),
      missing,
      expected,
      loadGeneratorElu: elu,
      loadGeneratorCores: cpuWindow / 1000 / o.windowMs,
      windowMs: o.windowMs,
    };
  }

  /** Waits until every editor holds the same text (after a step's drain). */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const first = this.editors[0]!.text.toString();
      if (this.editors.every((e) => e.text.toString() === first)) return true;
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    for (const e of this.editors) e.destroy();
  }
}

function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- CPU time of the servers (Linux /proc) ------------------------------------------------------

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user+system, with reaped children's) in ms of `pid`, and of all its descendants too when `tree` (PostgreSQL's backends). */
export function cpuMs(pid: number, tree = false): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  const read = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(p, { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  };
  if (!tree) read(pid);
  else for (const entry of readdirSync('/proc')) if (/^\d+$/.test(entry)) read(Number(entry));
  let ticks = 0;
  for (const [p, info] of procs) {
    for (let cur: number | undefined = p; cur && cur > 1; cur = procs.get(cur)?.ppid) {
      if (cur === pid) {
        ticks += info.ticks;
        break;
      }
    }
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
