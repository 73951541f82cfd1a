// How the primary of a multi-worker gateway merges its workers' /metrics texts.
import assert from 'node:assert/strict';
import { countsOnly, mergeMetricTexts } from '../../gateway/observability/metrics-merge.js';
import { Counter, Gauge, Histogram } from '../../gateway/observability/metrics.js';

/** One worker's text: requests, a histogram, two gauges, as GatewayMetrics renders them. */
function workerText(requests: number, latency: number[], healthy: number, inFlight: number): string {
  const c = new Counter('req_total', 'Requests.', ['app']);
  c.inc(['shop'], requests);
  const h = new Histogram('lat_seconds', 'Latency.', ['app'], [0.1, 1]);
  for (const v of latency) h.observe(['shop'], v);
  const healthyGauge = new Gauge('healthy', 'In rotation.', ['server']);
  healthyGauge.set(['a'], healthy);
  const inFlightGauge = new Gauge('in_flight', 'In flight.', []);
  inFlightGauge.set([], inFlight);
  return c.render() + h.render() + healthyGauge.render() + inFlightGauge.render();
}

describe('metrics merge (workers)', () => {
  it('sums counters, histogram buckets, sums, counts and gauges; a min-rule gauge is the least; omit leaves a family out', () => {
    const merged = mergeMetricTexts(
      [workerText(3, [0.05, 0.5], 1, 2), workerText(4, [2], 0, 5)],
      new Map([
        ['healthy', 'min'],
        ['in_flight', 'sum'],
      ]),
    );
    assert.equal(
      merged,
      [
        '# HELP req_total Requests.',
        '# TYPE req_total counter',
        'req_total{app="shop"} 7',
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{app="shop",le="0.1"} 1',
        'lat_seconds_bucket{app="shop",le="1"} 2',
        'lat_seconds_bucket{app="shop",le="+Inf"} 3',
        'lat_seconds_sum{app="shop"} 2.55',
        'lat_seconds_count{app="shop"} 3',
        '# HELP healthy In rotation.',
        '# TYPE healthy gauge',
        'healthy{server="a"} 0',
        '# HELP in_flight In flight.',
        '# TYPE in_flight gauge',
        'in_flight 7',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(mergeMetricTexts([workerText(1, [], 1, 1)], new Map([['req_total', 'omit']])), /req_total/);
  });

  it('keeps what an ended worker counted (counters, histograms), not its gauges', () => {
    const ended = countsOnly(workerText(5, [0.5], 1, 9));
    assert.match(ended, /^req_total\{app="shop"\} 5$/m);
    assert.match(ended, /^lat_seconds_count\{app="shop"\} 1$/m);
    assert.doesNotMatch(ended, /healthy|in_flight/);
    assert.match(mergeMetricTexts([workerText(2, [], 1, 0), ended]), /^req_total\{app="shop"\} 7$/m);
  });
});
