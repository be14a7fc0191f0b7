// A real Chromium for the console's tests: Debian's /usr/bin/chromium (or CHROMIUM_PATH), driven by
// playwright-core (no browser download). Suites call requireBrowser(this): skipped loudly when
// there is no Chromium, failed instead when REQUIRE_BROWSER=1 (CI). One browser per suite.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP_WARNING = `!!! No Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH): the console's browser tests are SKIPPED !!!`;

export function requireBrowser(suite: Mocha.Suite): void {
  suite.beforeAll('requires Chromium', function () {
    if (existsSync(CHROMIUM_PATH)) return;
    if (process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}`);
    process.stderr.write(`\n${SKIP_WARNING}\n  skipping: ${suite.fullTitle()}\n\n`);
    this.skip();
  });
}

export function launchBrowser(): Promise<Browser> {
  // As root Chromium's sandbox cannot start; a test machine's browser only visits loopback.
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: CHROMIUM_PATH, args });
}

/** A page that records what the browser complains about: script errors and CSP violations fail the test that asks. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: string[];
}

export async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 800 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(url);
  return { page, context, problems };
}

export async function signIn(page: Page, who: { tenant: string; email: string; password: string }): Promise<void> {
  await page.getByLabel('Tenant').fill(who.tenant);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
