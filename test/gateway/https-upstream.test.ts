import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { Gateway, type GatewayConfigInput, parseGatewayConfig } from '../../gateway/index.js';
import { type EchoUpstream, startEchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { sampleValue, scrapeMetrics } from '../support/metrics-scrape.js';
import { type CertDir, certDir, createTestCa, type TestCa } from '../support/test-certificates.js';

/** An https echo app; `names` collects the SNI name of each TLS connection it accepted (false: none sent). */
async function startHttpsEcho(
  ca: TestCa,
  deployment: string,
  certNames: string[],
): Promise<EchoUpstream & { names: (string | false | null)[] }> {
  const cert = await ca.issue(certNames);
  const up = await startEchoUpstream(deployment, '127.0.0.1', 0, new Map(), { cert: cert.certPem, key: cert.keyPem });
  const names: (string | false | null)[] = [];
  up.server.on('secureConnection', (s: TLSSocket) => names.push(s.servername));
  return Object.assign(up, { names });
}

const engines = ['raw', 'node', 'http-proxy'] as const;

describe('gateway: https:// upstreams', () => {
  let ca: TestCa;
  let certs: CertDir;
  let caFile: string;
  before(async () => {
    ca = await createTestCa('Upstream Test CA');
    certs = certDir();
    caFile = certs.file('upstream-ca.pem', ca.certPem);
  });
  after(() => certs.remove());

  for (const engine of engines) {
    describe(`engine: ${engine}`, () => {
      let n1: Awaited<ReturnType<typeof startHttpsEcho>>;
      let n2: Awaited<ReturnType<typeof startHttpsEcho>>;
      let h: Harness;
      before(async () => {
        n1 = await startHttpsEcho(ca, 'n1', ['127.0.0.1']);
        n2 = await startHttpsEcho(ca, 'n2', ['app-n2.internal']);
        h = await startGatewayHarness({
          n1Urls: [n1.url],
          n2Urls: [n2.url],
          config: { engine },
          app: { n1: { tls: { caFile } }, n2: { tls: { caFile, serverName: 'app-n2.internal' } } },
        });
      });
      after(async () => {
        await h.close();
        await n1.close();
        await n2.close();
      });

      it('reads and writes through TLS to an app whose certificate the pool’s CA signed', async () => {
        const w = await call(h.url, '/kv/a', { method: 'PUT', body: 'over-tls' });
        assert.equal(w.status, 200, w.text);
        assert.equal(n1.store.get('a'), 'over-tls');
        const r = await call(h.url, '/kv/a');
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.text).value, 'over-tls');
        assert.equal(r.headers['x-northwest-deployment'], 'n1');
      });

      it('sends the configured serverName as SNI (and checks the certificate against it), never the client’s Host', async () => {
        await h.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
        const w = await call(h.url, '/kv/b', { method: 'PUT', body: 'n2' });
        assert.equal(w.status, 200, w.text);
        assert.equal(n2.store.get('b'), 'n2');
        assert.equal(JSON.parse((await call(h.url, '/kv/b')).text).value, 'n2');
        assert.ok(n2.names.length > 0);
        assert.deepEqual(new Set(n2.names), new Set(['app-n2.internal']));
        // An IP address in the URL: no SNI at all (RFC 6066), the certificate checked against the address.
        assert.deepEqual(new Set(n1.names), new Set([false]));
      });

      it('mirrors a write to both https deployments', async () => {
        await h.gw.applyState('shop', { epoch: 2, mode: 'mirror' });
        const w = await call(h.url, '/kv/m', { method: 'PUT', body: 'both' });
        assert.equal(w.status, 200, w.text);
        assert.equal(n1.store.get('m'), 'both');
        assert.equal(n2.store.get('m'), 'both');
      });
    });
  }

  describe('certificate checks', () => {
    let n1: Awaited<ReturnType<typeof startHttpsEcho>>;
    before(async () => {
      n1 = await startHttpsEcho(ca, 'n1', ['app.internal']);
    });
    after(() => n1.close());

    for (const engine of ['raw', 'node'] as const) {
      it(`${engine}: refuses a certificate not from a trusted CA, or not for the name: 502 NW_GW_UPSTREAM_CONNECT_FAILED`, async () => {
        const cases: NonNullable<GatewayConfigInput['apps'][string]['n1']['tls']>[] = [
          {}, // the system's CAs: the test CA is not among them
          { caFile }, // the right CA, but the certificate is for app.internal, not 127.0.0.1
        ];
        for (const tls of cases) {
          const h = await startGatewayHarness({ n1Urls: [n1.url], config: { engine }, app: { n1: { tls, retries: 0 } } });
          try {
            const before = n1.seen.length;
            const r = await call(h.url, '/kv/x', { method: 'PUT', body: 'no' });
            assert.equal(r.status, 502, `${JSON.stringify(tls)}: ${r.text}`);
            assert.equal(r.headers['x-northwest-error'], 'NW_GW_UPSTREAM_CONNECT_FAILED');
            assert.equal(n1.seen.length, before, 'nothing reached the app');
          } finally {
            await h.close();
          }
        }
      });
    }

    it('runs health checks over TLS', async () => {
      const h = await startGatewayHarness({
        n1Urls: [n1.url],
        app: { n1: { tls: { caFile, serverName: 'app.internal' }, healthCheck: { intervalMs: 50, timeoutMs: 500 } } },
      });
      try {
        await eventually(() => n1.seen.filter((s) => s.path === '/healthz').length >= 2, {
          timeoutMs: 3000,
          message: 'health checks reach the app',
        });
        const text = await scrapeMetrics(h.adminUrl);
        assert.equal(sampleValue(text, 'northwest_gateway_upstream_healthy', { app: 'shop', deployment: 'n1', server: n1.url }), 1);
      } finally {
        await h.close();
      }
    });

    it('refuses to start when a pool’s caFile cannot be read, naming the field and the file', async () => {
      const config = parseGatewayConfig({
        listeners: [{ host: '127.0.0.1', port: 0 }],
        log: { level: 'silent' },
        apps: {
          shop: {
            hosts: ['shop.test'],
            n1: { servers: [{ url: n1.url }] },
            n2: { servers: [{ url: n1.url }], tls: { caFile: `${certs.dir}/nope.pem` } },
          },
        },
      });
      await assert.rejects(Gateway.start({ config, logger: createLogger('silent') }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NW_GW_TLS_CONFIG_INVALID');
        assert.match(err.message, /apps\.shop\.n2\.tls\.caFile \(.*nope\.pem\): cannot read/);
        return true;
      });
    });
  });

  describe('WebSockets to a wss:// app', () => {
    let h: Harness;
    let wss: WebSocketServer;
    let server: ReturnType<typeof createHttpsServer>;
    before(async () => {
      const cert = await ca.issue(['127.0.0.1']);
      server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem });
      wss = new WebSocketServer({ server });
      wss.on('connection', (socket, req) => socket.on('message', (m) => socket.send(`${req.headers['x-forwarded-proto']}:${String(m)}`)));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      h = await startGatewayHarness({ n1Urls: [url], app: { n1: { tls: { caFile } } } });
    });
    after(async () => {
      await h.close();
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => server.close(r));
    });

    it('tunnels a WebSocket to the app over TLS', async () => {
      const client = new WebSocket(`${h.url.replace('http', 'ws')}/chat`, { headers: { host: 'shop.test' } });
      client.on('error', () => undefined);
      await once(client, 'open');
      client.send('hi');
      const [reply] = await once(client, 'message');
      assert.equal(String(reply), 'http:hi');
      client.terminate();
    });
  });
});
