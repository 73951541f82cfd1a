import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type ConnectionOptions, type SecureVersion, type TLSSocket } from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { Gateway, parseGatewayConfig } from '../../gateway/index.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN } from '../support/gateway-harness.js';
import { metricValue } from '../support/metrics-scrape.js';
import { certDir, createTestCa } from '../support/test-certificates.js';
import { h2call, httpsCall, startTlsHarness, type TlsHarness } from '../support/tls-gateway.js';

interface Handshake {
  readonly socket: TLSSocket;
  /** SHA-256 fingerprint of the certificate the server sent. */
  readonly fingerprint: string;
  readonly session: Promise<Buffer>;
}

/** A TLS handshake with the listener; resolves once it is done. */
function handshake(h: TlsHarness, opts: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port: h.gw.listeners[0]!.port, ca: h.ca.certPem, servername: 'shop.test', ...opts });
    const session = new Promise<Buffer>((r) => socket.once('session', r));
    // TLS 1.3 tickets come after the handshake: they are read only while the socket is read.
    socket.resume();
    socket.once('error', reject);
    socket.once('secureConnect', () => resolve({ socket, fingerprint: socket.getPeerCertificate().fingerprint256, session }));
  });
}

/** What a certificate's fingerprint looks like in getPeerCertificate(). */
function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Sends one HTTP/1.1 request on an open TLS socket and resolves with the reply's head and body (Content-Length framed). */
function requestOn(socket: TLSSocket, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.off('data', onData);
      resolve({ status: Number(head.split(' ')[1]), text: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nhost: shop.test\r\n\r\n`);
  });
}

describe('gateway: TLS listeners', () => {
  describe('termination', () => {
    let h: TlsHarness;
    before(async () => {
      h = await startTlsHarness();
    });
    after(() => h.close());

    it('listens on https:// and accepts TLS 1.2 and 1.3 only', async () => {
      assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      for (const v of ['TLSv1.2', 'TLSv1.3'] as SecureVersion[]) {
        const { socket } = await handshake(h, { minVersion: v, maxVersion: v });
        assert.equal(socket.getProtocol(), v);
        socket.destroy();
      }
      // TLS 1.1 needs OpenSSL's security level 0 on the client to be offered at all.
      await assert.rejects(handshake(h, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }));
    });

    it('serves HTTP/1.1 over TLS (ALPN http/1.1) and tells the app X-Forwarded-Proto: https, whatever the client claimed', async () => {
      const w = await httpsCall(h, '/kv/k', { method: 'PUT', body: 'v', headers: { 'x-forwarded-proto': 'http' } });
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-deployment'], 'n1');
      const r = await httpsCall(h, '/kv/k');
      assert.equal(JSON.parse(r.text).value, 'v');
      const seen = h.n1[0]!.seen.at(-1)!;
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers.host, 'shop.test');
      const { socket } = await handshake(h, { ALPNProtocols: ['http/1.1'] });
      assert.equal(socket.alpnProtocol, 'http/1.1');
      assert.deepEqual(await requestOn(socket, '/kv/k'), { status: 200, text: r.text });
      socket.destroy();
    });

    it('serves a client that offers no ALPN at all with HTTP/1.1', async () => {
      const { socket } = await handshake(h, {});
      assert.equal(socket.alpnProtocol, false);
      assert.equal((await requestOn(socket, '/echo')).status, 200);
      socket.destroy();
    });

    it('counts a failed handshake (plain HTTP sent to the TLS port) and keeps serving', async () => {
      const before = await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: '-', code: 'NW_GW_TLS_HANDSHAKE_FAILED' });
      const plain = connectTcp(h.gw.listeners[0]!.port, '127.0.0.1');
      plain.on('error', () => undefined);
      plain.write('GET / HTTP/1.1\r\nhost: shop.test\r\n\r\n');
      await once(plain, 'close');
      await eventually(
        async () =>
          (await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: '-', code: 'NW_GW_TLS_HANDSHAKE_FAILED' })) ===
          before + 1,
        { timeoutMs: 2000, message: 'the failed handshake is counted' },
      );
      assert.equal((await httpsCall(h, '/echo')).status, 200);
    });
  });

  describe('certificates', () => {
    let h: TlsHarness;
    let other: string;
    let wild: string;
    before(async () => {
      h = await startTlsHarness({
        prepare: async (ca, certs) => {
          const o = await ca.issue(['other.test']);
          const w = await ca.issue(['*.wild.test']);
          other = o.certPem;
          wild = w.certPem;
          return { sni: { 'Other.Test': certs.write('other', o), '*.wild.test': certs.write('wild', w) } };
        },
      });
    });
    after(() => h.close());

    it('picks the certificate by SNI: an exact name, a wildcard, and the default for unknown names and for no SNI', async () => {
      const cases: [string | undefined, string][] = [
        ['other.test', fingerprintOf(other)],
        ['OTHER.test', fingerprintOf(other)],
        ['a.wild.test', fingerprintOf(wild)],
        ['a.b.wild.test', fingerprintOf(h.serverCert.certPem)],
        ['unknown.test', fingerprintOf(h.serverCert.certPem)],
        [undefined, fingerprintOf(h.serverCert.certPem)],
      ];
      for (const [servername, expected] of cases) {
        const { socket, fingerprint } = await handshake(h, {
          ...(servername === undefined ? { servername: '' } : { servername }),
          checkServerIdentity: () => undefined,
        });
        assert.equal(fingerprint, expected, `SNI ${servername}`);
        socket.destroy();
      }
    });

    it('resumes sessions on TLS 1.2 and 1.3, for SNI names too, and across a certificate reload', async () => {
      for (const v of ['TLSv1.2', 'TLSv1.3'] as SecureVersion[]) {
        for (const servername of ['shop.test', 'other.test']) {
          const first = await handshake(h, { minVersion: v, maxVersion: v, servername });
          const session = await first.session;
          first.socket.destroy();
          const second = await handshake(h, { minVersion: v, maxVersion: v, servername, session });
          assert.equal(second.socket.isSessionReused(), true, `${v} ${servername}: resumed`);
          second.socket.destroy();
          h.gw.reloadCertificates();
          const third = await handshake(h, { minVersion: v, maxVersion: v, servername, session });
          assert.equal(third.socket.isSessionReused(), true, `${v} ${servername}: resumed after a reload`);
          third.socket.destroy();
        }
      }
    });
  });

  describe('reloadCertificates', () => {
    let h: TlsHarness;
    before(async () => {
      h = await startTlsHarness();
    });
    after(() => h.close());

    it('serves new certificates to new handshakes; connections already open (HTTP/1.1 and h2) keep working', async () => {
      const oldFingerprint = fingerprintOf(h.serverCert.certPem);
      const open = await handshake(h, { ALPNProtocols: ['http/1.1'] });
      assert.equal(open.fingerprint, oldFingerprint);
      assert.equal((await requestOn(open.socket, '/echo')).status, 200);
      const session = await h.http2();
      assert.equal((await h2call(session, '/echo')).status, 200);

      const renewed = await h.ca.issue(['shop.test', 'localhost', '127.0.0.1']);
      h.certs.write('default', renewed);
      h.gw.reloadCertificates();

      const fresh = await handshake(h);
      assert.equal(fresh.fingerprint, fingerprintOf(renewed.certPem));
      fresh.socket.destroy();
      // The same connections, after the reload.
      assert.equal((await requestOn(open.socket, '/echo')).status, 200);
      assert.equal((await h2call(session, '/echo')).status, 200);
      assert.equal(open.socket.destroyed, false);
      open.socket.destroy();
    });

    it('a config reload (SIGHUP, POST /reload) reads rotated certificate files again; a bad one fails the reload whole', async () => {
      const renewed = await h.ca.issue(['shop.test', 'localhost', '127.0.0.1']);
      h.certs.write('default', renewed);
      await h.gw.reload(h.gw.config);
      assert.equal((await handshake(h)).fingerprint, fingerprintOf(renewed.certPem));
      h.certs.file('default.key', 'not a key');
      await assert.rejects(h.gw.reload(h.gw.config), (err: Error & { code?: string }) => err.code === 'NW_GW_TLS_CONFIG_INVALID');
      assert.equal((await handshake(h)).fingerprint, fingerprintOf(renewed.certPem));
      h.certs.write('default', renewed);
    });

    it('changes nothing when a file is missing or wrong, and names the field and the file', async () => {
      const before = (await handshake(h)).fingerprint;
      const keyFile = `${h.certs.dir}/default.key`;
      h.certs.file('default.key', (await h.ca.issue(['shop.test'])).keyPem);
      assert.throws(
        () => h.gw.reloadCertificates(),
        (err: Error & { code?: string }) =>
          err.code === 'NW_GW_TLS_CONFIG_INVALID' &&
          err.message.includes('listeners.0.tls.keyFile') &&
          err.message.includes(keyFile) &&
          /not the key of the certificate/.test(err.message),
      );
      h.certs.file('default.key', 'not a key');
      assert.throws(() => h.gw.reloadCertificates(), /listeners\.0\.tls\.keyFile .*not an unencrypted PEM private key/);
      const after = await handshake(h);
      assert.equal(after.fingerprint, before);
      assert.equal((await requestOn(after.socket, '/echo')).status, 200);
      after.socket.destroy();
    });
  });

  describe('reloadCertificates with a new config', () => {
    let h: TlsHarness;
    before(async () => {
      h = await startTlsHarness();
    });
    after(() => h.close());

    it('reads the files a new config names; refuses to take TLS off a running listener', async () => {
      const other = await h.ca.issue(['shop.test', '127.0.0.1']);
      const files = h.certs.write('moved', other);
      const listener = h.gw.config.listeners[0]!;
      h.gw.reloadCertificates([{ ...listener, tls: { ...listener.tls!, ...files } }]);
      const { socket, fingerprint } = await handshake(h);
      assert.equal(fingerprint, fingerprintOf(other.certPem));
      socket.destroy();
      const { tls: _, ...plain } = listener;
      assert.throws(() => h.gw.reloadCertificates([plain]), /listeners\.0\.tls: TLS cannot be removed from a running listener/);
    });
  });

  describe('shutdown', () => {
    it('ends idle TLS connections and unfinished handshakes at once', async () => {
      const h = await startTlsHarness({ config: { timeouts: { shutdownMs: 5000, clientHeadersMs: 8000 } } });
      try {
        const idle = await handshake(h, { ALPNProtocols: ['http/1.1'] });
        assert.equal((await requestOn(idle.socket, '/echo')).status, 200);
        const silent = connectTcp(h.gw.listeners[0]!.port, '127.0.0.1');
        silent.on('error', () => undefined);
        await once(silent, 'connect');
        const started = performance.now();
        await h.gw.close();
        assert.ok(performance.now() - started < 2000, `closed in ${Math.round(performance.now() - started)} ms`);
        assert.ok(idle.socket.destroyed || (await once(idle.socket, 'close')));
        if (!silent.destroyed) await once(silent, 'close');
      } finally {
        await h.close();
      }
    });
  });

  describe('start-up checks', () => {
    it('refuses to start with a missing file, a key not the certificate’s, or an SNI certificate not covering its name', async () => {
      const ca = await createTestCa();
      const dir = certDir();
      try {
        const good = dir.write('good', await ca.issue(['shop.test']));
        const stranger = dir.write('stranger', await ca.issue(['shop.test']));
        const start = (tls: Record<string, unknown>): Promise<Gateway> =>
          Gateway.start({
            config: parseGatewayConfig({
              listeners: [{ host: '127.0.0.1', port: 0, tls }],
              log: { level: 'silent' },
              apps: {
                shop: {
                  hosts: ['shop.test'],
                  n1: { servers: [{ url: 'http://127.0.0.1:1' }] },
                  n2: { servers: [{ url: 'http://127.0.0.1:1' }] },
                },
              },
            }),
            adminToken: ADMIN_TOKEN,
            logger: createLogger('silent'),
          });
        const refused = async (tls: Record<string, unknown>, message: RegExp): Promise<void> => {
          await assert.rejects(start(tls), (err: Error & { code?: string }) => {
            assert.equal(err.code, 'NW_GW_TLS_CONFIG_INVALID');
            assert.match(err.message, message);
            return true;
          });
        };
        await refused({ ...good, certFile: `${dir.dir}/missing.crt` }, /listeners\.0\.tls\.certFile \(.*missing\.crt\): cannot read/);
        await refused({ ...good, keyFile: stranger.keyFile }, /listeners\.0\.tls\.keyFile \(.*stranger\.key\): is not the key/);
        await refused(
          { ...good, sni: { 'other.test': good } },
          /listeners\.0\.tls\.sni\["other\.test"\]\.certFile .*does not cover other\.test/,
        );
        const gw = await start(good);
        assert.match(gw.listeners[0]!.url, /^https:/);
        await gw.close();
      } finally {
        dir.remove();
      }
    });
  });

  describe('the CLI', () => {
    it('exits 2 with the code, field and file when a certificate file is missing', async () => {
      const dir = certDir();
      try {
        const config = dir.file(
          'gateway.json',
          JSON.stringify({
            listeners: [{ host: '127.0.0.1', port: 0, tls: { certFile: `${dir.dir}/none.crt`, keyFile: `${dir.dir}/none.key` } }],
            apps: {
              shop: {
                hosts: ['shop.test'],
                n1: { servers: [{ url: 'http://127.0.0.1:1' }] },
                n2: { servers: [{ url: 'http://127.0.0.1:1' }] },
              },
            },
          }),
        );
        const proc = spawn(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', '--config', config], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const [code] = await once(proc, 'exit');
        assert.equal(code, 2, stderr);
        assert.match(stderr, /NW_GW_TLS_CONFIG_INVALID: .*listeners\.0\.tls\.certFile \(.*none\.crt\): cannot read/);
      } finally {
        dir.remove();
      }
    });
  });

  describe('redirect and WebSockets over TLS', () => {
    let h: TlsHarness;
    let ws: WebSocketServer;
    const handshakes: Record<string, string | string[] | undefined>[] = [];
    before(async () => {
      ws = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      ws.on('connection', (socket, req) => {
        handshakes.push({ ...req.headers });
        socket.on('message', (m) => socket.send(`echo:${String(m)}`));
      });
      await once(ws, 'listening');
      const { port } = ws.address() as { port: number };
      h = await startTlsHarness({ n1Urls: [`http://127.0.0.1:${port}`], app: { n2: { publicOrigin: 'https://shop-n2.test:8443' } } });
    });
    after(async () => {
      await h.close();
      for (const c of ws.clients) c.terminate();
      await new Promise((r) => ws.close(r));
    });

    it('tunnels a WebSocket over HTTP/1.1 on the TLS listener, with X-Forwarded-Proto: https', async () => {
      // ws checks the certificate against the URL's host (127.0.0.1, which the test certificate covers).
      const client = new WebSocket(`wss://127.0.0.1:${h.gw.listeners[0]!.port}/chat`, { ca: h.ca.certPem, headers: { host: 'shop.test' } });
      client.on('error', () => undefined);
      await once(client, 'open');
      client.send('hello');
      const [reply] = await once(client, 'message');
      assert.equal(String(reply), 'echo:hello');
      assert.equal(handshakes.at(-1)!['x-forwarded-proto'], 'https');
      client.terminate();
    });

    it('redirects an https request to the https publicOrigin of N2', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'redirect', status: 308 });
      const r = await httpsCall(h, '/cart?id=7');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://shop-n2.test:8443/cart?id=7');
      const session = await h.http2();
      const r2 = await h2call(session, '/cart?id=8');
      assert.equal(r2.status, 308);
      assert.equal(r2.headers.location, 'https://shop-n2.test:8443/cart?id=8');
    });
  });
});
