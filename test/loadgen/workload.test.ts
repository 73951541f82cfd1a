import assert from 'node:assert/strict';
import { keyName, parseWorkloadOptions, Workload, ZipfianGenerator, mulberry32, type PlannedOperation } from '../../loadgen/load/index.js';

function draw(w: Workload, n: number): PlannedOperation[] {
  return Array.from({ length: n }, () => w.nextOperation());
}

/** Allowed deviation of an observed share from p over n draws: 5 standard deviations of a binomial share. */
function tolerance(p: number, n: number): number {
  return 5 * Math.sqrt((p * (1 - p)) / n);
}

function counts(ops: PlannedOperation[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of ops) m.set(o.key, (m.get(o.key) ?? 0) + 1);
  return m;
}

describe('workload', () => {
  it('respects readRatio and deleteRatio within binomial tolerance', () => {
    const n = 20_000;
    const ops = draw(new Workload({ readRatio: 0.7, deleteRatio: 0.1, keys: 100, seed: 7 }), n);
    const share = (op: string): number => ops.filter((o) => o.op === op).length / n;
    assert.ok(Math.abs(share('read') - 0.7) <= tolerance(0.7, n), `reads ${share('read')}`);
    assert.ok(Math.abs(share('delete') - 0.1) <= tolerance(0.1, n), `deletes ${share('delete')}`);
    assert.ok(Math.abs(share('write') - 0.2) <= tolerance(0.2, n), `writes ${share('write')}`);
  });

  it('handles the extremes: all reads, all writes', () => {
    assert.ok(draw(new Workload({ readRatio: 1, keys: 5 }), 500).every((o) => o.op === 'read'));
    assert.ok(draw(new Workload({ readRatio: 0, keys: 5 }), 500).every((o) => o.op === 'write'));
  });

  it('spreads a uniform distribution over all keys', () => {
    const n = 20_000;
    const keys = 20;
    const c = counts(draw(new Workload({ readRatio: 1, keys, distribution: 'uniform', seed: 3 }), n));
    assert.equal(c.size, keys);
    for (const [k, v] of c) assert.ok(Math.abs(v / n - 1 / keys) <= tolerance(1 / keys, n), `${k}: ${v}`);
  });

  it('skews a zipfian distribution: the hottest key gets far more hits than the median key', () => {
    const n = 50_000;
    const keys = 1000;
    const c = counts(draw(new Workload({ readRatio: 1, keys, distribution: 'zipfian', seed: 11 }), n));
    const sorted = [...c.values()].sort((a, b) => b - a);
    while (sorted.length < keys) sorted.push(0);
    const hottest = sorted[0]!;
    const median = sorted[keys / 2]!;
    assert.ok(hottest > 20 * Math.max(1, median), `hottest ${hottest}, median ${median}`);
    assert.equal(c.get(keyName(0, keys)), hottest, 'rank 0 is the hottest key');
  });

  it('draws rank 0 with probability 1/zeta(n, theta), within binomial tolerance', () => {
    const items = 100;
    const theta = 0.99;
    let zeta = 0;
    for (let i = 1; i <= items; i++) zeta += 1 / i ** theta;
    const p0 = 1 / zeta;
    const p1 = 1 / 2 ** theta / zeta;
    const z = new ZipfianGenerator(items, theta, mulberry32(5));
    const n = 50_000;
    const ranks = Array.from({ length: n }, () => z.next());
    assert.ok(ranks.every((r) => Number.isInteger(r) && r >= 0 && r < items));
    const share = (r: number): number => ranks.filter((x) => x === r).length / n;
    assert.ok(Math.abs(share(0) - p0) <= tolerance(p0, n), `rank 0 share ${share(0)} vs ${p0}`);
    assert.ok(Math.abs(share(1) - p1) <= tolerance(p1, n), `rank 1 share ${share(1)} vs ${p1}`);
  });

  it('gives the same sequence for the same seed, another for another seed', () => {
    const opts = { readRatio: 0.5, deleteRatio: 0.1, keys: 500, distribution: 'zipfian', seed: 42, runId: 'run1' } as const;
    const a = draw(new Workload(opts), 1000);
    const b = draw(new Workload(opts), 1000);
    assert.deepEqual(a, b);
    const c = draw(new Workload({ ...opts, seed: 43 }), 1000);
    assert.notDeepEqual(a, c);
  });

  it('writes unique values of valueBytes, prefixed by the run id', () => {
    const ops = draw(new Workload({ readRatio: 0, keys: 3, valueBytes: 40, runId: 'abc' }), 300);
    const values = ops.map((o) => o.value!);
    assert.equal(new Set(values).size, values.length);
    for (const v of values) {
      assert.equal(v.length, 40);
      assert.match(v, /^abc-\d{10}\.+$/);
    }
    const short = new Workload({ readRatio: 0, keys: 1, valueBytes: 4, runId: 'abc' }).nextOperation();
    assert.equal(short.value, 'abc-0000000001', 'never truncated below the unique id');
  });

  it('uses URL-safe keys and only writes carry values', () => {
    for (const o of draw(new Workload({ readRatio: 0.5, deleteRatio: 0.2, keys: 50 }), 500)) {
      assert.match(o.key, /^[A-Za-z0-9._~-]+$/);
      assert.equal(o.value !== undefined, o.op === 'write');
    }
  });

  it('rejects invalid options naming the field', () => {
    assert.throws(() => parseWorkloadOptions({ readRatio: 1.5, keys: 1 }), /readRatio/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.5, keys: 0 }), /keys/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.5, keys: 1, theta: 1 }), /theta/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.5, keys: 1, distribution: 'normal' }), /distribution/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.8, deleteRatio: 0.3, keys: 1 }), /deleteRatio/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.5, keys: 1, readratio: 0.5 }), /readratio|Unrecognized/);
    assert.throws(() => parseWorkloadOptions({ readRatio: 0.5, keys: 1, runId: 'has space' }), /runId/);
  });
});
