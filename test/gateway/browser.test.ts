/**
 * A real browser through the gateway: Debian's Chromium (installed by scripts/chromium.sh, which
 * `npm test` runs) driven by playwright-core, which downloads no browser. The gateway terminates
 * TLS on loopback with a certificate of a throw-away CA; Chromium trusts exactly that certificate
 * and N2's by their public keys (--ignore-certificate-errors-spki-list), no TLS check is turned off
 * wholesale. `*.test` names resolve to 127.0.0.1 inside the browser (--host-resolver-rules).
 *
 * The screenshot goes to a temporary directory; NW_UPDATE_SCREENSHOT=1 copies it to
 * docs/browser-test.png.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { type EchoUpstream, startEchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { type HeadlessChromium, launchChromium } from '../support/headless-chromium.js';
import { createTestCa } from '../support/test-certificates.js';
import { startTlsHarness, type TlsHarness } from '../support/tls-gateway.js';

/** What N1's app received from the browser's form. */
interface Submission {
  readonly body: string;
  readonly proto: string | string[] | undefined;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Northwest: browser test</title>
<style>
  body { font-family: "DejaVu Sans", sans-serif; margin: 28px; color: #222; }
  h1 { font-size: 22px; margin: 0 0 16px; }
  dt { font-weight: bold; margin-top: 10px; }
  dd { margin: 4px 0 0 0; font-family: "DejaVu Sans Mono", monospace; }
  form { margin-top: 18px; }
</style></head>
<body>
  <h1>Northwest gateway in a real browser</h1>
  <dl>
    <dt>Page</dt><dd id="addr">?</dd>
    <dt>Served by</dt><dd>deployment n1, through the gateway over TLS</dd>
    <dt>Protocol to the gateway (nextHopProtocol)</dt><dd id="proto">?</dd>
    <dt>WebSocket echo (wss, HTTP/1.1 upgrade)</dt><dd id="ws">not yet</dd>
  </dl>
  <form method="post" action="/submit"><input name="item" size="24"> <button type="submit">Send form</button></form>
  <script>
    document.getElementById('addr').textContent = location.href;
    document.getElementById('proto').textContent = performance.getEntriesByType('navigation')[0].nextHopProtocol;
  </script>
</body></html>`;

/** N1's app: the page, the form's target, and a WebSocket echo on /ws. */
async function startBrowserApp(): Promise<{ url: string; submissions: Submission[]; close(): Promise<void> }> {
  const submissions: Submission[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/submit') {
        const body = Buffer.concat(chunks).toString('utf8');
        submissions.push({ body, proto: req.headers['x-forwarded-proto'] });
        const item = new URLSearchParams(body).get('item') ?? '';
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end(`<!doctype html><title>Thanks</title><p id="thanks">received ${item.replace(/[<&>]/g, '')}</p>`);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    submissions,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

describe('gateway: a real browser (Chromium)', function () {
  this.timeout(60_000);
  let app: Awaited<ReturnType<typeof startBrowserApp>>;
  let n2: EchoUpstream;
  let h: TlsHarness;
  let chromium: HeadlessChromium | undefined;
  let browser: BrowserContext;
  let profile: string;
  let origin: string;

  before(async () => {
    app = await startBrowserApp();
    // N2 stands for the other deployment, on its own https origin (its own CA: the browser trusts keys, not CAs).
    const n2Cert = await (await createTestCa('N2 Test CA')).issue(['n2.test']);
    n2 = await startEchoUpstream('n2', '127.0.0.1', 0, new Map(), { cert: n2Cert.certPem, key: n2Cert.keyPem });
    h = await startTlsHarness({ n1Urls: [app.url], app: { n2: { publicOrigin: `https://n2.test:${n2.port}` } } });
    origin = `https://shop.test:${h.gw.listeners[0]!.port}`;
    chromium = await launchChromium({
      viewport: { width: 760, height: 420 },
      args: [
        '--host-resolver-rules=MAP *.test 127.0.0.1',
        `--ignore-certificate-errors-spki-list=${h.serverCert.spkiSha256},${n2Cert.spkiSha256}`,
      ],
    });
    browser = chromium.context;
    profile = chromium.profile;
  });

  after(async () => {
    await chromium?.close();
    await h?.close();
    await n2?.close();
    await app?.close();
  });

  it('loads the page over HTTPS with h2, echoes on a WebSocket and posts a form through the gateway', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${origin}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await res?.headerValue('x-northwest-deployment'), 'n1');
    assert.equal(
      await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol),
      'h2',
    );

    const echoed = await page.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(`wss://${location.host}/ws`);
          ws.onopen = () => ws.send('ping from the browser');
          ws.onmessage = (e) => {
            document.getElementById('ws')!.textContent = String(e.data);
            ws.close();
            resolve(String(e.data));
          };
          ws.onerror = () => reject(new Error('websocket failed'));
        }),
    );
    assert.equal(echoed, 'echo:ping from the browser');

    await page.fill('input[name=item]', 'blue widget');
    const shot = join(profile, 'browser-test.png');
    await page.screenshot({ path: shot });
    assert.ok(readFileSync(shot).subarray(1, 4).toString() === 'PNG');
    if (process.env.NW_UPDATE_SCREENSHOT === '1') copyFileSync(shot, 'docs/browser-test.png');

    await Promise.all([page.waitForURL(`${origin}/submit`), page.click('button[type=submit]')]);
    assert.equal(await page.textContent('#thanks'), 'received blue widget');
    assert.deepEqual(app.submissions, [{ body: 'item=blue+widget', proto: 'https' }]);
    await page.close();
  });

  it('in redirect mode lands on N2’s origin', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'redirect', status: 307 });
    const page = await browser.newPage();
    const res = await page.goto(`${origin}/kv/landing`);
    assert.equal(page.url(), `https://n2.test:${n2.port}/kv/landing`);
    assert.equal(res?.status(), 404);
    assert.equal((await res?.json())?.deployment, 'n2');
    assert.ok(n2.seen.some((s) => s.path === '/kv/landing' && s.method === 'GET'));
    await page.close();
  });
});
