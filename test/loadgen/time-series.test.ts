import assert from 'node:assert/strict';
import type { Sample, ServedBy } from '../../loadgen/load-model.js';
import { bucketSamples, percentile, throughputPerSecond } from '../../loadgen/analysis/time-series.js';

function sample(end: number, latencyMs: number, servedBy: ServedBy, status = 200): Sample {
  return { start: end - latencyMs, end, latencyMs, op: 'read', key: 'k', status, servedBy, epoch: 1 };
}

describe('time series', () => {
  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('buckets by completion time per deployment, with counts, errors and latency', () => {
    const samples = [
      sample(10, 5, 'n1'),
      sample(99.9, 30, 'n1'),
      sample(50, 8, 'n2', 503),
      sample(100, 200, 'n1', 0), // started at -100, completes in the second bucket
      sample(250, 12, 'n2'),
    ];
    const points = bucketSamples(samples);
    assert.deepEqual(
      points.map((p) => [p.t, p.servedBy, p.count, p.errors]),
      [
        [0, 'n1', 2, 0],
        [0, 'n2', 1, 1],
        [100, 'n1', 1, 1],
        [200, 'n2', 1, 0],
      ],
    );
    const first = points[0];
    assert.ok(first);
    assert.equal(first.p50, 5);
    assert.equal(first.p99, 30);
    assert.equal(first.max, 30);
  });

  it('is pure: input order does not matter and the input is untouched', () => {
    const samples = [sample(310, 3, 'n2'), sample(20, 1, 'n1'), sample(120, 2, 'n1')];
    const copy = structuredClone(samples);
    assert.deepEqual(bucketSamples(samples), bucketSamples([...samples].reverse()));
    assert.deepEqual(samples, copy);
    assert.deepEqual(bucketSamples([]), []);
  });

  it('throughput per second fills gaps with zero for deployments that answered', () => {
    const samples = [sample(100, 1, 'n1'), sample(900, 1, 'n1'), sample(2500, 1, 'n2')];
    const points = throughputPerSecond(samples);
    assert.deepEqual(
      points.map((p) => [p.t, p.servedBy, p.rps]),
      [
        [0, 'n1', 2],
        [0, 'n2', 0],
        [1000, 'n1', 0],
        [1000, 'n2', 0],
        [2000, 'n1', 0],
        [2000, 'n2', 1],
      ],
    );
  });

  it('throughput in sub-second windows is scaled to per second, errors counted apart', () => {
    const samples = [sample(10, 1, 'n1'), sample(20, 1, 'n1', 0), sample(30, 1, 'n1')];
    const [p] = throughputPerSecond(samples, 100);
    assert.ok(p);
    assert.equal(p.rps, 30);
    assert.equal(p.errorsPerSecond, 10);
  });
});
