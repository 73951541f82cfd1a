import assert from 'node:assert/strict';
import type { Sample } from '../../loadgen/load-model.js';
import { checkLostWrites, expectedFinalStates, mutationsFromSamples, type Mutation } from '../../loadgen/analysis/lost-writes.js';
import { mulberry32 as seededRandom } from '../../loadgen/load/prng.js';

const w = (key: string, value: string, start: number, end: number): Mutation => ({ key, op: 'write', value, start, end });
const del = (key: string, start: number, end: number): Mutation => ({ key, op: 'delete', start, end });

/** A store the checker reads back from; `apply` sees mutations in the order the store applied them. */
class MapStore {
  readonly data = new Map<string, string>();
  private applied = 0;
  constructor(private readonly fault: 'none' | 'drop-every-10th' | 'ignore-deletes' = 'none') {}
  apply(m: Mutation): void {
    this.applied++;
    if (this.fault === 'drop-every-10th' && this.applied % 10 === 0) return;
    if (m.op === 'delete') {
      if (this.fault !== 'ignore-deletes') this.data.delete(m.key);
    } else this.data.set(m.key, m.value ?? '');
  }
  readonly readBack = async (key: string): Promise<string | undefined> => this.data.get(key);
}

/** A random workload over few keys: sequential per client, overlapping across clients. */
function workload(seed: number, count: number): Mutation[] {
  const rand = seededRandom(seed);
  const out: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * 3 + Math.floor(rand() * 3);
    const end = start + 1 + Math.floor(rand() * 40);
    const key = `k${Math.floor(rand() * 20)}`;
    out.push(rand() < 0.1 ? del(key, start, end) : w(key, `v${i}`, start, end));
  }
  return out;
}

/** Applies each mutation at a random point inside its [start, end] interval: a linearizable store. */
function applyLinearizable(store: MapStore, ms: readonly Mutation[], seed: number): void {
  const rand = seededRandom(seed);
  const at = ms.map((m) => ({ m, t: m.start + rand() * (m.end - m.start) }));
  for (const { m } of at.sort((a, b) => a.t - b.t)) store.apply(m);
}

describe('lost-write checker', () => {
  it('passes on a correct store', async () => {
    const ms = workload(1, 2000);
    const store = new MapStore();
    applyLinearizable(store, ms, 2);
    const r = await checkLostWrites({ acknowledged: ms }, store.readBack);
    assert.equal(r.ok, true, JSON.stringify(r.lost.slice(0, 3)));
    assert.equal(r.checked, 20);
    assert.ok(r.ambiguous > 0, 'the workload has overlapping last writes');
  });

  it('catches a store that drops every 10th write', async () => {
    // One key per write, so every dropped write is the last one to its key.
    const ms = Array.from({ length: 100 }, (_, i) => w(`key-${i}`, `v${i}`, i, i + 1));
    const store = new MapStore('drop-every-10th');
    for (const m of ms) store.apply(m);
    const r = await checkLostWrites({ acknowledged: ms }, store.readBack);
    assert.equal(r.ok, false);
    assert.equal(r.lost.length, 10);
    assert.deepEqual(r.lost[0], { key: 'key-19', expected: ['v19'], actual: null });
  });

  it('catches dropped writes in a random overlapping workload', async () => {
    const ms = workload(3, 2000);
    const store = new MapStore('drop-every-10th');
    applyLinearizable(store, ms, 4);
    const r = await checkLostWrites({ acknowledged: ms }, store.readBack);
    assert.equal(r.ok, false);
    assert.ok(r.lost.length > 0);
  });

  it('catches a store that returns an older value', async () => {
    const ms = [w('a', 'old', 0, 10), w('a', 'new', 20, 30), w('b', 'only', 0, 5)];
    const store = new MapStore();
    store.apply(ms[1]!); // applied out of order: the older write lands last
    store.apply(ms[0]!);
    store.apply(ms[2]!);
    const r = await checkLostWrites({ acknowledged: ms }, store.readBack);
    assert.equal(r.ok, false);
    assert.deepEqual(r.lost, [{ key: 'a', expected: ['new'], actual: 'old' }]);
  });

  it('accepts either value when the last two writes to a key overlapped', async () => {
    const ms = [w('a', 'x', 0, 10), w('a', 'y', 5, 8), w('a', 'z', 9, 20)];
    // 'y' was strictly before 'z'? No: y ended at 8, z started at 9, so y cannot be last.
    assert.deepEqual(expectedFinalStates({ acknowledged: ms }).get('a'), ['x', 'z']);
    for (const value of ['x', 'z']) {
      const r = await checkLostWrites({ acknowledged: ms }, async () => value);
      assert.equal(r.ok, true, value);
      assert.equal(r.ambiguous, 1);
    }
    const wrong = await checkLostWrites({ acknowledged: ms }, async () => 'y');
    assert.deepEqual(wrong.lost, [{ key: 'a', expected: ['x', 'z'], actual: 'y' }]);
  });

  it('expects absence after a delete acknowledged last, and catches a store that ignored it', async () => {
    const ms = [w('a', 'x', 0, 10), del('a', 11, 12), w('b', 'y', 0, 1)];
    const good = new MapStore();
    for (const m of ms) good.apply(m);
    assert.equal((await checkLostWrites({ acknowledged: ms }, good.readBack)).ok, true);
    const bad = new MapStore('ignore-deletes');
    for (const m of ms) bad.apply(m);
    const r = await checkLostWrites({ acknowledged: ms }, bad.readBack);
    assert.deepEqual(r.lost, [{ key: 'a', expected: [null], actual: 'x' }]);
  });

  it('accepts, but never requires, the value of a write whose outcome is unknown', async () => {
    const input = { acknowledged: [w('a', 'acked', 5, 10)], uncertain: [w('a', 'maybe', 20, 25), w('a', 'superseded', 0, 1)] };
    assert.deepEqual(expectedFinalStates(input).get('a'), ['acked', 'maybe']);
    assert.equal((await checkLostWrites(input, async () => 'maybe')).ok, true);
    assert.equal((await checkLostWrites(input, async () => 'acked')).ok, true);
    assert.equal((await checkLostWrites(input, async () => 'superseded')).ok, false);
  });

  it('builds its input from samples: 2xx/3xx acknowledged, socket errors and 5xx uncertain, 4xx ignored', () => {
    const base = { latencyMs: 1, servedBy: 'n2', epoch: 1 } as const;
    const samples: Sample[] = [
      { ...base, start: 0, end: 1, op: 'write', key: 'a', status: 201, value: 'v1' },
      { ...base, start: 2, end: 3, op: 'write', key: 'a', status: 0, value: 'v2' },
      { ...base, start: 2, end: 3, op: 'write', key: 'a', status: 409, value: 'v3' },
      { ...base, start: 4, end: 5, op: 'delete', key: 'b', status: 204 },
      { ...base, start: 4, end: 5, op: 'read', key: 'a', status: 200 },
    ];
    const input = mutationsFromSamples(samples);
    assert.deepEqual(
      input.acknowledged.map((m) => [m.key, m.op, m.value]),
      [
        ['a', 'write', 'v1'],
        ['b', 'delete', undefined],
      ],
    );
    assert.deepEqual(
      input.uncertain?.map((m) => m.value),
      ['v2'],
    );
  });

  it('reads each key once, with bounded concurrency', async () => {
    const ms = Array.from({ length: 50 }, (_, i) => w(`k${i % 25}`, `v${i}`, i * 10, i * 10 + 1));
    let inFlight = 0;
    let peak = 0;
    const seen: string[] = [];
    const r = await checkLostWrites(
      { acknowledged: ms },
      async (key) => {
        seen.push(key);
        peak = Math.max(peak, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return `v${Number(key.slice(1)) + 25}`;
      },
      { concurrency: 4 },
    );
    assert.equal(r.ok, true);
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    assert.ok(peak <= 4);
  });
});
