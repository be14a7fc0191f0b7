// Console suite: what the browser console costs. The bundle: main.js and main.css as built by
// scripts/build-console.ts, raw and gzip (node:zlib), in the notes and the log (there is no honest
// baseline for a size, so they get no row of their own). Time to first board render: one app node
// (child process) with a tenant signed up through the API and a board built through REST (services,
// active incidents with timelines, a resolved one); a real Chromium (Debian's, via playwright-core,
// as the console's tests drive it) opens a fresh context per sample whose sessionStorage already
// holds the signed-in session (key `appinventory.session`, what console/src/session.ts reads at
// load), navigates to the node's `/` and the page itself records, on its own clock
// (performance.now(), 0 = navigation start), when the active-incident cards are in the DOM and the
// connection state says live. The baseline is the same navigation, with the same session script
// and the same observer, to a static page holding that markup, served by a loopback HTTP server in
// the bench process: the row is what the console costs beyond a bare navigation. Samples alternate
// between the two, after one warm-up each. Bounded by a sample count and a time cap. Skipped with
// a log line when there is no Chromium, failed instead when REQUIRE_BROWSER=1.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Browser } from 'playwright-core';
import { buildConsole } from '../scripts/build-console.js';
import { CHROMIUM_PATH, launchBrowser } from '../test/support/browser.js';
import { HttpClient } from './lib/http-client.js';
import { percentile } from './lib/measure.js';
import { BENCH_PASSWORD, signUpTenant } from './lib/signup.js';
import type { Log, Row, Suite, SuiteOptions } from './lib/types.js';

const SUITE = 'console';
/** Active incidents on the board (each with a timeline and affected services), plus one resolved. */
const ACTIVE_INCIDENTS = 3;
const SESSION_KEY = 'appinventory.session';
/** One sample's bound: the page must be ready well within this. */
const SAMPLE_TIMEOUT_MS = 20_000;

/** What the page records, in ms since its navigation started. */
interface Marks {
  cards?: number;
  live?: number;
  ready?: number;
  domContentLoaded?: number;
}

interface Sample {
  ready: number;
  cards: number;
  live: number;
  domContentLoaded: number;
  /** Method and path of every request the page made, in order. */
  requests: string[];
}

/**
 * Runs in every document before its own scripts (both pages): puts the session into sessionStorage
 * and watches the DOM for the board. The marks are taken in the MutationObserver's callback, i.e.
 * once the DOM holds the change, before the frame that paints it. Source text, not a function:
 * under tsx a function handed to the page carries esbuild's `__name` helper, which the page lacks.
 */
function watchBoardScript(arg: { key: string; session: string; cards: number }): string {
  return `(() => {
  const arg = ${JSON.stringify(arg)};
  sessionStorage.setItem(arg.key, arg.session);
  const marks = {};
  window.__benchMarks = marks;
  const observer = new MutationObserver(() => {
    const now = performance.now();
    if (marks.cards === undefined && document.querySelectorAll('ul[aria-label="Active incidents"] > li.incident').length >= arg.cards) marks.cards = now;
    if (marks.live === undefined && document.querySelector('.connection[data-state="live"]')) marks.live = now;
    if (marks.ready === undefined && marks.cards !== undefined && marks.live !== undefined) {
      marks.ready = now;
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-state'] });
  document.addEventListener('DOMContentLoaded', () => (marks.domContentLoaded = performance.now()));
})();`;
}

/** The baseline's page: the markup the condition looks for, and nothing else (no script, no style). */
function staticBoardPage(): string {
  const cards = Array.from({ length: ACTIVE_INCIDENTS }, (_, i) => `<li class="incident">Incident ${i}</li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>static board</title><link rel="icon" href="data:,"></head><body><p class="connection" data-state="live">Live</p><ul aria-label="Active incidents">${cards}</ul></body></html>`;
}

async function run({ quick, log, infra }: SuiteOptions): Promise<Row[]> {
  if (!existsSync(CHROMIUM_PATH)) {
    if (process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}`);
    log(`!!! SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH) !!!`);
    return [];
  }
  const budget = quick ? { samples: 5, timeCapMs: 12_000 } : { samples: 30, timeCapMs: 180_000 };

  // The node serves what the build wrote when it starts: build first (cached when current).
  const build = await buildConsole();
  const bundle = await bundleSizes(build.outDir);
  log(`bundle (${build.built ? 'built now' : 'cached build'}): ${bundle.text}`);

  const db = await infra.database(SUITE);
  const node = await infra.appNode({ name: SUITE, databaseUrl: db.url });
  const tenant = await signUpTenant(node.url, SUITE);
  const api = new HttpClient(node.url, tenant.token);
  infra.defer('close HTTP client', () => api.close());
  await seedBoard(api);
  const session = await consoleSession(api, tenant.slug, tenant.email);
  log(`tenant ${tenant.slug}: ${ACTIVE_INCIDENTS} active incidents and 1 resolved, created through REST`);

  const staticServer = await serveStatic(staticBoardPage());
  infra.defer('close the static page server', () => staticServer.close());

  const browser = await launchBrowser();
  infra.defer('close Chromium', () => browser.close());
  log(`Chromium ${browser.version()} (${CHROMIUM_PATH})`);

  const init = watchBoardScript({ key: SESSION_KEY, session: JSON.stringify(session), cards: ACTIVE_INCIDENTS });
  const sample = (url: string) => firstBoard(browser, url, init);
  const consoleUrl = `${node.url}/`;
  // Warm-up: the node's first requests (JIT, caches), Chromium's first context.
  await sample(staticServer.url);
  await sample(consoleUrl);

  const ours: Sample[] = [];
  const base: Sample[] = [];
  const deadline = performance.now() + budget.timeCapMs;
  while (ours.length < budget.samples && performance.now() < deadline) {
    base.push(await sample(staticServer.url));
    ours.push(await sample(consoleUrl));
  }
  const capped = ours.length < budget.samples;
  logSamples(log, 'console', ours);
  logSamples(log, 'static page', base);

  const metric = (p: number) => `first board render p${p} (navigation start → ${ACTIVE_INCIDENTS} active cards + live; fresh context, signed in)`;
  return ([50, 95] as const).map((p) => ({
    suite: SUITE,
    metric: metric(p),
    unit: 'ms',
    value: percentile(sorted(ours, 'ready'), p),
    baseline: { name: 'bare navigation to a static page', value: percentile(sorted(base, 'ready'), p) },
    samples: ours.length,
    note:
      [
        p === 50 ? `bundle ${bundle.text}` : `nearest rank of ${ours.length}`,
        p === 50 ? `${ours[0]?.requests.length ?? 0} requests per load` : undefined,
        capped ? `time cap: ${ours.length} samples` : undefined,
      ]
        .filter(Boolean)
        .join('; ') || undefined,
  }));
}

/** main.js and main.css, raw and gzip (what a compressing proxy would send; the node sends them raw). */
async function bundleSizes(dir: string): Promise<{ text: string }> {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
  const parts: string[] = [];
  for (const file of ['main.js', 'main.css']) {
    const bytes = await fs.readFile(path.join(dir, file));
    parts.push(`${file} ${kb(bytes.length)} (${kb(zlib.gzipSync(bytes).length)} gzip)`);
  }
  return { text: parts.join(', ') };
}

/** Services, ACTIVE_INCIDENTS active incidents (each with a second timeline entry) and one resolved. */
async function seedBoard(api: HttpClient): Promise<void> {
  const services: string[] = [];
  for (const name of ['payments-api', 'auth-api', 'search-api', 'checkout-web']) {
    services.push((await api.json('POST', '/api/v1/services', { name, type: 'api' }, 201)).data.id);
  }
  const severities = ['critical', 'major', 'minor'] as const;
  for (let i = 0; i < ACTIVE_INCIDENTS; i++) {
    const incident = await api.json(
      'POST',
      '/api/v1/incidents',
      {
        title: `Bench incident ${i}`,
        severity: severities[i % severities.length],
        impact_type: 'degraded',
        affected: [services[i % services.length], services[(i + 1) % services.length]].map((id) => ({ entity_type: 'services', entity_id: id })),
        message: `Error rate up on service ${i}.`,
      },
      201,
    );
    await api.json('POST', `/api/v1/incidents/${incident.data.id}/updates`, { status: 'identified', message: 'Cause found.' }, 201);
  }
  const resolved = await api.json('POST', '/api/v1/incidents', { title: 'Bench resolved incident', severity: 'minor', message: 'Slow logins.' }, 201);
  await api.json('POST', `/api/v1/incidents/${resolved.data.id}/updates`, { status: 'resolved', message: 'Back to normal.' }, 201);
}

/** The session the console keeps after a password sign-in (console/src/session.ts's Session). */
async function consoleSession(api: HttpClient, slug: string, email: string) {
  const login = (await api.json('POST', '/api/v1/auth/login', { tenant_slug: slug, email, password: BENCH_PASSWORD })).data;
  const me = (await api.withToken(login.access_token).json('GET', '/api/v1/me')).data;
  return {
    token: login.access_token as string,
    kind: 'login',
    expiresAt: Date.now() + Number(login.expires_in) * 1000,
    user: login.user,
    tenantId: me.tenant_id as string,
    writes: me.actor.writes as string[],
  };
}

/** One sample: a fresh context, the init script, a navigation, the page's own marks. */
async function firstBoard(browser: Browser, url: string, initScript: string): Promise<Sample> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await context.addInitScript({ content: initScript });
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('request', (req) => requests.push(`${req.method()} ${new URL(req.url()).pathname}`));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    await page.goto(url, { waitUntil: 'commit', timeout: SAMPLE_TIMEOUT_MS });
    await page.waitForFunction(() => (window as unknown as { __benchMarks?: Marks }).__benchMarks?.ready !== undefined, undefined, {
      timeout: SAMPLE_TIMEOUT_MS,
      polling: 50,
    });
    const marks = await page.evaluate(() => (window as unknown as { __benchMarks: Marks }).__benchMarks);
    if (problems.length) throw new Error(`${url}: the browser reported ${problems.join('; ')}`);
    return { ready: marks.ready!, cards: marks.cards!, live: marks.live!, domContentLoaded: marks.domContentLoaded ?? NaN, requests };
  } finally {
    await context.close();
  }
}

type Timing = 'ready' | 'cards' | 'live' | 'domContentLoaded';
const sorted = (samples: Sample[], key: Timing) => samples.map((s) => s[key]).sort((a, b) => a - b);

function logSamples(log: Log, label: string, samples: Sample[]): void {
  const p50 = (key: Timing) => percentile(sorted(samples, key), 50).toFixed(0);
  log(
    `${label}: ${samples.length} samples; p50 DOMContentLoaded ${p50('domContentLoaded')} ms, cards ${p50('cards')} ms, live ${p50('live')} ms, ` +
      `both ${p50('ready')} ms (p95 ${percentile(sorted(samples, 'ready'), 95).toFixed(0)} ms); the first one's requests: ${samples[0]?.requests.join(', ') ?? '-'}`,
  );
}

/** A loopback HTTP server in the bench process that answers every GET with `html`. */
async function serveStatic(html: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const suite: Suite = {
  name: SUITE,
  description: `Console: main.js/main.css raw and gzip (notes), and time to first board render in Chromium (p50/p95, fresh context per sample, signed in) beside a bare navigation to a static page`,
  run,
};
export default suite;
