import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { GatewayError, type GatewayErrorCode } from '../../gateway/errors.js';
import { isConnectFailure, toUpstreamError } from '../../gateway/proxy/upstream-errors.js';
import { call, startGatewayHarness, type Harness, type SimpleResponse } from '../support/gateway-harness.js';
import {
  startFailingHandshakeServer,
  startHangingServer,
  startRefusingPort,
  startResetServer,
  startSlowFinalHeadServer,
  startSlowHeadersServer,
  startStallingBodyServer,
  startTricklingBodyServer,
  type FaultyUpstream,
} from '../support/faulty-upstreams.js';
import { eventually } from '../support/eventually.js';
import { metricValue } from '../support/metrics-scrape.js';

function assertGatewayError(res: SimpleResponse, status: number, code: GatewayErrorCode): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['x-northwest-error'], code);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.text) as { error: { code: string; message: string; requestId: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.requestId, res.headers['x-request-id']);
}

describe('gateway upstream failures', () => {
  let h: Harness | undefined;
  const faulty: FaultyUpstream[] = [];
  const echoes: EchoUpstream[] = [];

  afterEach(async () => {
    await h?.close();
    h = undefined;
    await Promise.all([...faulty.splice(0), ...echoes.splice(0)].map((f) => f.close()));
  });

  it('answers 502 NW_GW_UPSTREAM_CONNECT_FAILED when the upstream refuses connections', async () => {
    const refusing = await startRefusingPort();
    h = await startGatewayHarness({ n1Urls: [refusing.url] });
    const res = await call(h.url, '/anything');
    assertGatewayError(res, 502, 'NW_GW_UPSTREAM_CONNECT_FAILED');
    assert.equal(res.headers['x-northwest-deployment'], 'none');
    assert.ok(
      (await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: 'shop', code: 'NW_GW_UPSTREAM_CONNECT_FAILED' })) >= 1,
    );
  });

  it('answers 504 NW_GW_UPSTREAM_HEADERS_TIMEOUT when the upstream never sends headers', async () => {
    const hanging = await startHangingServer();
    faulty.push(hanging);
    h = await startGatewayHarness({ n1Urls: [hanging.url], config: { timeouts: { upstreamHeadersMs: 200 } } });
    const started = Date.now();
    const res = await call(h.url, '/slow');
    assert.ok(Date.now() - started < 5000, 'the headers timeout did not fire');
    assertGatewayError(res, 504, 'NW_GW_UPSTREAM_HEADERS_TIMEOUT');
    assert.equal(hanging.seen.length, 1, 'a headers timeout is not retried');
  });

  it('aborts the client connection when the upstream body stalls after headers, and keeps serving', async () => {
    const stalling = await startStallingBodyServer();
    faulty.push(stalling);
    h = await startGatewayHarness({ n1Urls: [stalling.url], config: { timeouts: { upstreamIdleMs: 200 } } });
    const res = await request(`${h.url}/stall`, { headers: { host: 'shop.test' } });
    assert.equal(res.statusCode, 200, 'headers were already sent when the body stalled');
    const started = Date.now();
    await assert.rejects(res.body.text(), 'the client must see a truncated body, not a clean end');
    assert.ok(Date.now() - started < 5000);

    const ok = await call(h.url, '/ok');
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'ok');
    const health = await request(`${h.adminUrl}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    assert.ok((await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: 'shop', code: 'NW_GW_UPSTREAM_IDLE_TIMEOUT' })) >= 1);
    assert.equal(await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: 'shop', code: 'NW_GW_INTERNAL' }), 0);
  });

  it('passes a body trickling for longer than timeouts.upstreamIdleMs whole: the idle timeout counts silence, not duration', async () => {
    // 12 pieces 100 ms apart: 1.2 s in all, never 300 ms silent.
    const trickling = await startTricklingBodyServer(12, 100);
    faulty.push(trickling);
    h = await startGatewayHarness({ n1Urls: [trickling.url], config: { timeouts: { upstreamIdleMs: 300 } } });
    const res = await call(h.url, '/trickle');
    assert.equal(res.status, 200);
    assert.equal(res.text, '0123456789'.repeat(12));
    assert.equal(await metricValue(h.adminUrl, 'northwest_gateway_errors_total', { app: 'shop', code: 'NW_GW_UPSTREAM_IDLE_TIMEOUT' }), 0);
  });

  it('answers 504 NW_GW_UPSTREAM_HEADERS_TIMEOUT to an app whose head trickles in a byte every 100 ms (deadline not put off)', async () => {
    const trickling = await startSlowFinalHeadServer(100, 0);
    faulty.push(trickling);
    h = await startGatewayHarness({ n1Urls: [trickling.url], config: { timeouts: { upstreamHeadersMs: 400, upstreamIdleMs: 400 } } });
    const started = Date.now();
    const res = await call(h.url, '/trickle-head');
    assert.ok(Date.now() - started < 5000, 'timeouts.upstreamHeadersMs caps the wait for the final head');
    assertGatewayError(res, 504, 'NW_GW_UPSTREAM_HEADERS_TIMEOUT');
  });

  it('waits for the final head as long as 102 Processing replies keep coming within timeouts.upstreamHeadersMs (as undici)', async () => {
    // 12 interim replies 100 ms apart: 1.2 s in all, three times the headers timeout, never 400 ms without one.
    const processing = await startSlowFinalHeadServer(100, 12);
    faulty.push(processing);
    h = await startGatewayHarness({ n1Urls: [processing.url], config: { timeouts: { upstreamHeadersMs: 400, upstreamIdleMs: 400 } } });
    const res = await call(h.url, '/processing');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'done');
  });

  it('waits out timeouts.upstreamHeadersMs before a 504: a head that comes at half of it is served', async () => {
    const slow = await startSlowHeadersServer(300);
    faulty.push(slow);
    h = await startGatewayHarness({ n1Urls: [slow.url], config: { timeouts: { upstreamHeadersMs: 600 } } });
    const res = await call(h.url, '/slow-head');
    assert.equal(res.status, 200, res.text);
    assert.equal(slow.seen.length, 1);
  });

  it('answers 502 NW_GW_UPSTREAM_RESET when the upstream resets the connection', async () => {
    const reset = await startResetServer();
    faulty.push(reset);
    h = await startGatewayHarness({ n1Urls: [reset.url] });
    const res = await call(h.url, '/reset-me');
    assertGatewayError(res, 502, 'NW_GW_UPSTREAM_RESET');
    assert.ok(reset.seen.length >= 1);
  });

  it('counts a client that leaves before the reply started as NW_GW_CLIENT_ABORTED and does not retry it elsewhere', async () => {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await startSlowHeadersServer(60_000, () => arrived());
    const other = await startSlowHeadersServer(60_000, () => arrived());
    faulty.push(slow, other);
    h = await startGatewayHarness({ n1Urls: [slow.url, other.url], app: { n1: { retries: 1 } } });
    const abort = new AbortController();
    const pending = request(`${h.url}/leaving`, { headers: { host: 'shop.test' }, signal: abort.signal });
    await reached;
    abort.abort();
    await assert.rejects(pending);
    const adminUrl = h.adminUrl;
    await eventually(
      async () => (await metricValue(adminUrl, 'northwest_gateway_errors_total', { app: 'shop', code: 'NW_GW_CLIENT_ABORTED' })) === 1,
      { timeoutMs: 5000, message: 'NW_GW_CLIENT_ABORTED counted' },
    );
    assert.equal(await metricValue(adminUrl, 'northwest_gateway_upstream_retries_total', { app: 'shop', deployment: 'n1' }), 0);
    assert.equal(slow.seen.length + other.seen.length, 1, 'the request reached one upstream server only');
  });

  describe('retries', () => {
    it('retries GETs that could not connect on another server of the pool', async () => {
      const refusing = await startRefusingPort();
      const good = await startEchoUpstream('n1-good');
      echoes.push(good);
      h = await startGatewayHarness({
        n1Urls: [refusing.url, good.url],
        app: { n1: { retries: 1, passive: { maxFailures: 100, cooldownMs: 60_000 } } },
      });
      for (let i = 0; i < 6; i++) {
        const res = await call(h.url, `/get-${i}`);
        assert.equal(res.status, 200, res.text);
      }
      const retries = await metricValue(h.adminUrl, 'northwest_gateway_upstream_retries_total', { app: 'shop', deployment: 'n1' });
      // Round robin starts at the refusing server and comes back to it on every request.
      assert.equal(retries, 6);
      assert.equal(good.seen.filter((r) => r.path.startsWith('/get-')).length, 6, 'each GET reached the good server once');
    });

    it('gives the calls waiting behind a connect that failed a connect of their own: retried elsewhere, not refused 503', async () => {
      const failing = await startFailingHandshakeServer(150);
      faulty.push(failing);
      const good = await startEchoUpstream('n1-good');
      echoes.push(good);
      h = await startGatewayHarness({
        n1Urls: [`https://127.0.0.1:${failing.port}`, good.url],
        config: { timeouts: { upstreamConnectMs: 3000 } },
        app: { n1: { retries: 1, connectionsPerServer: 1, passive: { maxFailures: 100, cooldownMs: 60_000 } } },
      });
      const started = performance.now();
      // Round robin: every other GET goes to the failing server, where one connection may be opening at a time.
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => call(h!.url, `/get-${i}`)));
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
        replies.map((r) => r.headers['x-northwest-error']).join(),
      );
      assert.ok(performance.now() - started < 2000, 'no call waited out upstreamConnectMs for a connection');
      assert.equal(good.seen.filter((r) => r.path.startsWith('/get-')).length, 6, 'each GET reached the good server once');
    });

    it('does not duplicate a POST with a streamed body that hit a refusing server', async () => {
      const refusing = await startRefusingPort();
      const good = await startEchoUpstream('n1-good');
      echoes.push(good);
      h = await startGatewayHarness({
        n1Urls: [refusing.url, good.url],
        app: { n1: { retries: 2, passive: { maxFailures: 100, cooldownMs: 60_000 } } },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await request(`${h.url}/kv/post-${i}`, {
          method: 'POST',
          headers: { host: 'shop.test' },
          body: Readable.from([Buffer.from('part one, '), Buffer.from(`part two of ${i}`)]),
        });
        await res.body.dump();
        statuses.push(res.statusCode);
      }
      for (let i = 0; i < 6; i++) {
        const times = good.seen.filter((s) => s.path === `/kv/post-${i}`).length;
        assert.ok(times <= 1, `POST ${i} reached the good server ${times} times`);
        assert.equal(times, statuses[i] === 200 ? 1 : 0, `POST ${i} answered ${statuses[i]} but was seen ${times} times`);
        assert.ok(statuses[i] === 200 || statuses[i] === 502, `unexpected status ${statuses[i]}`);
      }
      if (h.gw.config.engine === 'raw') {
        // The raw engine reads a body only once it has a connection: a refused connect took none of
        // it, so the POST is retried on the good server, still once.
        assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
      } else assert.ok(statuses.includes(502), 'some POST must have gone to the refusing server and not been retried');
      assert.ok(statuses.includes(200), 'POSTs to the good server succeed');
    });
  });

  describe('toUpstreamError', () => {
    const origin = 'http://127.0.0.1:1';
    const cases: Array<[string, GatewayErrorCode, number]> = [
      ['UND_ERR_CONNECT_TIMEOUT', 'NW_GW_UPSTREAM_CONNECT_TIMEOUT', 504],
      ['UND_ERR_HEADERS_TIMEOUT', 'NW_GW_UPSTREAM_HEADERS_TIMEOUT', 504],
      ['UND_ERR_BODY_TIMEOUT', 'NW_GW_UPSTREAM_IDLE_TIMEOUT', 504],
      ['UND_ERR_SOCKET', 'NW_GW_UPSTREAM_RESET', 502],
      ['ECONNRESET', 'NW_GW_UPSTREAM_RESET', 502],
      ['EPIPE', 'NW_GW_UPSTREAM_RESET', 502],
      ['UND_ERR_CLOSED', 'NW_GW_UPSTREAM_RESET', 502],
      ['HPE_INVALID_CONSTANT', 'NW_GW_UPSTREAM_PROTOCOL', 502],
      ['HPE_INVALID_HEADER_TOKEN', 'NW_GW_UPSTREAM_PROTOCOL', 502],
      ['HPE_UNEXPECTED_CONTENT_LENGTH', 'NW_GW_UPSTREAM_PROTOCOL', 502],
      ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'NW_GW_UPSTREAM_PROTOCOL', 502],
      ['UND_ERR_INFO', 'NW_GW_UPSTREAM_PROTOCOL', 502],
      ['ECONNREFUSED', 'NW_GW_UPSTREAM_CONNECT_FAILED', 502],
      ['EHOSTUNREACH', 'NW_GW_UPSTREAM_CONNECT_FAILED', 502],
      ['ENETUNREACH', 'NW_GW_UPSTREAM_CONNECT_FAILED', 502],
      ['EADDRNOTAVAIL', 'NW_GW_UPSTREAM_CONNECT_FAILED', 502],
      ['ENOTFOUND', 'NW_GW_UPSTREAM_CONNECT_FAILED', 502],
      ['SOMETHING_ELSE', 'NW_GW_UPSTREAM_RESET', 502],
    ];
    for (const [nodeCode, code, status] of cases) {
      it(`maps ${nodeCode} to ${status} ${code}`, () => {
        const cause = Object.assign(new Error('boom'), { code: nodeCode });
        const err = toUpstreamError(cause, origin);
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, code);
        assert.equal(err.status, status);
        assert.equal(err.cause, cause);
        assert.ok(err.message.includes(origin) && err.message.includes(nodeCode), err.message);
      });
    }

    it('maps an error without a code (or no error at all) to NW_GW_UPSTREAM_RESET', () => {
      assert.equal(toUpstreamError(new Error('x'), origin).code, 'NW_GW_UPSTREAM_RESET');
      assert.equal(toUpstreamError(undefined, origin).code, 'NW_GW_UPSTREAM_RESET');
    });

    it('passes a GatewayError through unchanged', () => {
      const e = new GatewayError('NW_GW_BODY_TOO_LARGE');
      assert.equal(toUpstreamError(e, origin), e);
    });

    it('treats only errors that never reached the app as connect failures', () => {
      for (const c of ['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND'])
        assert.equal(isConnectFailure({ code: c }), true, c);
      for (const c of ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EPIPE'])
        assert.equal(isConnectFailure({ code: c }), false, c);
      assert.equal(isConnectFailure(undefined), false);
    });
  });
});
