import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { UpstreamServer } from '../../gateway/upstream/upstream-server.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import {
  startRefusingPort,
  startSwitchableHealthServer,
  type FaultyUpstream,
  type SwitchableHealthServer,
} from '../support/faulty-upstreams.js';
import { eventually } from '../support/eventually.js';
import { metricValue } from '../support/metrics-scrape.js';

const HEALTHY = 'northwest_gateway_upstream_healthy';
const RETRIES = 'northwest_gateway_upstream_retries_total';

function healthy(h: Harness, server: string): Promise<number> {
  return metricValue(h.adminUrl, HEALTHY, { app: 'shop', deployment: 'n1', server });
}

describe('gateway upstream health', () => {
  let h: Harness | undefined;
  const upstreams: Array<EchoUpstream | FaultyUpstream> = [];

  afterEach(async () => {
    await h?.close();
    h = undefined;
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
  });

  describe('passive', () => {
    it('ejects a refusing server after passive.maxFailures and does not select it during the cooldown', async () => {
      const refusing = await startRefusingPort();
      const good = await startEchoUpstream('n1-good');
      upstreams.push(good);
      h = await startGatewayHarness({
        n1Urls: [refusing.url, good.url],
        app: { n1: { retries: 1, passive: { maxFailures: 2, cooldownMs: 60_000 } } },
      });
      assert.equal(await healthy(h, refusing.url), 1, 'servers start in rotation');

      for (let i = 0; i < 2; i++) assert.equal((await call(h.url, `/warm-${i}`)).status, 200);
      assert.equal(await healthy(h, refusing.url), 0, 'ejected after maxFailures');
      assert.equal(await healthy(h, good.url), 1);

      const retriesBefore = await metricValue(h.adminUrl, RETRIES, { app: 'shop', deployment: 'n1' });
      assert.equal(retriesBefore, 2, 'each failure before the ejection was retried once');
      const seenBefore = good.seen.length;
      for (let i = 0; i < 6; i++) assert.equal((await call(h.url, `/cool-${i}`)).status, 200);
      assert.equal(
        await metricValue(h.adminUrl, RETRIES, { app: 'shop', deployment: 'n1' }),
        retriesBefore,
        'the ejected server was selected again',
      );
      assert.equal(good.seen.length - seenBefore, 6);
    });

    it('puts an ejected server back in rotation once the cooldown is over', async () => {
      const refusing = await startRefusingPort();
      const good = await startEchoUpstream('n1-good');
      upstreams.push(good);
      h = await startGatewayHarness({
        n1Urls: [refusing.url, good.url],
        app: { n1: { retries: 1, passive: { maxFailures: 1, cooldownMs: 200 } } },
      });
      assert.equal((await call(h.url, '/first')).status, 200);
      assert.equal(await healthy(h, refusing.url), 0);
      const harness = h;
      await eventually(async () => (await healthy(harness, refusing.url)) === 1, { timeoutMs: 5000, message: 'cooldown expiry' });
      const retriesBefore = await metricValue(h.adminUrl, RETRIES, { app: 'shop', deployment: 'n1' });
      assert.equal((await call(h.url, '/after-cooldown')).status, 200);
      assert.equal(
        await metricValue(h.adminUrl, RETRIES, { app: 'shop', deployment: 'n1' }),
        retriesBefore + 1,
        'the server is tried again after the cooldown',
      );
    });

    it('answers 503 NW_GW_NO_HEALTHY_UPSTREAM once the only server is ejected', async () => {
      const refusing = await startRefusingPort();
      h = await startGatewayHarness({ n1Urls: [refusing.url], app: { n1: { passive: { maxFailures: 1, cooldownMs: 60_000 } } } });
      const first = await call(h.url, '/one');
      assert.equal(first.status, 502);
      assert.equal(first.headers['x-northwest-error'], 'NW_GW_UPSTREAM_CONNECT_FAILED');
      const second = await call(h.url, '/two');
      assert.equal(second.status, 503);
      assert.equal(second.headers['x-northwest-error'], 'NW_GW_NO_HEALTHY_UPSTREAM');
      assert.equal(JSON.parse(second.text).error.code, 'NW_GW_NO_HEALTHY_UPSTREAM');
    });

    it('UpstreamServer counts consecutive failures only', () => {
      const s = new UpstreamServer('http://127.0.0.1:1', 1, {
        connectTimeoutMs: 100,
        headersTimeoutMs: 100,
        idleTimeoutMs: 100,
        connections: 1,
        pipelining: 1,
      });
      try {
        s.recordFailure(3, 1000, 0);
        s.recordFailure(3, 1000, 0);
        s.recordSuccess();
        s.recordFailure(3, 1000, 0);
        s.recordFailure(3, 1000, 0);
        assert.equal(s.isAvailable(1), true, 'a success in between resets the count');
        s.recordFailure(3, 1000, 0);
        assert.equal(s.isAvailable(999), false);
        assert.equal(s.isAvailable(1000), true);
      } finally {
        void s.close();
      }
    });
  });

  describe('active', () => {
    it('takes a server with a failing /healthz out after unhealthyThreshold and back after healthyThreshold', async () => {
      const flaky: SwitchableHealthServer = await startSwitchableHealthServer('flaky');
      const steady: SwitchableHealthServer = await startSwitchableHealthServer('steady');
      upstreams.push(flaky, steady);
      const unhealthyThreshold = 3;
      const healthyThreshold = 2;
      h = await startGatewayHarness({
        n1Urls: [flaky.url, steady.url],
        app: { n1: { healthCheck: { path: '/healthz', intervalMs: 30, timeoutMs: 1000, unhealthyThreshold, healthyThreshold } } },
      });
      const harness = h;
      const servedBy = async (n: number): Promise<string[]> => {
        const out: string[] = [];
        for (let i = 0; i < n; i++) {
          const res = await call(harness.url, `/r-${i}`);
          assert.equal(res.status, 200);
          out.push(res.text);
        }
        return out;
      };

      assert.deepEqual(new Set(await servedBy(4)), new Set(['flaky', 'steady']), 'both servers take traffic while healthy');

      flaky.setHealthy(false);
      const failedBefore = flaky.probes.filter((s) => s === 500).length;
      await eventually(async () => (await healthy(harness, flaky.url)) === 0, { timeoutMs: 5000, message: 'flaky taken out' });
      assert.ok(
        flaky.probes.filter((s) => s === 500).length - failedBefore >= unhealthyThreshold,
        'taken out before unhealthyThreshold failed probes',
      );
      assert.equal(await healthy(h, steady.url), 1);
      assert.deepEqual(new Set(await servedBy(6)), new Set(['steady']), 'traffic goes to the healthy server only');

      const probesAtRecovery = flaky.probes.length;
      flaky.setHealthy(true);
      await eventually(async () => (await healthy(harness, flaky.url)) === 1, { timeoutMs: 5000, message: 'flaky back in rotation' });
      const passedSince = flaky.probes.slice(probesAtRecovery).filter((s) => s === 200).length;
      assert.ok(passedSince >= healthyThreshold, `back after ${passedSince} passing probes, expected at least ${healthyThreshold}`);
      assert.ok((await servedBy(4)).includes('flaky'), 'the recovered server takes traffic again');
    });
  });
});
