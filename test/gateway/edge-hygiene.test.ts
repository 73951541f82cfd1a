/**
 * Edge hygiene (issue 12, item 12): what ordinary and hostile clients send that the gateway
 * must neither choke on nor pass to the app as is. Byte-exact requests through the raw client;
 * what the app server received is checked, not only the response.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { Gateway, GatewayError, parseGatewayConfig } from '../../gateway/index.js';
import { buildUpstreamHeaders, type ForwardContext } from '../../gateway/proxy/forward-headers.js';
import { isValidHost } from '../../gateway/request-host.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient, type RawConnection, type RawResult } from '../support/raw-http-client.js';

const MAX_BODY_BYTES = 64 * 1024;

const errorCode = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code;

/** Waits until the connection has received `n` complete responses. */
async function receivedResponses(conn: RawConnection, n: number, what: string): Promise<void> {
  await eventually(() => conn.received().length >= n, { timeoutMs: 3_000, message: what });
}

describe('gateway edge hygiene', () => {
  let h: Harness;
  let raw: RawHttpClient;

  before(async () => {
    h = await startGatewayHarness({ config: { limits: { maxBodyBytes: MAX_BODY_BYTES } } });
    raw = new RawHttpClient(Number(new URL(h.url).port));
  });
  beforeEach(async () => {
    const epoch = (h.gw.getState().shop?.epoch ?? 0) + 1;
    await h.gw.applyState('shop', { epoch, mode: 'serve' });
  });
  afterEach(() => raw.destroyAll());
  after(async () => {
    raw?.destroyAll();
    await h?.close();
  });

  const seen = (): EchoUpstream['seen'] => [...h.n1, ...h.n2].flatMap((u) => u.seen);
  const lastSeen = (path: string): EchoUpstream['seen'][number] | undefined =>
    seen()
      .filter((s) => s.path === path)
      .at(-1);

  describe('Expect: 100-continue', () => {
    it('answers 100 Continue, then forwards the body without the Expect header (was: 502, undici refuses the header)', async () => {
      const conn = await raw.open();
      conn.write('POST /kv/expect HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
      await receivedResponses(conn, 1, 'the 100 Continue');
      assert.equal(conn.received()[0]!.status, 100);
      conn.write('hello');
      const r = await conn.closed;
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [100, 200],
        r.raw,
      );
      assert.equal(h.n1[0]!.store.get('expect'), 'hello');
      assert.equal(lastSeen('/kv/expect')?.headers.expect, undefined);
    });

    it('streams a large body announced with 100-continue (the curl case: bodies over 1 MB)', async () => {
      const size = MAX_BODY_BYTES - 1;
      const conn = await raw.open();
      conn.write(`PUT /upload HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
      await receivedResponses(conn, 1, 'the 100 Continue');
      conn.write(Buffer.alloc(size, 'x'));
      const r = await conn.closed;
      assert.equal(r.responses.at(-1)?.status, 200, r.raw);
      assert.equal((JSON.parse(r.responses.at(-1)!.body) as { bytes: number }).bytes, size);
    });

    it('works for a mirrored write: both deployments get the body', async () => {
      await h.gw.applyState('shop', { epoch: h.gw.getState().shop!.epoch + 1, mode: 'mirror' });
      const conn = await raw.open();
      conn.write('PUT /kv/mirrored HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n');
      await receivedResponses(conn, 1, 'the 100 Continue');
      conn.write('both');
      const r = await conn.closed;
      assert.equal(r.responses.at(-1)?.status, 200, r.raw);
      assert.equal(h.n1[0]!.store.get('mirrored'), 'both');
      assert.equal(h.n2[0]!.store.get('mirrored'), 'both');
    });

    /** Sends only the head of an Expect: 100-continue request; the gateway must answer and close without asking for the body. */
    async function refusedWithoutBody(head: string): Promise<RawResult> {
      const before = seen().length;
      const conn = await raw.open();
      conn.write(head);
      const r = await conn.closed;
      assert.ok(!r.raw.includes(' 100 Continue'), `the gateway asked for a body it then refused: ${r.raw}`);
      assert.equal(r.responses.length, 1, r.raw);
      assert.equal(seen().length, before, 'the refused request reached the app');
      return r;
    }
    const expectHead = (length: number, host = 'shop.test'): string =>
      `POST /kv/refused HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`;

    it('refuses a body too large by Content-Length with 413 before any 100 Continue', async () => {
      const r = await refusedWithoutBody(expectHead(MAX_BODY_BYTES + 1));
      assert.equal(r.responses[0]!.status, 413);
      assert.equal(errorCode(r.responses[0]!.body), 'NW_GW_BODY_TOO_LARGE');
    });

    it('refuses a write when the fence hold is full with 503 before any 100 Continue', async () => {
      await h.gw.applyState('shop', { epoch: h.gw.getState().shop!.epoch + 1, mode: 'fence', maxHeldWrites: 0 });
      const r = await refusedWithoutBody(expectHead(5));
      assert.equal(r.responses[0]!.status, 503);
      assert.equal(errorCode(r.responses[0]!.body), 'NW_GW_WRITE_HOLD_FULL');
    });

    it('refuses an unknown host with 421 before any 100 Continue', async () => {
      const r = await refusedWithoutBody(expectHead(5, 'nowhere.test'));
      assert.equal(r.responses[0]!.status, 421);
    });

    it('refuses a write the lease guard refuses with 503 before any 100 Continue', async () => {
      const upstream = await startEchoUpstream('n1');
      const config = parseGatewayConfig(
        {
          listeners: [{ host: '127.0.0.1', port: 0 }],
          log: { level: 'silent' },
          apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: upstream.url }] }, n2: { servers: [{ url: upstream.url }] } } },
        },
        'lease test',
      );
      const gw = await Gateway.start({
        config,
        logger: createLogger('silent'),
        writeGuard: () => new GatewayError('NW_GW_LEASE_EXPIRED', undefined, { retryAfterSeconds: 1 }),
      });
      const leaseRaw = new RawHttpClient(gw.listeners[0]!.port);
      try {
        const conn = await leaseRaw.open();
        conn.write(expectHead(5));
        const r = await conn.closed;
        assert.ok(!r.raw.includes(' 100 Continue'), r.raw);
        assert.deepEqual(
          r.responses.map((x) => x.status),
          [503],
          r.raw,
        );
        assert.equal(errorCode(r.responses[0]!.body), 'NW_GW_LEASE_EXPIRED');
        assert.equal(upstream.seen.length, 0);
      } finally {
        leaseRaw.destroyAll();
        await gw.close();
        await upstream.close();
      }
    });
  });

  describe('Host', () => {
    const invalid = [
      'shop.test:1@evil.com',
      'shop.test@evil.com',
      'evil.com#.shop.test',
      'shop.test/evil',
      'shop.test:abc',
      'shop.test:',
      'shop.test:99999',
      'shop.test:1:2',
      'shop.test\\evil',
      '[::1',
      '[not-an-ip]:80',
      '[::1]evil',
    ];
    for (const host of invalid) {
      it(`answers Host: ${host} with 400 NW_GW_INVALID_HOST and forwards nothing`, async () => {
        const before = seen().length;
        const r = await raw.exchange(`GET /host HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.equal(r.responses.length, 1, r.raw);
        assert.equal(r.responses[0]!.status, 400, r.raw);
        assert.equal(errorCode(r.responses[0]!.body), 'NW_GW_INVALID_HOST');
        assert.equal(seen().length, before);
      });
    }

    it('serves valid host[:port] spellings of the app host, passing Host on as sent', async () => {
      for (const host of ['shop.test', 'SHOP.Test', 'shop.test:8080', 'shop.test:65535']) {
        const r = await raw.exchange(`GET /host-ok HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.equal(r.responses[0]?.status, 200, `${host}: ${r.raw}`);
        assert.equal(lastSeen('/host-ok')?.headers.host, host);
      }
    });

    it('isValidHost follows RFC 3986 host[:port]', () => {
      for (const ok of [
        'a',
        'shop.test',
        '127.0.0.1',
        '127.0.0.1:80',
        '[::1]',
        '[::1]:8080',
        '[2001:db8::7]',
        'a%2Db.test',
        "a!$&'()*+,;=b",
      ])
        assert.equal(isValidHost(ok), true, ok);
      for (const bad of [
        '',
        ':80',
        'a:',
        'a:1:2',
        'a@b',
        'a b',
        '[::1]:',
        '[::1]x',
        '[fe80::1%25eth0]',
        '[1.2.3]',
        'a:123456',
        'a/b',
        'a?b',
      ])
        assert.equal(isValidHost(bad), false, bad);
    });
  });

  // RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host. Routing by Host would
  // let the gateway pick one app while the app (or any compliant hop) reads another from the target.
  describe('absolute-form request targets', () => {
    it('routes by the authority, not by Host: an unknown authority is 421 even with a known Host', async () => {
      const before = seen().length;
      const r = await raw.exchange('GET http://nowhere.test/abs HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      assert.equal(r.responses[0]?.status, 421, r.raw);
      assert.equal(seen().length, before);
    });

    it('serves a known authority whatever Host says, and sends the authority upstream as Host', async () => {
      const r = await raw.exchange('GET http://shop.test:80/abs?q=1 HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n');
      assert.equal(r.responses[0]?.status, 200, r.raw);
      const s = lastSeen('/abs?q=1');
      assert.ok(s, 'the upstream got the request in origin-form');
      assert.equal(s.headers.host, 'shop.test:80');
      assert.equal(s.headers['x-forwarded-host'], 'shop.test:80');
    });

    const refused: Record<string, [string, number, string]> = {
      'userinfo in the authority': ['http://nowhere.test@shop.test/x', 400, 'NW_GW_INVALID_HOST'],
      'an invalid authority': ['http://shop.test:1:2/x', 400, 'NW_GW_INVALID_HOST'],
      'a scheme other than http(s)': ['ftp://shop.test/x', 400, 'NW_GW_BAD_REQUEST'],
    };
    for (const [name, [target, status, code]] of Object.entries(refused)) {
      it(`refuses ${name}`, async () => {
        const before = seen().length;
        const r = await raw.exchange(`GET ${target} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
        assert.equal(r.responses[0]?.status, status, r.raw);
        assert.equal(errorCode(r.responses[0]!.body), code);
        assert.equal(seen().length, before);
      });
    }
  });

  describe('client-address headers from an untrusted peer', () => {
    const forged = [
      'X_Forwarded_For: 6.6.6.6',
      'X-Forwarded_For: 6.6.6.6',
      'X-Real_IP: 6.6.6.6',
      'X_Forwarded_Host: evil.test',
      'X_Forwarded_Proto: https',
      'True-Client-IP: 6.6.6.6',
      'True_Client_IP: 6.6.6.6',
      'X-Client-IP: 6.6.6.6',
      'CF-Connecting-IP: 6.6.6.6',
      'Fastly-Client-IP: 6.6.6.6',
      'X-Cluster-Client-IP: 6.6.6.6',
      'X-Original-Forwarded-For: 6.6.6.6',
      'Client-IP: 6.6.6.6',
    ];

    it('never reach the app, in any spelling', async () => {
      const r = await raw.exchange(
        `GET /ip HTTP/1.1\r\nHost: shop.test\r\n${forged.join('\r\n')}\r\nX-Keep_Me: yes\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(r.responses[0]?.status, 200, r.raw);
      const headers = lastSeen('/ip')!.headers;
      const leaked = Object.entries(headers).filter(([, v]) => String(v).includes('6.6.6.6') || String(v).includes('evil.test'));
      assert.deepEqual(leaked, []);
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(headers['x-forwarded-proto'], 'http');
      assert.equal(headers['x-keep_me'], 'yes', 'an underscore header that spells nothing spoofable is passed on');
    });

    const ctx: ForwardContext = { peerIp: '10.0.0.9', trustedPeer: false, proto: 'http', requestId: 'id' };
    const incoming: IncomingHttpHeaders = {
      host: 'shop.test',
      x_forwarded_for: '6.6.6.6',
      'x-real_ip': '6.6.6.6',
      'true-client-ip': '7.7.7.7',
      'cf-connecting-ip': '7.7.7.7',
    };

    it('a trusted proxy keeps the canonical client-IP headers it set; underscore spellings are dropped even from it', () => {
      const out = buildUpstreamHeaders(incoming, { ...ctx, trustedPeer: true });
      assert.equal(out['true-client-ip'], '7.7.7.7');
      assert.equal(out['cf-connecting-ip'], '7.7.7.7');
      assert.equal(out.x_forwarded_for, undefined);
      assert.equal(out['x-real_ip'], undefined);
      const untrusted = buildUpstreamHeaders(incoming, ctx);
      for (const name of Object.keys(incoming).filter((n) => n !== 'host')) assert.equal(untrusted[name], undefined, name);
    });
  });

  describe('Connection naming essential headers', () => {
    it('Connection: host does not take Host away from the app', async () => {
      const r = await raw.exchange('GET /conn-host HTTP/1.1\r\nHost: shop.test\r\nConnection: close, host\r\n\r\n');
      assert.equal(r.responses[0]?.status, 200, r.raw);
      assert.equal(lastSeen('/conn-host')?.headers.host, 'shop.test');
    });

    it("the gateway's own forwarding headers survive a Connection that names them", () => {
      const trusted: ForwardContext = { peerIp: '10.0.0.9', trustedPeer: true, proto: 'http', requestId: 'id' };
      const out = buildUpstreamHeaders(
        {
          host: 'shop.test',
          connection: 'x-forwarded-proto, x-forwarded-host, x-forwarded-for, via, x-request-id',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'front.test',
          'x-forwarded-for': '1.2.3.4',
          via: '1.0 cdn',
        },
        trusted,
      );
      assert.equal(out['x-forwarded-proto'], 'http');
      assert.equal(out['x-forwarded-host'], 'shop.test');
      assert.equal(out['x-forwarded-for'], '10.0.0.9');
      assert.equal(out.via, '1.1 northwest');
      assert.equal(out['x-request-id'], 'id');
    });
  });

  describe('redirect with a body still to come', () => {
    beforeEach(async () => {
      await h.gw.applyState('shop', { epoch: h.gw.getState().shop!.epoch + 1, mode: 'redirect', status: 301 });
    });

    it('a malformed chunked body in the same packet gets no 400 behind the 301', async () => {
      const r = await raw.exchange(
        'POST /r HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot-a-chunk\r\n0\r\n\r\n',
      );
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [301],
        r.raw,
      );
    });

    it('closes the connection after the 301, so a malformed chunk that comes later is never answered', async () => {
      const conn = await raw.open();
      conn.write('POST /r HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      await receivedResponses(conn, 1, 'the 301');
      assert.equal(conn.received()[0]!.status, 301);
      assert.equal(conn.received()[0]!.headers.connection, 'close');
      conn.write('zz\r\nnot-a-chunk\r\n0\r\n\r\n');
      const r = await conn.closed;
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [301],
        r.raw,
      );
    });

    it('keeps the connection of a bodiless request open after the redirect', async () => {
      const conn = await raw.open();
      conn.write('GET /r HTTP/1.1\r\nHost: shop.test\r\n\r\n');
      await receivedResponses(conn, 1, 'the 301');
      assert.equal(conn.received()[0]!.headers.connection, 'keep-alive');
      conn.write('GET /r2 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      const r = await conn.closed;
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [301, 301],
      );
    });
  });
});
