import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient, type RawResult } from '../support/raw-http-client.js';

const MAX_HEADER_BYTES = 4096;
const MAX_BODY_BYTES = 64 * 1024;
const CLIENT_HEADERS_MS = 500;

/** A complete request hidden in a body: if any parser frames it as a request, the upstream logs this path. */
const SMUGGLED_PATH = '/smuggled';
const SMUGGLED = `GET ${SMUGGLED_PATH} HTTP/1.1\r\nHost: shop.test\r\n\r\n`;
const hex = (n: number): string => n.toString(16);

/**
 * Request-smuggling shapes. Each is a valid-looking request whose body
 * framing two parsers could disagree on; the body carries SMUGGLED.
 */
const SMUGGLING_CASES: Record<string, string> = {
  'CL.TE (Content-Length covers the smuggled request, chunked body ends before it)': [
    'POST /cl-te HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding: chunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'TE.CL (chunked body carries the smuggled request, Content-Length stops before it)': [
    'POST /te-cl HTTP/1.1',
    'Host: shop.test',
    'Transfer-Encoding: chunked',
    'Content-Length: 4',
    '',
    hex(SMUGGLED.length),
    SMUGGLED,
    '0',
    '',
    '',
  ].join('\r\n'),
  'two differing Content-Length headers': [
    'POST /dup-cl HTTP/1.1',
    'Host: shop.test',
    'Content-Length: 0',
    `Content-Length: ${SMUGGLED.length}`,
    '',
    SMUGGLED,
  ].join('\r\n'),
  'a Content-Length list with differing values': [
    'POST /cl-list HTTP/1.1',
    'Host: shop.test',
    `Content-Length: 0, ${SMUGGLED.length}`,
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding: xchunked with Content-Length': [
    'POST /xchunked HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${SMUGGLED.length}`,
    'Transfer-Encoding: xchunked',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding: xchunked alone (body would otherwise be read as the next request)': [
    'POST /xchunked HTTP/1.1',
    'Host: shop.test',
    'Transfer-Encoding: xchunked',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding with extra leading spaces plus Content-Length': [
    'POST /sp HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding:   chunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding with a tab before the value plus Content-Length': [
    'POST /tab HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding:\tchunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding with a space before the colon': [
    'POST /sp-colon HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding : chunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding folded onto the previous header line (obs-fold)': [
    'POST /fold HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'X-Pad: a',
    ' Transfer-Encoding: chunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'upper-case CHUNKED plus Content-Length': [
    'POST /upper HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding: CHUNKED',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'two Transfer-Encoding headers (chunked, then a bogus one)': [
    'POST /dup-te HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: x',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'Transfer-Encoding: chunked, identity (chunked not last)': [
    'POST /not-last HTTP/1.1',
    'Host: shop.test',
    'Transfer-Encoding: chunked, identity',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'a chunk size that overflows 64 bits (the smuggled request after it)': [
    'POST /chunk-overflow HTTP/1.1',
    'Host: shop.test',
    'Transfer-Encoding: chunked',
    '',
    '1ffffffffffffffff1',
    'x',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'a chunk extension with a control character': [
    'POST /chunk-ext HTTP/1.1',
    'Host: shop.test',
    'Transfer-Encoding: chunked',
    '',
    '5;a=\x01b',
    'hello',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
  'a bare CR hiding a Transfer-Encoding header inside another value': [
    'POST /bare-cr HTTP/1.1',
    'Host: shop.test',
    `Content-Length: ${5 + SMUGGLED.length}`,
    'X-Pad: a\rTransfer-Encoding: chunked',
    '',
    '0',
    '',
    SMUGGLED,
  ].join('\r\n'),
};

const MALFORMED_CASES: Record<string, string> = {
  'a request line that is not HTTP': 'GARBAGE\r\n\r\n',
  'an unknown HTTP version': 'GET /v HTTP/9.9\r\nHost: shop.test\r\n\r\n',
  'a header name with a space': 'GET /tok HTTP/1.1\r\nHost: shop.test\r\nBad Header: x\r\n\r\n',
  'a header name with separators': 'GET /tok HTTP/1.1\r\nHost: shop.test\r\n(bad): x\r\n\r\n',
  'a header line without a colon': 'GET /tok HTTP/1.1\r\nHost: shop.test\r\nNoColonHere\r\n\r\n',
  'a NUL byte in a header value': 'GET /tok HTTP/1.1\r\nHost: shop.test\r\nX-Nul: a\x00b\r\n\r\n',
  'bare LF line endings': 'GET /lf HTTP/1.1\nHost: shop.test\n\n',
};

describe('gateway: bad client input', () => {
  let h: Harness;
  let raw: RawHttpClient;

  before(async () => {
    h = await startGatewayHarness({
      config: {
        limits: { maxHeaderBytes: MAX_HEADER_BYTES, maxBodyBytes: MAX_BODY_BYTES },
        timeouts: { clientHeadersMs: CLIENT_HEADERS_MS },
      },
    });
    raw = new RawHttpClient(Number(new URL(h.url).port));
  });
  afterEach(() => raw.destroyAll());
  after(async () => {
    raw?.destroyAll();
    await h?.close();
  });

  const upstreamSeen = (): Array<{ method: string; path: string }> => [...h.n1, ...h.n2].flatMap((u) => u.seen);
  const seenCount = (): number => upstreamSeen().length;

  /** The gateway answered exactly one response with `status` and closed, or closed without answering. */
  function assertRefused(r: RawResult, status: number, code?: string): void {
    assert.ok(r.responses.length <= 1, `expected at most one response, got ${r.responses.length}: ${r.raw}`);
    const res = r.responses[0];
    if (!res) {
      assert.ok(!/^HTTP\/1\.[01] [123]/.test(r.raw), `no complete response, yet a non-error status line came back: ${r.raw}`);
      return;
    }
    assert.equal(res.status, status, r.raw);
    assert.equal(res.headers.connection, 'close');
    if (code) {
      assert.equal(res.headers['x-northwest-error'], code);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, code);
    }
  }

  /** A normal request on a fresh connection is served and is the only thing the upstream sees. */
  async function assertServesNormally(tag: string): Promise<void> {
    const before = seenCount();
    const path = `/after/${encodeURIComponent(tag)}`;
    const res = await call(h.url, path);
    assert.equal(res.status, 200, res.text);
    assert.equal((JSON.parse(res.text) as { path: string }).path, path);
    assert.deepEqual(
      upstreamSeen()
        .slice(before)
        .map((s) => `${s.method} ${s.path}`),
      [`GET ${path}`],
    );
  }

  describe('request smuggling', () => {
    beforeEach(async () => {
      // Leaves a pooled keep-alive connection to the upstream that a smuggled prefix could poison.
      assert.equal((await call(h.url, '/prime')).status, 200);
    });

    for (const [name, payload] of Object.entries(SMUGGLING_CASES)) {
      it(`refuses ${name}; nothing reaches the upstream`, async () => {
        const before = seenCount();
        const r = await raw.exchange(payload);
        assertRefused(r, 400, 'NW_GW_BAD_REQUEST');
        assert.deepEqual(upstreamSeen().slice(before), [], 'the upstream saw a request from the refused connection');
        assert.ok(!upstreamSeen().some((s) => s.path === SMUGGLED_PATH), 'the upstream saw the smuggled request');
        await assertServesNormally(name);
      });
    }
  });

  it('never forwards a request pipelined after Connection: close', async () => {
    const r = await raw.exchange(`GET /last HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n${SMUGGLED}`);
    // llhttp (strict, both engines) refuses data after Connection: close: the packet gets one 400.
    assert.ok(r.responses.length <= 1, r.raw);
    assert.ok(!upstreamSeen().some((s) => s.path === SMUGGLED_PATH), 'the upstream saw the request sent after Connection: close');
  });

  it('never forwards a request pipelined after the body of a Connection: close request', async () => {
    // The raw engine counts a Content-Length body itself, llhttp does not see it: whatever follows the
    // body of a Connection: close request must still never reach an app.
    const r = await raw.exchange(
      `POST /last HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`,
    );
    assert.ok(r.responses.length <= 1, r.raw);
    assert.ok(!upstreamSeen().some((s) => s.path === SMUGGLED_PATH), 'the upstream saw the request sent after Connection: close');
  });

  describe('malformed requests', () => {
    for (const [name, payload] of Object.entries(MALFORMED_CASES)) {
      it(`answers ${name} with 400 and forwards nothing`, async () => {
        const before = seenCount();
        const r = await raw.exchange(payload);
        assertRefused(r, 400, 'NW_GW_BAD_REQUEST');
        assert.deepEqual(upstreamSeen().slice(before), []);
        await assertServesNormally(name);
      });
    }

    it('refuses an h2c upgrade (h2c smuggling) without tunnelling it to the upstream', async () => {
      const before = seenCount();
      const r = await raw.exchange(
        'GET /h2c HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
          'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
      );
      assert.ok(!r.raw.startsWith('HTTP/1.1 101'), `the gateway switched protocols: ${r.raw}`);
      assert.equal(r.responses[0]?.status, 400, r.raw);
      assert.deepEqual(upstreamSeen().slice(before), []);
      await assertServesNormally('h2c');
    });
  });

  describe('Host', () => {
    it('answers an unknown Host with 421 NW_GW_UNKNOWN_HOST', async () => {
      const before = seenCount();
      const r = await raw.exchange('GET /x HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n');
      assert.equal(r.responses.length, 1, r.raw);
      const res = r.responses[0]!;
      assert.equal(res.status, 421);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'NW_GW_UNKNOWN_HOST');
      assert.deepEqual(upstreamSeen().slice(before), []);
    });

    const missing: Record<string, string> = {
      'HTTP/1.0 without Host': 'GET /no-host HTTP/1.0\r\n\r\n',
      'HTTP/1.1 without Host': 'GET /no-host HTTP/1.1\r\nConnection: close\r\n\r\n',
      'HTTP/1.1 with an empty Host': 'GET /no-host HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n',
    };
    for (const [name, payload] of Object.entries(missing)) {
      it(`answers ${name} with 400 NW_GW_MISSING_HOST`, async () => {
        const before = seenCount();
        const r = await raw.exchange(payload);
        assert.equal(r.responses.length, 1, r.raw);
        assert.equal(r.responses[0]!.status, 400);
        assert.equal((JSON.parse(r.responses[0]!.body) as { error: { code: string } }).error.code, 'NW_GW_MISSING_HOST');
        assert.deepEqual(upstreamSeen().slice(before), []);
      });
    }

    // RFC 9112 §3.2: more than one Host is a 400. Routing on "the first one" lets a
    // front proxy that uses the last one and this gateway disagree on the app.
    it('answers two Host headers with 400 whichever order they come in', async () => {
      for (const hosts of [
        ['shop.test', 'nowhere.test'],
        ['nowhere.test', 'shop.test'],
        ['shop.test', 'shop.test'],
      ]) {
        const before = seenCount();
        const r = await raw.exchange(`GET /two-hosts HTTP/1.1\r\nHost: ${hosts[0]}\r\nHost: ${hosts[1]}\r\nConnection: close\r\n\r\n`);
        assert.equal(r.responses.length, 1, r.raw);
        assert.equal(r.responses[0]!.status, 400, `${hosts.join(' + ')}: ${r.raw}`);
        assert.equal(r.responses[0]!.headers['x-northwest-error'], 'NW_GW_BAD_REQUEST');
        assert.deepEqual(upstreamSeen().slice(before), [], hosts.join(' + '));
      }
    });
  });

  describe('size limits', () => {
    it('serves headers under limits.maxHeaderBytes', async () => {
      const r = await raw.exchange(
        `GET /big-ok HTTP/1.1\r\nHost: shop.test\r\nX-Pad: ${'a'.repeat(MAX_HEADER_BYTES / 2)}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(r.responses[0]?.status, 200, r.raw);
    });

    it('refuses headers over limits.maxHeaderBytes with 431 (or a close)', async () => {
      const before = seenCount();
      const r = await raw.exchange(`GET /big HTTP/1.1\r\nHost: shop.test\r\nX-Pad: ${'a'.repeat(MAX_HEADER_BYTES * 2)}\r\n\r\n`);
      assertRefused(r, 431, 'NW_GW_HEADERS_TOO_LARGE');
      assert.deepEqual(upstreamSeen().slice(before), []);
    });

    it('forwards a body of exactly limits.maxBodyBytes', async () => {
      const res = await call(h.url, '/upload-ok', { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES, 'b') });
      assert.equal(res.status, 200, res.text);
      assert.equal((JSON.parse(res.text) as { bytes: number }).bytes, MAX_BODY_BYTES);
    });

    it('answers a declared Content-Length over limits.maxBodyBytes with 413 before reading the body', async () => {
      const before = seenCount();
      const conn = await raw.open();
      conn.write(`POST /upload-cl HTTP/1.1\r\nHost: shop.test\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`);
      const r = await conn.closed;
      assert.equal(r.responses.length, 1, r.raw);
      assert.equal(r.responses[0]!.status, 413);
      assert.equal((JSON.parse(r.responses[0]!.body) as { error: { code: string } }).error.code, 'NW_GW_BODY_TOO_LARGE');
      assert.equal(r.responses[0]!.headers.connection, 'close');
      assert.deepEqual(upstreamSeen().slice(before), []);
    });

    it('cuts a chunked body that grows past limits.maxBodyBytes: 413 or close, the upstream never gets a complete body', async () => {
      const before = seenCount();
      const conn = await raw.open();
      conn.write('POST /upload-chunked HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = Buffer.alloc(8 * 1024, 'c');
      let sent = 0;
      while (sent <= MAX_BODY_BYTES + 4 * chunk.length) {
        if (!conn.write(`${hex(chunk.length)}\r\n`) || !conn.write(chunk) || !conn.write('\r\n')) break;
        sent += chunk.length;
        // Let the gateway read as we go, as a real streaming client would be read.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // If the gateway has not cut us off yet, finish the body properly: only a
      // forwarded complete body could now show up at the upstream.
      conn.write('0\r\n\r\n');
      const r = await conn.closed;
      assert.ok(sent > MAX_BODY_BYTES || r.responses.length > 0, 'the test never got past the limit');
      assert.ok(r.responses.length <= 1, r.raw);
      if (r.responses[0]) assert.equal(r.responses[0].status, 413, r.raw);
      assert.deepEqual(
        upstreamSeen()
          .slice(before)
          .filter((s) => s.path === '/upload-chunked'),
        [],
        'the upstream received the whole over-limit body',
      );
      await assertServesNormally('chunked-over-limit');
    });
  });

  describe('slow clients', () => {
    it(
      `closes a slowloris connection ` +
        `(timeouts.clientHeadersMs=${CLIENT_HEADERS_MS}) ` +
        `with 408 or a close and serves others meanwhile`,
      async function () {
        this.timeout(40_000);
        const before = seenCount();
        const conn = await raw.open();
        // At one byte per 200 ms this takes about 16 s to send: far past the headers timeout.
        const request = `GET /slowloris HTTP/1.1\r\nHost: shop.test\r\nX-Slow: ${'s'.repeat(30)}\r\n\r\n`;
        let sent = 0;
        let servedMeanwhile: Promise<void> | undefined;
        const trickle = (async () => {
          for (const ch of request) {
            if (!conn.write(ch)) return;
            sent += 1;
            if (sent === 1) {
              servedMeanwhile = assertServesNormally('during-slowloris');
              servedMeanwhile.catch(() => undefined);
            }
            await sleep(200);
          }
        })();
        const r = await conn.closed;
        await trickle;
        assert.ok(servedMeanwhile, 'the slow client was cut before another client could be tried');
        await servedMeanwhile;
        assert.ok(sent < request.length, 'the gateway waited for the whole slow request');
        assert.ok(r.responses.length <= 1, r.raw);
        if (r.responses[0]) {
          assert.equal(r.responses[0].status, 408, r.raw);
          assert.equal(r.responses[0].headers['x-northwest-error'], 'NW_GW_CLIENT_TIMEOUT');
        }
        assert.ok(
          !upstreamSeen()
            .slice(before)
            .some((s) => s.path === '/slowloris'),
        );
      },
    );
  });

  // Mocha runs a suite's own tests before its nested suites: this one must be in a suite, and last.
  describe('afterwards', () => {
    it('the gateway is still alive and serving after all of the above', async () => {
      assert.ok(h.gw.isReady());
      assert.equal(h.gw.getState().shop?.mode, 'serve');
      await assertServesNormally('the-end');
    });
  });
});
