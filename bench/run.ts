// `npm run bench [-- --quick] [--only=rest,fanout] [--profile[=<suite>|rest:<case>[+<case>]]] [--list]`: runs the
// benchmark suites (every bench/<name>.ts exporting a Suite as default), prints ONE table at the
// end and writes it to bench/results/latest.json. Infrastructure is started on demand and always
// stopped: at the end, on a suite's error, on Ctrl-C/SIGTERM and when the watchdog fires.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CpuShare } from './lib/cpu-share.js';
import { BenchInfra, RESULTS_DIR } from './lib/infra.js';
import { renderTable, withRatios } from './lib/table.js';
import type { Row, Suite } from './lib/types.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
/** Suites run in this order; any other bench/<name>.ts runs after them, alphabetically. */
const PREFERRED_ORDER = ['rest', 'fanout', 'coedit'];
/**
 * A safety net only: suites bound themselves far below this. Quick mode took 105-150 s on the shared
 * 2-core machine before the auth and sockets suites, the cursor pages and the fan-out's R/2 steps
 * added about 40 s, and the console suite (a node, Chromium, 2 × 6 page loads) 20-30 s; 270 s leaves
 * room for a busy machine. Full mode was ~15 min and gained ~4, then ~2.5 for the console.
 */
const WATCHDOG_MS = { quick: 270_000, full: 30 * 60_000 };

interface Args {
  quick: boolean;
  only?: string[];
  list: boolean;
  flags: Record<string, string>;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, list: false, flags: {} };
  for (const arg of argv) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument ${arg} (flags look like --quick, --only=rest)`);
    const [, key, value] = m as unknown as [string, string, string | undefined];
    if (key === 'quick') args.quick = true;
    else if (key === 'list') args.list = true;
    else if (key === 'only')
      args.only = (value ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else args.flags[key] = value ?? 'true';
  }
  return args;
}

async function discoverSuites(): Promise<string[]> {
  const names = (await fs.readdir(BENCH_DIR)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
  const rank = (n: string) => (PREFERRED_ORDER.includes(n) ? PREFERRED_ORDER.indexOf(n) : PREFERRED_ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

async function loadSuite(name: string): Promise<Suite> {
  const mod = (await import(pathToFileURL(path.join(BENCH_DIR, `${name}.ts`)).href)) as { default?: Suite };
  const suite = mod.default;
  if (!suite || typeof suite.run !== 'function' || suite.name !== name) {
    throw new Error(`bench/${name}.ts must export default a Suite named '${name}'`);
  }
  return suite;
}

function machine(infra: BenchInfra, loadAtStart: number[], cpu: ReturnType<CpuShare['measure']>) {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    postgres: infra.postgresVersion,
    redis: infra.redisVersion,
    /** 1-minute load average at the start and at the end: other work on the machine skews results. */
    loadAverage: { start: loadAtStart[0], end: os.loadavg()[0] },
    /** Shares of the machine's CPU capacity during the run: ours (bench, nodes, databases) and other processes'. */
    cpuShare: cpu,
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const available = await discoverSuites();
  if (args.list) {
    for (const name of available) console.log(`${name}: ${(await loadSuite(name)).description}`);
    return 0;
  }
  const unknown = (args.only ?? []).filter((n) => !available.includes(n));
  if (unknown.length) throw new Error(`unknown suite(s) ${unknown.join(', ')}; available: ${available.join(', ')}`);
  const selected = args.only ? available.filter((n) => args.only!.includes(n)) : available;

  const started = Date.now();
  const loadAtStart = os.loadavg();
  const cpu = new CpuShare();
  const log = (message: string) => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[bench ${t}s] ${message}\n`);
  };
  const mode = args.quick ? 'quick' : 'full';
  log(
    `mode ${mode}; suites ${selected.join(', ')}; ${os.cpus().length} CPUs, node ${process.version}, ` +
      `load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const infra = new BenchInfra(log);
  const rows: Row[] = [];
  const errors: { suite: string; error: string }[] = [];
  let finished = false;

  const finish = async (reason?: string): Promise<number> => {
    if (finished) return 1;
    finished = true;
    if (reason) errors.push({ suite: '(runner)', error: reason });
    log('stopping infrastructure');
    await infra.close();
    const cpuShare = cpu.measure();
    const table = withRatios(rows);
    const result = {
      mode,
      startedAt: new Date(started).toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      machine: machine(infra, loadAtStart, cpuShare),
      suites: selected,
      rows: table,
      errors,
    };
    await fs.mkdir(RESULTS_DIR, { recursive: true });
    await fs.writeFile(path.join(RESULTS_DIR, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(
      `\nAppInventory Live benchmarks — ${mode} mode, ${result.durationSeconds} s, ` +
        `${result.machine.cpus} CPUs, node ${process.version}, PostgreSQL ${infra.postgresVersion ?? '-'}\n`,
    );
    const share = result.machine.cpuShare;
    if (share) {
      console.log(
        `CPU during the run: ours ${(share.ours * 100).toFixed(0)}% of the machine, other processes ${(share.others * 100).toFixed(0)}%` +
          (share.others > 0.1 ? ' — WARNING: the machine was shared, these numbers are pessimistic.' : '.') +
          '\n',
      );
    }
    console.log(renderTable(table));
    for (const e of errors) console.log(`\nFAILED ${e.suite}: ${e.error}`);
    console.log(`\n(written to ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'latest.json'))})`);
    return errors.length ? 1 : 0;
  };

  const interrupted = new Promise<number>((resolve) => {
    // Ctrl-C reaches us twice (from the terminal and relayed by the tsx CLI): handle every signal,
    // or the second one would kill us in the middle of stopping PostgreSQL.
    let signalled = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (signalled) return log(`${signal}: already stopping`);
        signalled = true;
        log(`${signal}: stopping`);
        void finish(`interrupted by ${signal}`).then(() => resolve(130));
      });
    }
    const watchdog = setTimeout(() => {
      log('watchdog: the run took too long; stopping');
      void finish(`watchdog fired after ${WATCHDOG_MS[mode] / 1000} s`).then(() => resolve(1));
    }, WATCHDOG_MS[mode]);
    watchdog.unref();
  });

  const work = (async () => {
    for (const name of selected) {
      const suiteStarted = Date.now();
      log(`suite ${name}: start`);
      try {
        const suite = await loadSuite(name);
        const suiteRows = await suite.run({
          quick: args.quick,
          infra,
          flags: args.flags,
          log: (m) => log(`${name}: ${m}`),
        });
        rows.push(...suiteRows.map((r) => ({ ...r, suite: r.suite || name })));
        log(`suite ${name}: done in ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
      } catch (err) {
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`suite ${name} failed: ${message}`);
        errors.push({ suite: name, error: err instanceof Error ? err.message : String(err) });
      }
      if (finished) break;
    }
    return finish();
  })();

  return Promise.race([work, interrupted]);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
