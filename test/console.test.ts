// The console in a real Chromium against a real node on port 0 (through a loopback TCP proxy the
// tests can cut), signed in as the demo tenant's users: the status board following REST writes
// live, co-editing between two browsers, resuming after a network drop, roles, the keyboard, a
// phone viewport, and an axe-core scan of every view. UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { startServer, type AppHandle } from '../src/app.js';
import { DEMO, loadSampleData } from '../seeds/sample.js';
import { launchBrowser, openPage, requireBrowser, signIn, type WatchedPage } from './support/browser.js';
import { quietLogger } from './support/factories.js';
import { createTestDatabase, type TestDatabase } from './support/postgres.js';
import { ApiClient, testConfig } from './support/server.js';
import { followerCaughtUp } from './support/sql.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? path.resolve('docs/screenshots') : undefined;
const WAIT = { timeout: 10_000 };
const users = {
  admin: { tenant: DEMO.tenantSlug, email: DEMO.email, password: DEMO.password },
  editor: { tenant: DEMO.tenantSlug, email: 'editor@acme.example', password: DEMO.password },
  ic: { tenant: DEMO.tenantSlug, email: 'ic@acme.example', password: DEMO.password },
  viewer: { tenant: DEMO.tenantSlug, email: 'viewer@acme.example', password: DEMO.password },
};

describe('console (a real Chromium)', function () {
  this.timeout(60_000);
  requireBrowser(this);
  let db: TestDatabase;
  let app: AppHandle;
  let proxy: TcpProxy;
  let browser: Browser;
  let rest: ApiClient;
  const pages: WatchedPage[] = [];

  before(async function () {
    this.timeout(120_000);
    db = await createTestDatabase();
    // The browser reaches the node through the proxy, so the proxy's origin is the page's.
    const target = { host: '127.0.0.1', port: 0 };
    proxy = await startTcpProxy(target);
    app = await startServer({
      config: testConfig({ http: { ...testConfig().http, corsOrigins: [proxy.url] } }),
      knex: db.knex,
      logger: quietLogger,
      collab: { projectionDelayMs: 100, projectionMaxDelayMs: 400 },
    });
    target.port = app.port;
    await loadSampleData(app.domain);
    const login = await new ApiClient(app.url).post('/api/v1/auth/login', { tenant_slug: DEMO.tenantSlug, email: DEMO.email, password: DEMO.password });
    rest = new ApiClient(app.url, login.body.data.access_token);
    browser = await launchBrowser();
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await proxy?.close();
    await db?.drop();
  });

  afterEach(async function () {
    const open = pages.splice(0);
    const problems = open.flatMap((p) => p.problems);
    await Promise.all(open.map((p) => p.context.close()));
    // A script error or a CSP refusal anywhere in a test fails it (when it has not failed already).
    if (this.currentTest?.state === 'passed') assert.deepEqual(problems, [], 'the browser reported problems');
  });

  async function open(who: keyof typeof users | null, hash = '', viewport?: { width: number; height: number }): Promise<Page> {
    const watched = await openPage(browser, `${proxy.url}/${hash}`, viewport);
    pages.push(watched);
    if (who) await signIn(watched.page, users[who]);
    return watched.page;
  }

  async function findId(kind: string, name: string): Promise<string> {
    const res = await rest.get(`/api/v1/${kind}?q=${encodeURIComponent(name)}`);
    const row = res.body.data.find((r: { name?: string; title?: string }) => (r.name ?? r.title) === name);
    assert.ok(row, `${kind} ${name}`);
    return row.id;
  }

  const activeIncident = 'Card authorizations failing for some merchants';

  /** A route of every view (an incident's page and a record's among them), with the dashboards view given. */
  async function everyView(dashboards: string): Promise<string[]> {
    const [incidentId, serviceId] = await Promise.all([findId('incidents', activeIncident), findId('services', 'payments-api')]);
    return ['#/board', `#/incidents/${incidentId}`, '#/search/payments', '#/catalog/services', `#/catalog/services/${serviceId}`, dashboards, '#/activity'];
  }

  it('signs in as the demo admin and shows the seeded incidents on the board, live', async () => {
    const page = await open('admin');
    const board = page.getByRole('list', { name: 'Active incidents' });
    await board.getByRole('heading', { name: activeIncident }).waitFor(WAIT);
    await page.getByRole('list', { name: 'Recently resolved incidents' }).getByRole('heading', { name: 'Login latency spike' }).waitFor(WAIT);
    const card = board.locator('li.incident', { hasText: activeIncident });
    assert.match(await card.innerText(), /major/);
    assert.match(await card.innerText(), /investigating/);
    assert.match(await card.innerText(), /Error rate on \/authorize at 12%/, 'the latest timeline entry');
    assert.match(await card.getByRole('list', { name: `Affected by ${activeIncident}` }).innerText(), /payments-api\s+outage/);
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'board.png'), fullPage: true });
  });

  it('follows a REST update that resolves an incident without a reload: the card moves and the service turns operational', async () => {
    const page = await open('ic');
    const active = page.getByRole('list', { name: 'Active incidents' });
    await active.getByRole('heading', { name: activeIncident }).waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const incidentId = await findId('incidents', activeIncident);
    const serviceId = await findId('services', 'payments-api');
    const res = await rest.post(`/api/v1/incidents/${incidentId}/updates`, { status: 'resolved', message: 'Processor failover complete.' });
    assert.equal(res.status, 201, res.text);

    const resolved = page.getByRole('list', { name: 'Recently resolved incidents' }).locator(`li[data-incident-id="${incidentId}"]`);
    await resolved.waitFor(WAIT);
    assert.equal(await resolved.getAttribute('data-status'), 'resolved');
    await resolved.getByText('Processor failover complete.').waitFor(WAIT);
    await resolved.locator(`li[data-entity-id="${serviceId}"] .badge-operational`).waitFor(WAIT);
    assert.equal(await active.locator(`li[data-incident-id="${incidentId}"]`).count(), 0, 'no longer active');
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
  });

  it('co-edits a service description in two browsers: both converge, each sees the other, and the row gets the text', async () => {
    const serviceId = await findId('services', 'auth-api');
    const hash = `#/catalog/services/${serviceId}`;
    const [admin, editor] = await Promise.all([open('admin', hash), open('editor', hash)]);
    const areas = [admin, editor].map((p) => p.getByLabel('description'));
    for (const p of [admin, editor]) await p.locator('[data-coedit-state="synced"]').waitFor(WAIT);
    // Presence: each page names the other user.
    await admin.getByLabel('Who is here').getByText('Eddie Editor').waitFor(WAIT);
    await editor.getByLabel('Who is here').getByText('Acme Admin').waitFor(WAIT);

    await areas[1]!.click();
    await editor.keyboard.press('End');
    await editor.keyboard.type(' Edited by the editor.');
    await areas[0]!.click();
    await admin.keyboard.press('Home');
    await admin.keyboard.type('Admin: ');
    const converged = async (p: Page) => {
      await p.waitForFunction(
        () => {
          const v = (document.getElementById('field-description') as HTMLTextAreaElement).value;
          return v.startsWith('Admin: ') && v.endsWith(' Edited by the editor.');
        },
        undefined,
        WAIT,
      );
      return p.getByLabel('description').inputValue();
    };
    const [a, e] = await Promise.all([converged(admin), converged(editor)]);
    assert.equal(a, e, 'both documents hold the same text');
    // The editor is in the description field, and the admin's page says so.
    await admin.locator('label[for="field-description"] .peer-focus', { hasText: 'Eddie Editor' }).waitFor(WAIT);
    if (SCREENSHOTS) await admin.screenshot({ path: path.join(SCREENSHOTS, 'co-editing.png'), fullPage: true });

    const deadline = Date.now() + 10_000;
    let row = '';
    while (Date.now() < deadline) {
      row = (await rest.get(`/api/v1/services/${serviceId}`)).body.data.description ?? '';
      if (row === a) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(row, a, 'the REST row carries the co-edited text');
  });

  it("gives a viewer a read-only editor and no write controls; the viewer's typing changes nothing", async () => {
    const serviceId = await findId('services', 'auth-api');
    const page = await open('viewer', `#/catalog/services/${serviceId}`);
    await page.locator('[data-coedit-state="synced"]').waitFor(WAIT);
    const area = page.getByLabel('description');
    assert.equal(await area.getAttribute('readonly'), '', 'the description is read-only');
    assert.equal(await page.getByLabel('name', { exact: true }).getAttribute('readonly'), '');
    const before = await area.inputValue();
    await area.click();
    await page.keyboard.type('viewer was here');
    assert.equal(await area.inputValue(), before);
    await page.getByRole('link', { name: 'Status board' }).click();
    await page.getByRole('heading', { name: 'Status board' }).waitFor(WAIT);
    await page.getByRole('list', { name: 'Recently resolved incidents' }).getByRole('listitem').first().waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Post update' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Declare an incident' }).count(), 0);
    assert.equal((await rest.get(`/api/v1/services/${serviceId}`)).body.data.description.includes('viewer was here'), false);
  });

  it('resumes after a network drop with since: every change committed meanwhile appears once, in order, and the state says caught up', async () => {
    const page = await open('admin', '#/activity');
    const state = page.locator('.connection');
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    const seqBefore = Number(await state.getAttribute('data-seq'));
    const acceptedBefore = proxy.accepted;
    proxy.cut();
    await page.locator('.connection[data-state="reconnecting"]').waitFor(WAIT);
    const teams: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await rest.post('/api/v1/teams', { name: `Offline team ${i}` });
      assert.equal(res.status, 201, res.text);
      teams.push(res.body.data.id);
    }
    proxy.restore();
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    assert.equal(await state.innerText(), `Live · caught up from seq ${seqBefore} (20 missed)`);
    assert.ok(proxy.accepted > acceptedBefore, 'a new connection');
    const seqs = await page.locator('ol.activity li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-seq'))));
    const missed = seqs.filter((s) => s > seqBefore).reverse(); // the feed is newest first
    assert.deepEqual(
      missed,
      Array.from({ length: 20 }, (_, i) => seqBefore + 1 + i),
    );
    assert.equal(new Set(seqs).size, seqs.length, 'no change twice');
    const names = await page.locator('ol.activity li').allInnerTexts();
    for (let i = 0; i < 20; i++) assert.equal(names.filter((t) => t.includes(`Offline team ${i} `) || t.endsWith(`Offline team ${i}`)).length, 1, `team ${i}`);
  });

  it('signs in with a read-only API key: the board and the catalog, and no write control anywhere', async () => {
    const key = await rest.post('/api/v1/api-keys', { name: 'wallboard', scope: 'read' });
    assert.equal(key.status, 201, key.text);
    const page = await open(null);
    await page.getByRole('button', { name: 'Sign in with an API key instead' }).click();
    await page.getByLabel('API key').fill(key.body.data.key);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    await page.getByRole('list', { name: 'Recently resolved incidents' }).getByRole('listitem').first().waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Post update' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Declare an incident' }).count(), 0);
    const serviceId = await findId('services', 'payments-api');
    await page.evaluate((h) => (location.hash = h), `#/catalog/services/${serviceId}`);
    await page.locator('[data-coedit-state="synced"]').waitFor(WAIT);
    assert.equal(await page.getByLabel('description').getAttribute('readonly'), '', 'a read-only key edits nothing');
    // Signing out of a key forgets it on this page only: the key is not a session, and stays valid.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Tenant').waitFor(WAIT);
    assert.equal((await new ApiClient(app.url, key.body.data.key).get('/api/v1/me')).status, 200);
  });

  it('lets an incident commander post an update with the keyboard alone', async () => {
    const created = await rest.post('/api/v1/incidents', { title: 'Keyboard drill', severity: 'minor', impact_type: 'degraded', affected: [] });
    assert.equal(created.status, 201, created.text);
    const page = await open('ic');
    const card = page.locator(`li[data-incident-id="${created.body.data.id}"]`);
    await card.waitFor(WAIT);
    const textarea = card.getByRole('textbox', { name: 'Update' });
    // Tab from the top of the page until the update box of this incident has the focus.
    await page.locator('body').focus();
    for (let i = 0; i < 60 && !(await textarea.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    assert.ok(await textarea.evaluate((el) => el === document.activeElement), 'reached by Tab');
    await page.keyboard.type('Mitigated by a restart.');
    await page.keyboard.press('Tab'); // the status select
    await page.keyboard.press('ArrowDown'); // identified
    await page.keyboard.press('Tab'); // the button
    await page.keyboard.press('Enter');
    await card.getByText('Mitigated by a restart.').waitFor(WAIT);
    await page.waitForFunction(
      (id) => document.querySelector(`li[data-incident-id="${id}"]`)?.getAttribute('data-status') === 'identified',
      created.body.data.id,
      WAIT,
    );
    const incident = (await rest.get(`/api/v1/incidents/${created.body.data.id}`)).body.data;
    assert.equal(incident.status, 'identified');
    assert.equal(incident.timeline.at(-1).message, 'Mitigated by a restart.');
  });

  it("renders a dashboard on its grid from the server's widget data, and replaces a widget in place on dashboards.data_changed", async () => {
    const dashboards = (await rest.get('/api/v1/dashboards')).body.data;
    const dashboard = dashboards.find((d: { name: string }) => d.name === 'Payments overview');
    const computed = (await rest.get(`/api/v1/dashboards/${dashboard.id}/data`)).body.data;
    const counted = (title: string) => computed.widgets.find((w: { title: string }) => w.title === title).data;
    const page = await open('admin', `#/dashboards/${dashboard.id}`);
    const grid = page.getByLabel('Widgets of Payments overview');
    const counter = grid.locator('.widget', { hasText: 'Active incidents' }).locator('.counter');
    await counter.getByText(String(counted('Active incidents').count), { exact: true }).waitFor(WAIT);
    // The status board shows the server's counts per value, zero counts included.
    const services = counted('Services') as { counts: { value: string; count: number }[] };
    const shown = await grid
      .locator('.widget', { hasText: 'Services' })
      .first()
      .locator('li[data-value]')
      .evaluateAll((items) => items.map((li) => ({ value: li.getAttribute('data-value'), count: Number(li.querySelector('.count')?.textContent) })));
    assert.deepEqual(shown, services.counts);
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const dataRead = page
      .waitForRequest((r) => r.url().endsWith('/data'), { timeout: 3_000 })
      .then(
        () => true,
        () => false,
      );
    // A counted record created through the API: the follower's data_changed carries the new count.
    const created = await rest.post('/api/v1/incidents', { title: 'Counted live', severity: 'minor', impact_type: 'degraded', affected: [] });
    assert.equal(created.status, 201, created.text);
    await counter.getByText(String(counted('Active incidents').count + 1), { exact: true }).waitFor(WAIT);
    await grid.locator('.widget', { hasText: 'Incident timeline' }).getByRole('link', { name: 'Counted live' }).first().waitFor(WAIT);
    assert.equal(await dataRead, false, 'the widgets came with the event, not from another /data read');
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
    const box = await grid.locator('.widget', { hasText: 'Incident timeline' }).boundingBox();
    const counterBox = await grid.locator('.widget', { hasText: 'Active incidents' }).boundingBox();
    assert.ok(box && counterBox && box.x > counterBox.x, 'laid out by x');
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  it('searches every kind from the header: the hits say how they matched, and one opens its record with its relations', async () => {
    const page = await open('viewer');
    await page.getByRole('searchbox', { name: 'Search every kind' }).fill('payments-api');
    await page.keyboard.press('Enter');
    const results = page.getByRole('list', { name: 'Search results' });
    // The service and the repository of that name are both exact hits.
    const exact = results.locator('li[data-match="exact"]').filter({ has: page.locator('a[href^="#/catalog/services/"]') });
    await exact.waitFor(WAIT);
    assert.match(await exact.innerText(), /payments-api\s+services\s+exact/);
    const expected = (await rest.get('/api/v1/search?q=payments-api&limit=50')).body.data.map((h: { name: string; match: string }) => `${h.name}:${h.match}`);
    const shown = await results
      .locator('li')
      .evaluateAll((items) => items.map((li) => `${li.querySelector('a')?.textContent}:${li.getAttribute('data-match')}`));
    assert.deepEqual(shown, expected, 'the hits in the order the server ranks them');
    await exact.getByRole('link', { name: 'payments-api' }).click();
    await page.getByRole('heading', { name: 'payments-api', level: 1 }).waitFor(WAIT);
    // Its relations come from its graph: each neighbour under how the edge reads from here.
    const serviceId = await findId('services', 'payments-api');
    const graph = (await rest.get(`/api/v1/services/${serviceId}/graph?depth=1`)).body.data as {
      nodes: { id: string; name: string }[];
      edges: { from: string; to: string; relation: string }[];
    };
    const relations = page.getByRole('region', { name: 'Relations' });
    const dependency = graph.edges.find((e) => e.from === serviceId && e.relation === 'depends_on');
    assert.ok(dependency, 'payments-api depends on something in the sample data');
    const target = graph.nodes.find((n) => n.id === dependency.to)!;
    const group = relations.locator('.relation', { has: page.getByRole('heading', { name: 'Depends on', exact: true }) });
    await group.getByRole('link', { name: target.name, exact: true }).click();
    await page.getByRole('heading', { name: target.name, level: 1 }).waitFor(WAIT);
  });

  it('shows an incident with its roles by name, each entity its impact and span, and the durations in human units', async () => {
    const people = (await rest.get('/api/v1/users')).body.data as { id: string; email: string }[];
    const userId = (email: string) => people.find((u) => u.email === email)!.id;
    const serviceId = await findId('services', 'ledger-postgres');
    const created = await rest.post('/api/v1/incidents', {
      title: 'Ledger writes slow',
      severity: 'major',
      impact_type: 'degraded',
      affected: [{ entity_type: 'services', entity_id: serviceId, impact_type: 'outage' }],
      commander_id: userId(users.ic.email),
      lead_id: userId(users.editor.email),
      responder_ids: [userId(users.viewer.email), userId(users.admin.email)],
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.data.id;
    const page = await open('admin');
    await page.getByRole('list', { name: 'Active incidents' }).getByRole('link', { name: 'Ledger writes slow' }).click();
    await page.getByRole('heading', { name: 'Ledger writes slow', level: 1 }).waitFor(WAIT);
    const roles = page.getByRole('region', { name: 'Roles' });
    assert.match(await roles.innerText(), /commander\s+Iris Commander/);
    assert.match(await roles.innerText(), /lead\s+Eddie Editor/);
    assert.match(await roles.innerText(), /responders\s+Vic Viewer, Acme Admin/);
    const affected = page.getByRole('region', { name: 'Affected' }).locator(`li[data-entity-id="${serviceId}"]`);
    assert.match(await affected.innerText(), /ledger-postgres\s+outage/);
    assert.match(await affected.innerText(), /ongoing/);
    const durations = page.getByRole('region', { name: 'Durations' });
    assert.match(await durations.innerText(), /to identify\s+–\s+to mitigate\s+–\s+to resolve\s+–/);
    // Resolving sets every duration; the page reads the incident again and shows them.
    assert.equal((await rest.post(`/api/v1/incidents/${id}/updates`, { status: 'resolved', message: 'Index rebuilt.' })).status, 201);
    await page.getByRole('region', { name: 'Timeline' }).getByText('Index rebuilt.').waitFor(WAIT);
    const incident = (await rest.get(`/api/v1/incidents/${id}`)).body.data;
    assert.equal(typeof incident.durations.time_to_resolve, 'number');
    await page.waitForFunction(
      () => /to resolve\s+\d+s/.test((document.querySelector('section[aria-labelledby="durations-title"]') as HTMLElement | null)?.innerText ?? ''),
      undefined,
      WAIT,
    );
    assert.match(await affected.innerText(), /until /, 'its impact ended with the incident');
    // A viewer cannot list users: the ids stand for the others, the viewer's own name for itself.
    const viewer = await open('viewer', `#/incidents/${id}`);
    const viewerRoles = viewer.getByRole('region', { name: 'Roles' });
    await viewerRoles.waitFor(WAIT);
    assert.match(await viewerRoles.innerText(), new RegExp(`commander\\s+${userId(users.ic.email)}`));
    assert.match(await viewerRoles.innerText(), /Vic Viewer/);
  });

  it("shows each scorecard result's level on a record", async () => {
    const scorecards = (await rest.get('/api/v1/scorecards')).body.data as { id: string; name: string }[];
    const readiness = scorecards.find((s) => s.name === 'Production readiness')!;
    const res = await rest.patch(`/api/v1/scorecards/${readiness.id}`, {
      levels: [
        { name: 'bronze', min_score: 0 },
        { name: 'gold', min_score: 90 },
      ],
    });
    assert.equal(res.status, 200, res.text);
    const serviceId = await findId('services', 'auth-api');
    const score = ((await rest.get(`/api/v1/services/${serviceId}`)).body.data.scorecards as { scorecard_id: string; level: string }[]).find(
      (s) => s.scorecard_id === readiness.id,
    )!;
    assert.ok(score.level, 'a score of 0 or more reaches the lowest level');
    const page = await open('viewer', `#/catalog/services/${serviceId}`);
    const item = page.getByRole('region', { name: 'Scorecards' }).locator(`li[data-scorecard-id="${readiness.id}"]`);
    await item.locator(`.badge-level.badge-${score.level}`).waitFor(WAIT);
  });

  it('has no horizontal scroll on a 375×667 phone, in every view', async () => {
    const page = await open('admin', '', { width: 375, height: 667 });
    for (const hash of await everyView('#/dashboards')) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.locator('main h1').first().waitFor(WAIT);
      await page.waitForLoadState('networkidle');
      const [scroll, client, wide] = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        // What sticks out, for the message: the innermost elements past the right edge.
        const out = [...document.querySelectorAll('main *')]
          .filter((el) => el.getBoundingClientRect().right > width + 0.5 && ![...el.children].some((c) => c.getBoundingClientRect().right > width + 0.5))
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} (${Math.round(el.getBoundingClientRect().right)})`);
        return [document.documentElement.scrollWidth, width, out.slice(0, 5).join(', ')] as const;
      });
      assert.ok(scroll <= client, `${hash}: scrollWidth ${scroll} > ${client}: ${wide}`);
    }
  });

  it('passes an axe-core scan of every view with no serious or critical violation', async () => {
    const dashboards = (await rest.get('/api/v1/dashboards')).body.data;
    const page = await open(null);
    const scan = async (what: string) => {
      const result = await new AxeBuilder({ page }).analyze();
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(
        bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
        [],
        `${what}: ${bad.length} violation(s)`,
      );
    };
    await page.getByLabel('Tenant').waitFor(WAIT);
    await scan('sign-in');
    await signIn(page, users.admin);
    for (const hash of await everyView(`#/dashboards/${dashboards[0].id}`)) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.locator('main h1').first().waitFor(WAIT);
      await page.waitForLoadState('networkidle');
      await scan(hash);
    }
  });

  it('renews the login token before it expires and hands it to the live socket, so an open page is not cut off', async () => {
    const watched = await openPage(browser, 'about:blank');
    pages.push(watched);
    const { page } = watched;
    // The page's clock, so the renewal (a few minutes before the token's hour is up) comes now.
    await page.clock.install();
    await page.goto(`${proxy.url}/#/activity`);
    await signIn(page, users.editor);
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    const tokenOf = () => page.evaluate(() => (JSON.parse(sessionStorage.getItem('appinventory.session')!) as { token: string }).token);
    const first = await tokenOf();
    // The socket's expiry is its token's exp, in seconds: renewing within the same second would not move it.
    await new Promise((r) => setTimeout(r, 1_100));
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.status() === 200, WAIT);
    await page.clock.fastForward('56:00');
    await refreshed;
    await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem('appinventory.session')!).token !== old, first, WAIT);
    const renewed = await tokenOf();
    assert.equal((await new ApiClient(app.url, renewed).get('/api/v1/me')).status, 200, 'the renewed token signs in');
    // The page's socket took the renewed token (refresh_token): its expiry on the server is the new token's.
    const expiry = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    const socketExpiry = async () => {
      const sockets = await app.live.io.local.fetchSockets();
      return sockets.filter((s) => s.data.userId === JSON.parse(Buffer.from(renewed.split('.')[1]!, 'base64url').toString()).sub).map((s) => s.data.expiresAt);
    };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(await socketExpiry()).includes(expiry(renewed))) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await socketExpiry(), [expiry(renewed)], 'one socket, on the renewed expiry');
    assert.ok(expiry(renewed) > expiry(first));
    // Still signed in and live: a change committed now reaches the page.
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    const team = await rest.post('/api/v1/teams', { name: 'After the renewal' });
    assert.equal(team.status, 201, team.text);
    await page.locator('ol.activity li', { hasText: 'After the renewal' }).waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);
  });

  it('shows the editors why an edit is not saved to the record (the projection refuses an empty name)', async () => {
    const serviceId = await findId('services', 'ledger-postgres');
    const page = await open('editor', `#/catalog/services/${serviceId}`);
    await page.locator('[data-coedit-state="synced"]').waitFor(WAIT);
    const name = page.getByLabel('name', { exact: true });
    await name.fill('');
    const notice = page.locator('[data-projection="invalid"]');
    await notice.waitFor(WAIT);
    assert.match(await notice.innerText(), /name/);
    await name.fill('ledger-postgres');
    await notice.waitFor({ state: 'detached', ...WAIT });
    assert.equal((await rest.get(`/api/v1/services/${serviceId}`)).body.data.name, 'ledger-postgres');
  });

  it('co-edits attributes in their types: a number stays a number, a flag is a checkbox, a list a list', async () => {
    const serviceId = await findId('services', 'payment-events');
    const page = await open('editor', `#/catalog/services/${serviceId}`);
    await page.locator('[data-coedit-state="synced"]').waitFor(WAIT);
    await page.getByLabel('retention_days', { exact: true }).fill('14');
    await page.getByLabel('dlq', { exact: true }).uncheck();
    // Typing a list item while someone else's edit arrives: the input keeps what is being typed.
    const topics = page.getByLabel('topics', { exact: true });
    await topics.click();
    await page.keyboard.press('End');
    await page.keyboard.type(', payments.');
    assert.equal((await rest.patch(`/api/v1/services/${serviceId}`, { description: 'Payment events, with refunds.' })).status, 200);
    await page.waitForFunction(
      () => (document.getElementById('field-description') as HTMLTextAreaElement).value === 'Payment events, with refunds.',
      undefined,
      WAIT,
    );
    await page.keyboard.type('refunded');
    await topics.blur();
    const expected = { broker: 'Kafka', topics: ['payments.authorized', 'payments.settled', 'payments.refunded'], retention_days: 14, dlq: false };
    let attributes: unknown;
    for (const until = Date.now() + WAIT.timeout; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      attributes = (await rest.get(`/api/v1/services/${serviceId}`)).body.data.attributes;
      if (isDeepStrictEqual(attributes, expected)) break;
    }
    assert.deepEqual(attributes, expected, 'the row holds each attribute in its type');
    assert.equal(await page.locator('[data-projection="invalid"]').count(), 0, 'no edit was refused');
  });

  it("shows a viewer the record's history, and its newest change as soon as it commits", async () => {
    const serviceId = await findId('services', 'ledger-postgres');
    const first = await rest.patch(`/api/v1/services/${serviceId}`, { description: 'Ledger store, first revision.' });
    assert.equal(first.status, 200);
    const page = await open('viewer', `#/catalog/services/${serviceId}`);
    const history = page.getByRole('region', { name: 'History' });
    await history.getByRole('listitem').filter({ hasText: 'update by Acme Admin · description' }).first().waitFor(WAIT);
    // A change committed while the page is open is at the top of the list without a reload.
    assert.equal((await rest.patch(`/api/v1/services/${serviceId}`, { tags: ['tier-1', 'history'] })).status, 200);
    await page.waitForFunction(
      () => document.querySelector('section[aria-labelledby="history-title"] li')?.textContent?.includes('update by Acme Admin · tags'),
      undefined,
      WAIT,
    );
  });

  it('reloads its views from REST when the server does not know its since (a database restored from an older backup)', async () => {
    const page = await open('admin');
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    const title = 'Restored from the backup';
    const incident = await rest.post('/api/v1/incidents', { title: 'Before the restore', severity: 'minor', impact_type: 'degraded', affected: [] });
    assert.equal(incident.status, 201, incident.text);
    await page.getByRole('heading', { name: 'Before the restore' }).waitFor(WAIT);
    // The events derived from the incident (dashboard data) come after it: the page has them all first.
    const { tenant_id } = await db.knex('incidents').where({ id: incident.body.data.id }).first('tenant_id');
    await followerCaughtUp(db.knex, tenant_id, ['scorecard_scores', 'dashboard_data']);
    const { last_seq: newest } = await db.knex('tenant_event_counters').where({ tenant_id }).first('last_seq');
    await page.locator(`.connection[data-seq="${newest}"]`).waitFor(WAIT);
    const seen = Number(await page.locator('.connection').getAttribute('data-seq'));
    proxy.cut();
    await page.locator('.connection[data-state="reconnecting"]').waitFor(WAIT);
    // The restore: the log loses its last events (and nothing announces what the backup held).
    const latest = seen - 3;
    const owner = db.owner();
    await owner('change_events').where({ tenant_id }).andWhere('seq', '>', latest).delete();
    await owner('tenant_event_counters').where({ tenant_id }).update({ last_seq: latest });
    await owner('incidents').where({ id: incident.body.data.id }).update({ title });
    proxy.restore();
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    assert.equal(await page.locator('.connection').innerText(), `Live · reloaded at seq ${latest} (the server's log did not have seq ${seen})`);
    await page.getByRole('heading', { name: title }).waitFor(WAIT);
    assert.equal(await page.getByRole('heading', { name: 'Before the restore' }).count(), 0);
    // And it goes on live from there.
    const after = await rest.post('/api/v1/incidents', { title: 'After the restore', severity: 'minor', impact_type: 'degraded', affected: [] });
    assert.equal(after.status, 201, after.text);
    await page.getByRole('heading', { name: 'After the restore' }).waitFor(WAIT);
    const log = (await rest.get(`/api/v1/events?since=${latest}`)).body.data;
    assert.ok(log.length >= 1 && log[0].seq === latest + 1, 'the log goes on from the restored seq');
    await page.waitForFunction((seq) => document.querySelector('.connection')?.getAttribute('data-seq') === String(seq), log.at(-1).seq, WAIT);
  });

  it('returns to sign-in with a message when the session ends elsewhere (logout: a revoked event)', async () => {
    const page = await open('viewer');
    await page.locator('.connection[data-state="live"]').waitFor(WAIT);
    const login = await new ApiClient(app.url).post('/api/v1/auth/login', { tenant_slug: DEMO.tenantSlug, email: users.viewer.email, password: DEMO.password });
    const out = await new ApiClient(app.url, login.body.data.access_token).post('/api/v1/auth/logout', {});
    assert.equal(out.status, 204, out.text);
    await page.getByRole('status').getByText('You were signed out (your session ended).').waitFor(WAIT);
    await page.getByLabel('Tenant').waitFor(WAIT);
  });
});
