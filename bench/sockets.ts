// Idle sockets at scale on ONE node (the fan-out suite spreads 1,000 over two): 10,000
// authenticated socket.io-client sockets (500 in quick mode) connect to one app node, beside one
// plain Socket.IO server (bench/lib/fanout-raw-server.ts) taking the same count from the same
// client code. Per side: handshakes per second with the same number in flight, then one event
// delivered to every socket (all connected, admitted and live, none dropped), then the node's V8
// heap + external memory after GC, before and after, per socket. With redis-server on PATH both
// sides run on Redis (app in cluster mode, the raw server with @socket.io/redis-adapter); without
// it both run alone. The client sockets live in the bench process: the suite checks the open-file
// limit first and reports the bench process's CPU while connecting, in case it, not the server,
// bounds the handshake rate. Flags: --sockets=<count>, --sockets-inflight=<handshakes in flight>.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { processTreeTicks } from './lib/cpu-share.js';
import { SocketFleet, type WindowStats } from './lib/fanout-clients.js';
import { startRawNode } from './lib/fanout-raw.js';
import { HttpClient } from './lib/http-client.js';
import type { NodeMemory } from './lib/node-process.js';
import { signUpTenant } from './lib/signup.js';
import type { Log, Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'sockets';
const FULL = { sockets: 10_000, inFlight: 50 };
const QUICK = { sockets: 500, inFlight: 50 };
/** File descriptors the bench process needs besides the client sockets (pools, pipes, Redis, …). */
const FD_MARGIN = 500;

/** A server the fleet connects to: where, which process, and its memory. */
interface Target {
  url: string;
  pid: number;
  memory(opts: { gc: boolean }): Promise<NodeMemory>;
}

interface Measured {
  /** Handshakes per second (connect of every socket, `inFlight` at a time). */
  rate: number;
  wallMs: number;
  /** Cores used while connecting: the bench process (the clients) and the server's process. */
  benchCores: number;
  serverCores: number;
  /** Per socket, bytes, after GC: V8 heap used + external, and RSS. */
  heapPerSocket: number;
  rssPerSocket: number;
  /** Open file descriptors the server process gained. */
  fds: number;
  sync: WindowStats;
}

async function run({ quick, log, infra, flags }: SuiteOptions): Promise<Row[]> {
  const plan = { ...(quick ? QUICK : FULL) };
  if (flags.sockets) plan.sockets = Number(flags.sockets);
  if (flags['sockets-inflight']) plan.inFlight = Number(flags['sockets-inflight']);
  const limit = openFileLimit();
  log(
    `open-file limit of the bench process: ${limit ?? 'unknown'} (children inherit it); ${plan.sockets.toLocaleString('en-US')} sockets, ${plan.inFlight} handshakes in flight`,
  );
  if (limit !== undefined && limit < plan.sockets + FD_MARGIN) {
    throw new Error(`the open-file limit (${limit}) cannot hold ${plan.sockets} client sockets and ${FD_MARGIN} more; raise ulimit -n or pass --sockets=`);
  }

  const redisUrl = await infra.redis();
  const mode = redisUrl ? 'both on Redis' : 'no Redis on PATH: both without';
  const db = await infra.database(SUITE);
  const key = `bench-sockets-${randomUUID().slice(0, 8)}`;
  const rawStart = startRawNode({ name: 'sockets-raw', redisUrl, key: `${key}-raw` }, log);
  rawStart.catch(() => {}); // awaited below
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url, redisUrl, live: { redisPrefix: key } });
  const raw = await rawStart;
  infra.defer('close raw node sockets-raw', () => raw.close());
  log(`app node and raw server up (${mode})`);

  // --- The app node: sockets authenticated with a login token, in the tenant's stream. ---
  const tenant = await signUpTenant(node.url, 'sockets');
  const api = new HttpClient(node.url, tenant.token);
  infra.defer('close HTTP client', () => api.close());
  const latestSeq = async () => Number((await db.knex('tenant_event_counters').where({ tenant_id: tenant.tenantId }).first('last_seq'))?.last_seq ?? 0);
  await api.json('POST', '/api/v1/services', { name: 'sockets bench warm-up', type: 'api' }, 201);
  let made = 0;
  const app = await measureSide('app', node, plan, { token: tenant.token }, log, async (open) => {
    open(await latestSeq());
    await api.json('POST', '/api/v1/services', { name: `sockets bench ${made++}`, type: 'api' }, 201);
    return latestSeq();
  });
  await node.close(); // idle from here on: off the baseline's CPU

  // --- The raw Socket.IO server: the same sockets, no auth. ---
  let rawSeq = 0; // the fresh server's seqs start at 1
  const base = await measureSide('raw', raw, plan, undefined, log, async (open) => {
    open(rawSeq);
    rawSeq = (await raw.broadcast(1_000, 1, {})).last;
    return rawSeq;
  });
  await raw.close();

  const name = `raw Socket.IO${redisUrl ? ' + Redis adapter' : ''}, 1 server`;
  const at = `${plan.sockets.toLocaleString('en-US')} sockets on one node`;
  const cores = (m: Measured) => `client ${m.benchCores.toFixed(2)} cores, server ${m.serverCores.toFixed(2)}`;
  const clientBound = [app, base].some((m) => m.benchCores > 0.85)
    ? "; the bench process (the clients) was near a full core while connecting: the rate may be the client's limit"
    : '';
  return [
    {
      suite: SUITE,
      metric: `socket handshakes/s (${at}, ${plan.inFlight} in flight; auth, tenant stream)`,
      unit: 'sockets/s',
      value: app.rate,
      baseline: { name, value: base.rate },
      samples: plan.sockets,
      note: `ours ${cores(app)}; raw ${cores(base)}${clientBound}; ${mode}`,
    },
    {
      suite: SUITE,
      metric: `JS heap + external per idle socket (${at}, after GC)`,
      unit: 'KB/socket',
      value: app.heapPerSocket / 1024,
      baseline: { name, value: base.heapPerSocket / 1024 },
      samples: plan.sockets,
      note:
        `RSS per socket: ours ${(app.rssPerSocket / 1024).toFixed(1)} KB, raw ${(base.rssPerSocket / 1024).toFixed(1)} KB (pages, not comparable); ` +
        `server fds +${app.fds.toLocaleString('en-US')} / +${base.fds.toLocaleString('en-US')}`,
    },
  ];
}

/**
 * Connects the fleet to one server, then has one event go to every socket (`emit` opens the
 * fleet's window at the seq before it and returns the seq after it): every socket must get it and
 * none may drop, or the figures would be of fewer sockets than claimed. Then memory after GC.
 */
async function measureSide(
  side: string,
  server: Target,
  plan: { sockets: number; inFlight: number },
  auth: Record<string, unknown> | undefined,
  log: Log,
  emit: (open: (from: number) => void) => Promise<number>,
): Promise<Measured> {
  const fleet = new SocketFleet({ lean: true });
  try {
    const before = await server.memory({ gc: true });
    const fdsBefore = openFds(server.pid);
    const [ticks0, cpu0] = [processTreeTicks(server.pid), process.cpuUsage()];
    const connect = await fleet.connect([server.url], plan.sockets, { auth, concurrency: plan.inFlight, timeoutMs: 30_000 });
    const bench = process.cpuUsage(cpu0);
    const serverTicks = processTreeTicks(server.pid) - ticks0;
    const seconds = connect.wallMs / 1000;

    const sync = await fleet.closeWindow(await emit((from) => fleet.openWindow(from)), 15_000);
    if (sync.missing || sync.disconnects || sync.sockets !== plan.sockets) {
      throw new Error(`${side}: ${sync.missing} of ${sync.expected} sockets did not get the event, ${sync.disconnects} disconnected (${sync.sockets} open)`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = await server.memory({ gc: true });
    const fds = openFds(server.pid) - fdsBefore;
    const per = (f: (m: NodeMemory) => number) => (f(after) - f(before)) / plan.sockets;
    const m: Measured = {
      rate: connect.rate,
      wallMs: connect.wallMs,
      benchCores: (bench.user + bench.system) / 1e6 / seconds,
      serverCores: serverTicks / 100 / seconds,
      heapPerSocket: per((x) => x.heapUsed + x.external),
      rssPerSocket: per((x) => x.rss),
      fds,
      sync,
    };
    const mine = process.memoryUsage();
    log(
      `${side}: ${plan.sockets} sockets connected in ${connect.wallMs.toFixed(0)} ms (${connect.rate.toFixed(0)}/s; client ${m.benchCores.toFixed(2)} cores, ` +
        `server ${m.serverCores.toFixed(2)}); every socket got the event (p99 ${sync.p99} ms); per idle socket ${(m.heapPerSocket / 1024).toFixed(1)} KB heap + external ` +
        `(heap ${(per((x) => x.heapUsed) / 1024).toFixed(1)}, external ${(per((x) => x.external) / 1024).toFixed(1)}), ${(m.rssPerSocket / 1024).toFixed(1)} KB RSS; ` +
        `server fds +${fds}; bench process heap ${(mine.heapUsed / 2 ** 20).toFixed(0)} MB, RSS ${(mine.rss / 2 ** 20).toFixed(0)} MB`,
    );
    return m;
  } finally {
    await fleet.close();
  }
}

/** The soft RLIMIT_NOFILE of this process (Linux /proc), or undefined. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

const suite: Suite = {
  name: SUITE,
  description:
    'Idle sockets at scale on one node: 10,000 authenticated sockets (500 quick) on one app node vs one raw Socket.IO server: handshakes/s, heap + external per socket',
  run,
};
export default suite;
