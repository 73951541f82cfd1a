import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  acceptableRequestId,
  buildClientHeaders,
  buildUpstreamHeaders,
  clientHeaderList,
  pathAndQuery,
  VIA_TOKEN,
  type ForwardContext,
} from '../../gateway/proxy/forward-headers.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient, type RawResponse } from '../support/raw-http-client.js';

const UNTRUSTED: ForwardContext = { peerIp: '10.0.0.9', trustedPeer: false, proto: 'http', requestId: 'gw-id-1' };
const TRUSTED: ForwardContext = { ...UNTRUSTED, trustedPeer: true };

/** What a client could send to smuggle hop-by-hop state or forge forwarding/our own headers. */
const HOSTILE_REQUEST_HEADERS: IncomingHttpHeaders = {
  host: 'shop.test',
  connection: 'keep-alive, X-Hop-Secret',
  'keep-alive': 'timeout=5',
  'proxy-connection': 'keep-alive',
  'proxy-authorization': 'Basic c2VjcmV0',
  te: 'trailers',
  trailer: 'x-checksum',
  'transfer-encoding': 'chunked',
  upgrade: 'h2c',
  'x-hop-secret': 'should-not-pass',
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.test',
  'x-forwarded-port': '8443',
  forwarded: 'for=6.6.6.6;proto=https',
  'x-real-ip': '6.6.6.6',
  'x-northwest-deployment': 'n2',
  'x-northwest-epoch': '99',
  via: '1.0 cdn',
  'x-request-id': 'client-id-7',
  accept: 'application/json',
  authorization: 'Bearer app-token',
  cookie: 'a=1',
  'content-length': '3',
};

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-hop-secret',
];

describe('forward-headers', () => {
  describe('buildUpstreamHeaders', () => {
    it('drops hop-by-hop headers, headers named in Connection and x-northwest-* headers', () => {
      for (const ctx of [UNTRUSTED, TRUSTED]) {
        const out = buildUpstreamHeaders(HOSTILE_REQUEST_HEADERS, ctx);
        for (const name of HOP_BY_HOP) assert.equal(out[name], undefined, `${name} (trusted=${ctx.trustedPeer})`);
        assert.deepEqual(
          Object.keys(out).filter((k) => k.startsWith('x-northwest-')),
          [],
        );
      }
    });

    it('keeps end-to-end headers untouched', () => {
      const out = buildUpstreamHeaders(HOSTILE_REQUEST_HEADERS, UNTRUSTED);
      assert.equal(out.host, 'shop.test');
      assert.equal(out.accept, 'application/json');
      assert.equal(out.authorization, 'Bearer app-token');
      assert.equal(out.cookie, 'a=1');
      assert.equal(out['content-length'], '3');
    });

    it('replaces forwarding headers from an untrusted peer with its own view', () => {
      const out = buildUpstreamHeaders(HOSTILE_REQUEST_HEADERS, UNTRUSTED);
      assert.equal(out['x-forwarded-for'], '10.0.0.9');
      assert.equal(out['x-forwarded-proto'], 'http');
      assert.equal(out['x-forwarded-host'], 'shop.test');
      assert.equal(out['x-forwarded-port'], undefined);
      assert.equal(out.forwarded, undefined);
      assert.equal(out['x-real-ip'], undefined);
    });

    it('appends to a trusted peer forwarding chain and keeps its other forwarding headers', () => {
      const out = buildUpstreamHeaders(HOSTILE_REQUEST_HEADERS, TRUSTED);
      assert.equal(out['x-forwarded-for'], '6.6.6.6, 10.0.0.9');
      assert.equal(out['x-forwarded-proto'], 'https');
      assert.equal(out['x-forwarded-host'], 'evil.test');
      assert.equal(out['x-forwarded-port'], '8443');
      assert.equal(out.forwarded, 'for=6.6.6.6;proto=https');
      assert.equal(out['x-real-ip'], '6.6.6.6');
    });

    it('fills in forwarding headers a trusted peer did not send', () => {
      const out = buildUpstreamHeaders({ host: 'shop.test' }, TRUSTED);
      assert.equal(out['x-forwarded-for'], '10.0.0.9');
      assert.equal(out['x-forwarded-proto'], 'http');
      assert.equal(out['x-forwarded-host'], 'shop.test');
    });

    it('appends Via and sets x-request-id to the gateway request id', () => {
      const out = buildUpstreamHeaders(HOSTILE_REQUEST_HEADERS, UNTRUSTED);
      assert.equal(out.via, `1.0 cdn, ${VIA_TOKEN}`);
      assert.equal(out['x-request-id'], 'gw-id-1');
      assert.equal(buildUpstreamHeaders({ host: 'shop.test' }, UNTRUSTED).via, VIA_TOKEN);
    });

    it('reads Connection tokens case-insensitively and with odd spacing', () => {
      // node joins repeated Connection lines with ", " before we see them.
      const out = buildUpstreamHeaders(
        { host: 'shop.test', connection: ' X-One ,x-TWO,, x-three ', 'x-one': '1', 'x-two': '2', 'x-three': '3', 'x-four': '4' },
        UNTRUSTED,
      );
      assert.equal(out['x-one'], undefined);
      assert.equal(out['x-two'], undefined);
      assert.equal(out['x-three'], undefined);
      assert.equal(out['x-four'], '4');
    });

    it('keeps Upgrade and sets Connection: upgrade only for a WebSocket handshake', () => {
      const incoming: IncomingHttpHeaders = { host: 'shop.test', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' };
      const ws = buildUpstreamHeaders(incoming, { ...UNTRUSTED, upgrade: true });
      assert.equal(ws.connection, 'upgrade');
      assert.equal(ws.upgrade, 'websocket');
      assert.equal(ws['sec-websocket-key'], 'k');
      const plain = buildUpstreamHeaders(incoming, UNTRUSTED);
      assert.equal(plain.connection, undefined);
      assert.equal(plain.upgrade, undefined);
    });

    it('does not modify the incoming headers', () => {
      const incoming = structuredClone(HOSTILE_REQUEST_HEADERS);
      buildUpstreamHeaders(incoming, TRUSTED);
      assert.deepEqual(incoming, HOSTILE_REQUEST_HEADERS);
    });
  });

  describe('buildClientHeaders', () => {
    it('drops hop-by-hop, Connection-named and x-northwest-* headers, lower-cases names and appends Via', () => {
      const out = buildClientHeaders({
        'Content-Type': 'text/plain',
        Connection: 'close, X-Upstream-Hop',
        'Keep-Alive': 'timeout=99',
        'X-Upstream-Hop': 'secret',
        'Proxy-Authenticate': 'Basic',
        'Transfer-Encoding': 'chunked',
        Trailer: 'x-checksum',
        Upgrade: 'h2c',
        'X-Northwest-Deployment': 'forged',
        'x-northwest-epoch': '999',
        Via: '1.1 app',
        'Set-Cookie': ['a=1', 'b=2'],
        'X-Gone': undefined,
      });
      assert.deepEqual(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], via: `1.1 app, ${VIA_TOKEN}` });
    });

    it('adds Via when the upstream sent none', () => {
      assert.deepEqual(buildClientHeaders({ 'content-length': '0' }), { 'content-length': '0', via: VIA_TOKEN });
    });
  });

  describe('clientHeaderList (raw undici reply headers → writeHead list)', () => {
    const raw = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p, 'latin1'));

    it('filters like buildClientHeaders, keeps repeated lines, folds Via and adds ours last', () => {
      const out = clientHeaderList(
        raw(
          'Content-Type',
          'text/plain',
          'Connection',
          'close, X-Upstream-Hop',
          'Keep-Alive',
          'timeout=99',
          'X-Upstream-Hop',
          'secret',
          'Proxy-Authenticate',
          'Basic',
          'Transfer-Encoding',
          'chunked',
          'Trailer',
          'x-checksum',
          'Upgrade',
          'h2c',
          'X-Northwest-Deployment',
          'forged',
          'x-northwest-epoch',
          '999',
          'Via',
          '1.1 app',
          'Set-Cookie',
          'a=1',
          'Via',
          '1.0 cache',
          'Set-Cookie',
          'b=2',
          'X-Request-Id',
          'upstream-id',
        ),
        { 'x-request-id': 'gw-id', 'x-northwest-deployment': 'n1' },
      );
      assert.deepEqual(out, [
        'content-type',
        'text/plain',
        'set-cookie',
        'a=1',
        'set-cookie',
        'b=2',
        'via',
        `1.1 app, 1.0 cache, ${VIA_TOKEN}`,
        'x-request-id',
        'gw-id',
        'x-northwest-deployment',
        'n1',
      ]);
    });

    it('drops a Via the upstream named in Connection, adds ours, and passes values byte for byte', () => {
      const out = clientHeaderList(raw('Via', '1.1 app', 'Connection', 'via', 'X-Name', 'caf\u00e9'), {});
      assert.deepEqual(out, ['x-name', 'caf\u00e9', 'via', VIA_TOKEN]);
    });
  });

  describe('pathAndQuery', () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, '/'],
      ['', '/'],
      ['/', '/'],
      ['/a/b?c=1&d=%20', '/a/b?c=1&d=%20'],
      ['http://shop.test/p?q=1', '/p?q=1'],
      ['http://shop.test', '/'],
      ['https://other.test:8443/x/y', '/x/y'],
      ['http://[::1', '/'],
    ];
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(pathAndQuery(input), expected));
    }
  });

  describe('acceptableRequestId', () => {
    it('accepts well-formed ids up to 128 characters', () => {
      for (const id of ['abc', 'A-1_b.c:d', '0f8fad5b-d9cb-469f-a165-70867728950e', 'x'.repeat(128)])
        assert.equal(acceptableRequestId(id), id);
    });
    it('refuses empty, long, odd-character, repeated and missing ids', () => {
      for (const id of ['', 'x'.repeat(129), 'a b', 'a\nb', 'a,b', '<script>', 'ü', ['a', 'b'], undefined]) {
        assert.equal(acceptableRequestId(id as string | string[] | undefined), undefined, JSON.stringify(id));
      }
    });
  });
});

/** An upstream that records request headers and answers with hop-by-hop and forged x-northwest-* headers. */
interface ForgingUpstream {
  readonly url: string;
  readonly seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function startForgingUpstream(): Promise<ForgingUpstream> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ ...req.headers });
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ ok: true });
      // No Content-Length: a chunked reply, so Transfer-Encoding and Trailer come from the upstream too.
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, X-Upstream-Hop',
        'keep-alive': 'timeout=99',
        'x-upstream-hop': 'secret',
        'proxy-authenticate': 'Basic realm="app"',
        trailer: 'x-checksum',
        'x-northwest-deployment': 'forged',
        'x-northwest-epoch': '999',
        'x-northwest-forged': 'yes',
        via: '1.1 app',
        'x-app': 'visible',
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Raw, because well-behaved clients (undici) refuse to send most of these. */
const HOSTILE_REQUEST = [
  'GET /fwd?x=1 HTTP/1.1',
  'Host: shop.test',
  'Connection: close, X-Hop-Secret',
  'Keep-Alive: timeout=5',
  'TE: trailers',
  'Upgrade: h2c',
  'Proxy-Authorization: Basic c2VjcmV0',
  'Proxy-Connection: keep-alive',
  'X-Hop-Secret: should-not-pass',
  'X-Forwarded-For: 6.6.6.6',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Host: evil.test',
  'X-Forwarded-Port: 8443',
  'Forwarded: for=6.6.6.6;proto=https',
  'X-Real-IP: 6.6.6.6',
  'X-Northwest-Deployment: n2',
  'X-Northwest-Epoch: 99',
  'Via: 1.0 cdn',
  'X-Request-Id: client-id-7',
  'X-Custom: kept',
  '',
  '',
].join('\r\n');

for (const engine of ['undici', 'http-proxy'] as const) {
  for (const trusted of [false, true]) {
    describe(`forwarded headers through the gateway (engine ${engine}, ${trusted ? 'trusted' : 'untrusted'} peer)`, () => {
      let upstream: ForgingUpstream;
      let h: Harness;
      let raw: RawHttpClient;
      let upstreamSaw: IncomingHttpHeaders;
      let res: RawResponse;

      before(async () => {
        upstream = await startForgingUpstream();
        h = await startGatewayHarness({
          n1Urls: [upstream.url],
          n2Urls: [upstream.url],
          config: { engine, trustedProxies: trusted ? ['127.0.0.1'] : [] },
        });
        raw = new RawHttpClient(Number(new URL(h.url).port));
        const r = await raw.exchange(HOSTILE_REQUEST);
        assert.equal(r.responses.length, 1, r.raw);
        res = r.responses[0]!;
        assert.equal(res.status, 200, r.raw);
        assert.equal(upstream.seen.length, 1);
        upstreamSaw = upstream.seen[0]!;
      });
      after(async () => {
        raw?.destroyAll();
        await h?.close();
        await upstream?.close();
      });

      it('strips hop-by-hop headers and headers named in Connection before the upstream', () => {
        for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-hop-secret'])
          assert.equal(upstreamSaw[name], undefined, name);
        // The gateway's own client may say keep-alive on its pooled connection; the client's Connection must not pass.
        assert.ok(upstreamSaw.connection === undefined || upstreamSaw.connection === 'keep-alive', `connection: ${upstreamSaw.connection}`);
        assert.equal(upstreamSaw['x-custom'], 'kept');
      });

      it('never forwards x-northwest-* headers from a client', () => {
        assert.deepEqual(
          Object.keys(upstreamSaw).filter((k) => k.startsWith('x-northwest-')),
          [],
        );
      });

      if (trusted) {
        it('appends to / keeps the trusted peer forwarding headers', () => {
          assert.equal(upstreamSaw['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
          assert.equal(upstreamSaw['x-forwarded-proto'], 'https');
          assert.equal(upstreamSaw['x-forwarded-host'], 'evil.test');
          assert.equal(upstreamSaw['x-forwarded-port'], '8443');
          assert.equal(upstreamSaw.forwarded, 'for=6.6.6.6;proto=https');
          assert.equal(upstreamSaw['x-real-ip'], '6.6.6.6');
        });

        it('propagates the trusted client x-request-id upstream and back', () => {
          assert.equal(upstreamSaw['x-request-id'], 'client-id-7');
          assert.equal(res.headers['x-request-id'], 'client-id-7');
        });
      } else {
        it('replaces or strips the untrusted client forwarding headers', () => {
          assert.equal(upstreamSaw['x-forwarded-for'], '127.0.0.1');
          assert.equal(upstreamSaw['x-forwarded-proto'], 'http');
          assert.equal(upstreamSaw['x-forwarded-host'], 'shop.test');
          for (const name of ['x-forwarded-port', 'forwarded', 'x-real-ip']) assert.equal(upstreamSaw[name], undefined, name);
        });

        it('sends its own x-request-id upstream and returns the same one to the client', () => {
          const id = upstreamSaw['x-request-id'];
          assert.ok(typeof id === 'string' && acceptableRequestId(id) === id, String(id));
          assert.notEqual(id, 'client-id-7');
          assert.equal(res.headers['x-request-id'], id);
        });
      }

      it('adds Via in both directions', () => {
        assert.equal(upstreamSaw.via, `1.0 cdn, ${VIA_TOKEN}`);
        assert.equal(res.headers.via, `1.1 app, ${VIA_TOKEN}`);
      });

      it('strips upstream hop-by-hop headers and forged x-northwest-* headers before the client', () => {
        for (const name of ['keep-alive', 'x-upstream-hop', 'proxy-authenticate', 'trailer', 'x-northwest-forged'])
          assert.equal(res.headers[name], undefined, name);
        assert.deepEqual(JSON.parse(res.body), { ok: true });
        assert.equal(res.headers['x-northwest-deployment'], 'n1');
        assert.equal(res.headers['x-northwest-epoch'], '0');
        assert.equal(res.headers['x-app'], 'visible');
      });

      it("honours the client's Connection: close", () => {
        assert.equal(res.headers.connection, 'close');
      });
    });
  }
}
