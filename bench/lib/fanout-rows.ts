// The fan-out suite's rows for the results table: latency per step beside the raw Socket.IO
// broadcast at the same rate, the highest sustained rate beside the baseline's and Redis PUBLISH,
// the delivery path alone and its CPU cost, and memory per idle socket.
import { halfRate, maxSustained, P99_BOUND_MS, RATE_SHARE, stepAt, type Side, type Step } from './fanout-ladder.js';
import type { PublishResult } from './fanout-publish.js';
import type { Row } from './types.js';

const SUITE = 'fanout';
export const RAW = 'raw Socket.IO + Redis adapter';

export function fanoutRows(sockets: number, app: Side, raw: Side, publish: PublishResult, envelopeBytes: number, statements: number): Row[] {
  const out: Row[] = [];
  const rawAt = (rate: number) => stepAt(raw, rate);
  const at = `${sockets.toLocaleString('en-US')} sockets, 2 nodes`;
  for (const s of app.steps) {
    const base = rawAt(s.rate);
    for (const p of ['p50', 'p99'] as const) {
      out.push({
        suite: SUITE,
        metric: `commit-to-socket ${p} @ ${s.rate} writes/s (${at})`,
        unit: 'ms',
        value: s.stats[p],
        ...(base ? { baseline: { name: `${RAW}, emit-to-socket`, value: base.stats[p] } } : {}),
        samples: s.stats.delivered,
        note: [splitNote(s, p), p === 'p99' ? stepNote(s, base) : undefined].filter(Boolean).join('; ') || undefined,
      });
    }
  }
  const ours = maxSustained(app.steps);
  const theirs = maxSustained(raw.steps);
  const limit = (side: Side) => {
    const last = side.steps.at(-1);
    if (!last) return 'no step ran';
    if (!last.pass) return `${last.rate}/s failed: ${last.stop}`;
    if (last.stop) return `stopped at ${last.rate}/s: ${last.stop}`;
    if (last.short) return `highest step asked: ${last.short}`;
    return `highest step asked (${last.rate}/s) passed`;
  };
  const sustainedNote = `every socket got every event in order, p99 < ${P99_BOUND_MS} ms; app: ${limit(app)}; raw: ${limit(raw)}`;
  out.push({
    suite: SUITE,
    metric: `max sustained events/s (${at})`,
    unit: 'events/s',
    value: ours?.achieved ?? 0,
    baseline: { name: RAW, value: theirs?.achieved ?? 0 },
    note: sustainedNote,
  });
  out.push(...halfRateRows(app, raw, at));
  out.push({
    suite: SUITE,
    metric: `max sustained deliveries/s (events × sockets)`,
    unit: 'msgs/s',
    value: (ours?.achieved ?? 0) * sockets,
    baseline: { name: RAW, value: (theirs?.achieved ?? 0) * sockets },
  });
  out.push({
    suite: SUITE,
    metric: `max sustained events/s vs Redis PUBLISH of a ${envelopeBytes} B envelope`,
    unit: 'events/s',
    value: ours?.achieved ?? 0,
    baseline: { name: publish.name, value: publish.rate },
  });
  // The delivery path alone, at the highest rate both sides passed and reached: the app from the
  // moment the event was on the Redis bus (after COMMIT), the baseline from io.emit — both then
  // cross Redis to node B and are written to the sockets of both nodes.
  const atRate = (s: Step | undefined) => !!s && s.pass && s.achieved >= RATE_SHARE * s.rate;
  const common = app.steps.filter((s) => atRate(s) && atRate(rawAt(s.rate))).at(-1);
  if (common) {
    const base = rawAt(common.rate)!;
    const origin = common.stats.fromOrigin;
    if (origin) {
      for (const p of ['p50', 'p99'] as const) {
        out.push({
          suite: SUITE,
          metric: `delivery only: Redis bus-to-socket ${p} @ ${common.rate} writes/s`,
          unit: 'ms',
          value: origin[p],
          baseline: { name: `${RAW}, emit-to-socket`, value: base.stats[p] },
          samples: origin.samples,
        });
      }
    }
    // CPU above idle (timers, pings, the sweep) per unit of work. Node B only takes events from
    // Redis and writes them to its sockets, on both sides; node A also takes the writes.
    const busy = (side: Side, s: Step, node: string) => Math.max(0, (s.cpu[node] ?? NaN) - (side.idle[node] ?? 0));
    const perDelivery = (side: Side, s: Step) => (busy(side, s, 'node-b') / (s.achieved * (s.stats.sockets / 2))) * 1e6;
    out.push({
      suite: SUITE,
      metric: `node B CPU per delivery @ ${common.rate} writes/s (above idle)`,
      unit: 'µs',
      value: perDelivery(app, common),
      baseline: { name: RAW, value: perDelivery(raw, base) },
      note: `bench client ${common.cpu.bench?.toFixed(2)} cores (raw ${base.cpu.bench?.toFixed(2)})`,
    });
    out.push({
      suite: SUITE,
      metric: `node A CPU per write @ ${common.rate} writes/s (PATCH over HTTP + its fan-out, above idle)`,
      unit: 'ms',
      value: (busy(app, common, 'node-a') / common.achieved) * 1e3,
      baseline: { name: `${RAW}: CPU per io.emit on A (its fan-out only)`, value: (busy(raw, base, 'node-a') / base.achieved) * 1e3 },
      note: `node A ${common.cpu['node-a']?.toFixed(2)} cores (idle ${app.idle['node-a']?.toFixed(2)}), PostgreSQL ${common.cpu.postgres?.toFixed(2)} cores`,
    });
  }
  out.push(
    { suite: SUITE, metric: 'SQL statements per write (PATCH /services/:id, one event)', unit: 'stmts', value: statements, samples: 10 },
    {
      suite: SUITE,
      metric: 'sockets connected/s (handshake, auth, tenant room)',
      unit: 'sockets/s',
      value: app.connect.rate,
      baseline: { name: RAW, value: raw.connect.rate },
      samples: sockets,
    },
    {
      suite: SUITE,
      metric: 'RSS per idle socket (node, after GC)',
      unit: 'KB/socket',
      value: app.rssPerSocket / 1024,
      baseline: { name: RAW, value: raw.rssPerSocket / 1024 },
      samples: sockets,
      note: 'RSS moves in pages: app nodes refill heap pages freed after start-up, the fresh baseline grows; heap + external is the comparable figure',
    },
    {
      suite: SUITE,
      metric: 'JS heap + external per idle socket (node, after GC)',
      unit: 'KB/socket',
      value: app.heapPerSocket / 1024,
      baseline: { name: RAW, value: raw.heapPerSocket / 1024 },
      samples: sockets,
    },
  );
  return out;
}

/**
 * The performance issue's latency figure: commit-to-socket p99 with both sides at 50% of the raw
 * baseline's max sustained rate R (the app's ladder includes that rate; raw runs it after its own
 * ladder), so neither is measured at its limit.
 */
function halfRateRows(app: Side, raw: Side, at: string): Row[] {
  const half = halfRate(raw.steps);
  if (half === undefined)
    return [{ suite: SUITE, metric: `commit-to-socket p99 @ 50% of raw's max sustained rate (${at})`, unit: 'ms', value: NaN, note: 'raw passed no step' }];
  const ours = stepAt(app, half);
  const base = stepAt(raw, half);
  const top = raw.steps.at(-1);
  const r = maxSustained(raw.steps)!;
  const bound = top && top.pass && !top.stop && r === top ? ' (its highest step passed: R is a lower bound)' : '';
  return [
    {
      suite: SUITE,
      metric: `commit-to-socket p99 @ 50% of raw's max sustained rate (${half} writes/s, ${at})`,
      unit: 'ms',
      value: ours?.stats.p99 ?? NaN,
      ...(base ? { baseline: { name: `${RAW}, emit-to-socket, same rate`, value: base.stats.p99 } } : {}),
      samples: ours?.stats.delivered,
      note: [
        `raw R = ${r.achieved.toFixed(1)} events/s${bound}`,
        ours ? splitNote(ours, 'p99') : 'the app ran no step at this rate',
        ours ? stepNote(ours, base) : undefined,
        ours && ours === app.half ? 'ours after its ladder, which stopped below this rate' : undefined,
      ]
        .filter(Boolean)
        .join('; '),
    },
  ];
}

/** Where the app's latency went: `at` → seen on the Redis bus, then bus → socket. */
function splitNote(s: Step, p: 'p50' | 'p99'): string | undefined {
  if (!s.atToBus || !s.stats.fromOrigin) return undefined;
  return `at→bus ${s.atToBus[p]} ms, bus→socket ${s.stats.fromOrigin[p]} ms`;
}

function stepNote(s: Step, base: Step | undefined): string {
  const side = (x: Step) => `${x.achieved.toFixed(0)} ev/s, ${x.pass ? 'all delivered' : `FAILED: ${x.stop}`}`;
  return `ours ${side(s)}${base ? `; raw ${side(base)}` : '; raw: not run at this rate'}`;
}
