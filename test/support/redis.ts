// One real Redis per test run: REDIS_URL when set, else a throwaway redis-server from PATH on a free
// port. Suites that need it call requireRedis(this): skipped loudly when none can be had, failed
// instead when REQUIRE_REDIS=1 (CI). Fault tests can stop and restart a server we started.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findFreePort, isProcessAlive } from '../../src/platform/embedded-postgres.js';

export interface TestRedis {
  url: string;
  port: number;
  /** False for REDIS_URL: such a server is not ours to stop, and stop()/restart() throw. */
  managed: boolean;
  /** Kills the server (SIGKILL by default: a crash). The port stays reserved for restart(). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port (stopping it first if running). */
  restart(): Promise<void>;
}

export const SKIP_WARNING = '*** REDIS SUITES SKIPPED: no redis-server on PATH and no REDIS_URL ***';
const TEMP_PREFIX = 'appinventory-test-redis-';

let shared: Promise<TestRedis | null> | undefined;
let managedState: { dir: string; child?: ChildProcess } | undefined;
let skippedSuites = 0;

/** The run's Redis, started once; null when there is none to be had. */
export function getRedis(): Promise<TestRedis | null> {
  shared ??= (async () => {
    const external = process.env.REDIS_URL?.trim();
    if (external) {
      const notOurs = async () => {
        throw new Error('REDIS_URL points at a Redis this run did not start; it cannot be stopped or restarted');
      };
      return { url: external, port: Number(new URL(external).port || 6379), managed: false, stop: notOurs, restart: notOurs };
    }
    const binary = findOnPath('redis-server');
    if (!binary) return null;
    await sweepStaleTestServers();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
    writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
    managedState = { dir };
    const port = await findFreePort();
    const state = managedState;
    const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
      const child = state.child;
      state.child = undefined;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      }
    };
    const start = async () => {
      state.child = await launch(binary, port, dir);
    };
    await start();
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      managed: true,
      stop,
      restart: async () => {
        await stop();
        await start();
      },
    };
  })();
  return shared;
}

/**
 * Call at the top of a describe() callback: `requireRedis(this)`. Skips the suite (with a loud
 * warning) when no Redis can be had, or fails it when REQUIRE_REDIS=1.
 */
export function requireRedis(suite: Mocha.Suite): void {
  suite.beforeAll('requires Redis', async function () {
    this.timeout(30_000);
    if (await getRedis()) return;
    if (process.env.REQUIRE_REDIS === '1') {
      throw new Error('REQUIRE_REDIS=1 but there is no redis-server on PATH and no REDIS_URL');
    }
    skippedSuites++;
    process.stderr.write(`\n${SKIP_WARNING}\n  skipping: ${suite.fullTitle()}\n\n`);
    this.skip();
  });
}

/** Repeats the warning at the end of the run (so it is not lost in the output), then stops Redis. */
export async function stopTestRedis(): Promise<void> {
  if (skippedSuites > 0) process.stderr.write(`\n${SKIP_WARNING} (${skippedSuites} suite(s))\n\n`);
  const redis = await shared?.catch(() => null);
  shared = undefined;
  if (redis?.managed) await redis.stop('SIGTERM');
  if (managedState) await fs.rm(managedState.dir, { recursive: true, force: true });
  managedState = undefined;
}

// Last resort when the process exits without the after-hook (a crash, an interrupted run).
process.on('exit', () => {
  managedState?.child?.kill('SIGKILL');
});

async function launch(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--pidfile', path.join(dir, 'redis.pid'), '--logfile', '');
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const deadline = Date.now() + 10_000;
  // The old server's port may still be in TIME_WAIT or its process just gone: retry until PONG.
  while (!(await ping(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** The first executable `command` on PATH (also used for promtool by test/metrics.test.ts). */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

// Servers from a killed run: their pid file names them; stop them and remove their dirs.
async function sweepStaleTestServers(): Promise<void> {
  const tmp = os.tmpdir();
  for (const entry of await fs.readdir(tmp)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(tmp, entry);
    const ownerFile = path.join(dir, 'owner.pid');
    if (!existsSync(ownerFile)) {
      const { mtimeMs } = await fs.stat(dir).catch(() => ({ mtimeMs: 0 }));
      if (Date.now() - mtimeMs < 60_000) continue;
    } else if (isProcessAlive(Number(readFileSync(ownerFile, 'utf8')))) {
      continue;
    }
    try {
      const pid = Number(readFileSync(path.join(dir, 'redis.pid'), 'utf8'));
      if (isProcessAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) {
        process.kill(pid, 'SIGKILL');
      }
    } catch {
      // no pid file or no procfs: nothing we can safely stop
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
