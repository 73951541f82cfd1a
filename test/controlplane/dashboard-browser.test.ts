/**
 * The live dashboard in a real browser: Debian's Chromium (scripts/chromium.sh) driven by
 * playwright-core, against a control plane whose admin listener serves /dashboard, two fleet
 * gateways with admin listeners under client load (embedded coordinator). The operator signs in,
 * watches a migration move without reloading the page, and aborts it with the button.
 *
 * The screenshot goes to a temporary directory; NW_UPDATE_SCREENSHOT=1 copies it to docs/dashboard.png.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { EmbeddedCoordinator } from '../../platform/coordinator/embedded-coordinator.js';
import { adminCall, CP_TOKEN, startControlHarness, type ControlHarness } from '../support/control-plane-harness.js';
import { eventually } from '../support/eventually.js';
import { type HeadlessChromium, launchChromium } from '../support/headless-chromium.js';
import { call } from '../support/gateway-harness.js';

/** The rate in a text like "n2 12.5/s". */
const rateIn = (text: string | null): number => Number(/([\d.]+)\/s/.exec(text ?? '')?.[1] ?? 0);

/** Traffic readings on shop's requests/s sparkline (points of its N1 line). */
const readings = (page: Page): Promise<number> =>
  page.$eval('#traffic [data-app=shop] svg.spark polyline', (p) => (p.getAttribute('points') ?? '').split(' ').length).catch(() => 0);

describe('control-plane dashboard in a real browser (Chromium)', function () {
  this.timeout(120_000);
  let h: ControlHarness;
  let writer: EmbeddedCoordinator;
  let chromium: HeadlessChromium | undefined;
  let browser: BrowserContext;
  let profile: string;
  let stopLoad: AbortController;
  let load: Promise<void>;

  before(async () => {
    h = await startControlHarness({ size: 2, gatewayAdmin: true, apps: ['shop', 'cart'] });
    writer = new EmbeddedCoordinator(h.store);
    await writer.connect();
    await writeAppStates(writer, { shop: { mode: 'serve' }, cart: { mode: 'serve' } });
    stopLoad = new AbortController();
    load = Promise.all(
      h.fleet.members.map(async (m, i) => {
        const base = m.gateway.listeners[0]!.url;
        for (let n = 0; !stopLoad.signal.aborted; n++) {
          await call(base, `/kv/k-${i}-${n}`, { method: 'PUT', body: `v${n}` });
          await call(base, `/kv/k-${i}-${n}`);
          await call(base, `/cart/${n}`, { host: 'cart.test' });
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    ).then(() => undefined);
    chromium = await launchChromium({ viewport: { width: 1180, height: 720 } });
    browser = chromium.context;
    profile = chromium.profile;
  });

  after(async () => {
    await chromium?.close();
    stopLoad?.abort();
    await load;
    await writer?.close();
    await h?.close();
  });

  /** Console errors and uncaught exceptions of the page, from the first request on. */
  function watchErrors(page: Page): string[] {
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} ${m.location().url}`);
    });
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    return errors;
  }

  it('signs in, shows members and apps, follows a migration without reload, and aborts it with the button', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    const url = h.url;

    const signInPage = await page.goto(`${url}/dashboard`);
    assert.equal(signInPage?.status(), 401);
    await page.fill('input[name=token]', 'not-the-token');
    await Promise.all([page.waitForURL(`${url}/dashboard/session`), page.click('button[type=submit]')]);
    assert.match((await page.textContent('#problem')) ?? '', /not the admin token/);
    await page.fill('input[name=token]', CP_TOKEN);
    const [signedIn] = await Promise.all([page.waitForResponse(`${url}/dashboard`), page.click('button[type=submit]')]);
    assert.equal(signedIn.status(), 200);
    const cookies = await browser.cookies(`${url}/dashboard`);
    assert.deepEqual(
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]),
      [['nw_dashboard', true, 'Strict', '/dashboard']],
    );
    assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is out of the page script’s reach');

    // The sign-in form comes with a 401 (no session yet), as does the wrong token's answer: Chromium
    // logs each document's status as a console error, and nothing else may be there.
    const unauthorized = 'Failed to load resource: the server responded with a status of 401 (Unauthorized)';
    assert.deepEqual(errors.splice(0), [`console: ${unauthorized} ${url}/dashboard`, `console: ${unauthorized} ${url}/dashboard/session`]);

    // From here on the page must never load again: everything comes over its event stream.
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });

    await page.waitForSelector('#conn.live');
    await eventually(
      async () => {
        const rows = await page.$$eval('#members tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
        assert.deepEqual(
          rows.map((r) => [r[0], r[1], r[3], r[4]?.split(' ')[0]]),
          h.fleet.members.map((m) => [m.id, 'gateway', 'shop, cart', 'ok']),
        );
        assert.equal(await page.textContent('#apps tr[data-app=shop] .mode'), 'serve');
        assert.equal(await page.textContent('#apps tr[data-app=shop] td:nth-child(4)'), '2/2');
      },
      { timeoutMs: 10_000, message: 'members and apps on the page' },
    );
    await eventually(async () => assert.ok(rateIn(await page.textContent('#traffic [data-app=shop] [data-deployment=n1]')) > 0), {
      timeoutMs: 10_000,
      message: 'N1 requests/s for shop',
    });
    // A few seconds of N1 on the sparkline before the switch (the screenshot shows both sides).
    await eventually(async () => assert.ok((await readings(page)) >= 6), { timeoutMs: 15_000, message: 'six traffic readings' });

    const created = await adminCall(url, 'POST', '/migrations', {
      body: {
        id: 'm-browser',
        apps: ['shop'],
        analysis: {
          intervalMs: 1000,
          windowMs: 2000,
          durationMs: 60_000,
          failureLimit: 2,
          minRequests: 5,
          metrics: { errorRate: { max: 0.05 }, p99Ms: { max: 500 } },
        },
      },
    });
    assert.equal(created.status, 201, created.text);
    await eventually(async () => assert.equal(await page.textContent('#apps tr[data-app=shop] .mode'), 'proxy'), {
      timeoutMs: 15_000,
      message: 'shop shown in proxy',
    });
    assert.match((await page.textContent('#migration-status')) ?? '', /^running · proxy/);
    const before = await page.$$eval('#timeline li', (lis) => lis.length);
    await eventually(async () => assert.ok((await page.$$eval('#timeline li', (lis) => lis.length)) >= before + 3), {
      timeoutMs: 15_000,
      message: 'the timeline grows by the gates’ evaluations',
    });
    assert.match((await page.textContent('#timeline li:last-child .detail')) ?? '', /^analysis \d+\/60 .*shop: \d+ N2 requests/);
    await eventually(async () => assert.ok(rateIn(await page.textContent('#traffic [data-app=shop] [data-deployment=n2]')) > 0), {
      timeoutMs: 10_000,
      message: 'N2 requests/s for shop',
    });
    assert.match((await page.textContent('#traffic [data-app=shop] .p99')) ?? '', /^p99 [\d.]+ ms$/);
    const switched = await readings(page);
    await eventually(async () => assert.ok((await readings(page)) >= switched + 5), { timeoutMs: 15_000, message: 'five readings of N2' });

    const shot = join(profile, 'dashboard.png');
    await page.screenshot({ path: shot });
    assert.equal(readFileSync(shot).subarray(1, 4).toString(), 'PNG');
    if (process.env.NW_UPDATE_SCREENSHOT === '1') copyFileSync(shot, 'docs/dashboard.png');

    page.once('dialog', (d) => void d.accept());
    await page.click('button[data-op=abort]');
    await eventually(async () => assert.match((await page.textContent('#migration-status')) ?? '', /^rolled-back/), {
      timeoutMs: 20_000,
      message: 'the page shows the migration rolled back',
    });
    await eventually(async () => assert.equal(await page.textContent('#apps tr[data-app=shop] .mode'), 'serve'), {
      timeoutMs: 10_000,
      message: 'shop shown served by N1 again',
    });
    assert.ok(await page.isDisabled('button[data-op=abort]'));
    const log = (await adminCall(url, 'GET', '/migrations/m-browser')).body as MigrationLog;
    assert.equal(log.status, 'rolled-back');
    assert.ok(log.history.some((e) => e.event === 'rollback-started' && e.detail === 'abort requested: from the dashboard'));
    for (const m of h.fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');

    assert.equal(navigations, 0, 'the page was never reloaded');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
