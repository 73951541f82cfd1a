import assert from 'node:assert/strict';
import { request } from 'undici';
import { Counter, Gauge, GatewayMetrics, Histogram, LATENCY_BUCKETS_SECONDS } from '../../gateway/observability/metrics.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { eventually } from '../support/eventually.js';
import { sampleValue, scrapeMetrics } from '../support/metrics-scrape.js';

const REQUESTS = 'northwest_gateway_requests_total';
const LATENCY = 'northwest_gateway_request_duration_seconds';

describe('gateway metrics', () => {
  it('keeps series apart by their label values, whatever the values contain, and renders them in the order they came', () => {
    const c = new Counter('t_total', 'test', ['a', 'b']);
    c.inc(['x\u0000y', 'z']);
    c.inc(['x', 'y\u0000z'], 2);
    c.inc(['x', 'w']);
    c.inc(['x', 'w']);
    assert.equal(c.get(['x\u0000y', 'z']), 1);
    assert.equal(c.get(['x', 'y\u0000z']), 2);
    assert.equal(c.get(['x', 'w']), 2);
    assert.equal(c.get(['x']), 0);
    assert.deepEqual(
      c
        .render()
        .split('\n')
        .filter((l) => l.startsWith('t_total'))
        .map((l) => l.split(' ')[1]),
      ['1', '2', '2'],
    );
    const g = new Gauge('t_gauge', 'test', []);
    g.set([], 3);
    g.add([], 2);
    assert.equal(g.get(), 5);
  });

  describe('admin /metrics after traffic', () => {
    let h: Harness;
    before(async () => {
      h = await startGatewayHarness();
    });
    after(async () => {
      await h.close();
    });

    it('serves Prometheus text with request counts by app, mode, deployment and status, and latency buckets', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await call(h.url, `/m-${i}`)).status, 200);
      assert.equal((await call(h.url, '/kv/missing')).status, 404);
      assert.equal((await call(h.url, '/', { host: 'nobody.test' })).status, 421);

      const ok = { app: 'shop', mode: 'serve', deployment: 'n1', status: '200' };
      await eventually(async () => sampleValue(await scrapeMetrics(h.adminUrl), REQUESTS, ok) === 3, {
        timeoutMs: 5000,
        message: 'three 200s counted',
      });

      const res = await request(`${h.adminUrl}/metrics`);
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const text = await res.body.text();

      assert.match(text, new RegExp(`^# TYPE ${REQUESTS} counter$`, 'm'));
      assert.match(text, new RegExp(`^# HELP ${REQUESTS} .+$`, 'm'));
      assert.equal(sampleValue(text, REQUESTS, ok), 3);
      assert.equal(sampleValue(text, REQUESTS, { ...ok, status: '404' }), 1);
      assert.equal(sampleValue(text, REQUESTS, { app: '-', mode: '-', deployment: 'none', status: '421' }), 1);

      assert.match(text, new RegExp(`^# TYPE ${LATENCY} histogram$`, 'm'));
      const labels = { app: 'shop', deployment: 'n1' };
      const counts = LATENCY_BUCKETS_SECONDS.map((le) => sampleValue(text, `${LATENCY}_bucket`, { ...labels, le: String(le) }));
      assert.ok(
        counts.every((c) => c !== undefined),
        'every latency bucket is rendered',
      );
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, 'buckets are cumulative');
      const total = sampleValue(text, `${LATENCY}_count`, labels);
      assert.equal(total, 4);
      assert.equal(sampleValue(text, `${LATENCY}_bucket`, { ...labels, le: '+Inf' }), total);
      assert.ok(sampleValue(text, `${LATENCY}_sum`, labels)! > 0);

      assert.equal(sampleValue(text, 'northwest_gateway_upstream_healthy', { app: 'shop', deployment: 'n1', server: h.n1[0]!.url }), 1);
      assert.equal(sampleValue(text, 'northwest_gateway_errors_total', { app: '-', code: 'NW_GW_UNKNOWN_HOST' }), 1);
    });
  });

  describe('render', () => {
    const nasty = 'a"b\\c\nd';
    const escaped = 'a\\"b\\\\c\\nd';

    it('Counter renders HELP/TYPE and escapes label values', () => {
      const c = new Counter('t_total', 'A test counter.', ['path']);
      c.inc([nasty]);
      c.inc([nasty], 2);
      c.inc(['plain']);
      assert.equal(c.get([nasty]), 3);
      assert.equal(
        c.render(),
        `# HELP t_total A test counter.\n# TYPE t_total counter\nt_total{path="${escaped}"} 3\nt_total{path="plain"} 1\n`,
      );
    });

    it('Counter without labels renders a bare series', () => {
      const c = new Counter('bare_total', 'Bare.', []);
      c.inc();
      assert.match(c.render(), /^bare_total 1$/m);
    });

    it('Gauge renders collected and set values, escaped', () => {
      const g = new Gauge('t_gauge', 'A test gauge.', ['server']);
      g.collect(() => [[[nasty], 0]]);
      g.set(['x'], 5);
      g.add(['x'], -2);
      g.add(['y'], 1);
      assert.equal(g.get(['x']), 3);
      assert.equal(
        g.render(),
        `# HELP t_gauge A test gauge.\n# TYPE t_gauge gauge\n` +
          `t_gauge{server="${escaped}"} 0\nt_gauge{server="x"} 3\nt_gauge{server="y"} 1\n`,
      );
    });

    it('Histogram renders cumulative buckets, +Inf, sum and count, escaped', () => {
      const hist = new Histogram('t_seconds', 'A test histogram.', ['app'], [1, 5]);
      hist.observe([nasty], 0.5);
      hist.observe([nasty], 3);
      hist.observe([nasty], 10);
      assert.equal(hist.count([nasty]), 3);
      const l = `app="${escaped}"`;
      assert.equal(
        hist.render(),
        [
          '# HELP t_seconds A test histogram.',
          '# TYPE t_seconds histogram',
          `t_seconds_bucket{${l},le="1"} 1`,
          `t_seconds_bucket{${l},le="5"} 2`,
          `t_seconds_bucket{${l},le="+Inf"} 3`,
          `t_seconds_sum{${l}} 13.5`,
          `t_seconds_count{${l}} 3`,
          '',
        ].join('\n'),
      );
    });

    it('GatewayMetrics renders every metric with a unique, namespaced name', () => {
      const text = new GatewayMetrics().render();
      const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
      assert.ok(names.length >= 10);
      assert.equal(new Set(names).size, names.length, 'duplicate metric names');
      for (const n of names) assert.match(n, /^northwest_gateway_[a-z_]+$/);
    });
  });
});
