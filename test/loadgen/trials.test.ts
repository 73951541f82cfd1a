import assert from 'node:assert/strict';
import { formatMeanStdev, statsOf, trialStats, twoSignificant } from '../../loadgen/analysis/trials.js';
import { trialRows } from '../../loadgen/report/report-model.js';

describe('trials', () => {
  it('min, mean, sample stdev and max', () => {
    const s = trialStats([2, 4, 4, 4, 5, 5, 7, 9]);
    assert.equal(s.n, 8);
    assert.equal(s.min, 2);
    assert.equal(s.max, 9);
    assert.equal(s.mean, 5);
    // Sample (n - 1) stdev: sqrt(32 / 7), not the population 2.
    assert.ok(Math.abs(s.stdev - Math.sqrt(32 / 7)) < 1e-12);
  });

  it('one trial has no stdev, none has no stats', () => {
    assert.ok(Number.isNaN(trialStats([3]).stdev));
    assert.equal(trialStats([3]).mean, 3);
    assert.equal(trialStats([]).n, 0);
    assert.equal(formatMeanStdev(trialStats([46.4]), 's'), '46.4 s (n=1)');
    assert.equal(formatMeanStdev(trialStats([]), 's'), '–');
  });

  it('picks any numeric field and skips trials without it', () => {
    const trials = [{ dns: 45_000 }, { dns: null }, { dns: 47_000 }, {}];
    const s = statsOf(trials, (t: { dns?: number | null }) => t.dns);
    assert.equal(s.n, 2);
    assert.equal(s.mean, 46_000);
  });

  it('formats like the paper: "46.4 s ± 0.97 s"', () => {
    const s = { n: 5, min: 45, mean: 46.4, stdev: 0.9712, max: 48 };
    assert.equal(formatMeanStdev(s, 's'), '46.4 s ± 0.97 s');
    assert.equal(formatMeanStdev({ ...s, mean: 3267.4, stdev: 15.28 }, 'ms', 0), '3267 ms ± 15 ms');
    assert.equal(formatMeanStdev({ ...s, mean: 0.333, stdev: 0.577 }, ''), '0.3 ± 0.58');
    assert.equal(twoSignificant(0.9712), '0.97');
    assert.equal(twoSignificant(1.26), '1.3');
    assert.equal(twoSignificant(0), '0');
  });

  it('DNS → INSYNC is shown in seconds for a real Route 53 (about a minute) and in ms when every trial took under a second', () => {
    const label = 'DNS change → INSYNC';
    const dns = (values: number[]) => trialRows(values.map((v) => ({ dnsToInsyncMs: v }))).find((r) => r.label === label)!;
    const fast = dns([19, 25]);
    assert.equal(fast.unit, 'ms');
    assert.equal(fast.stats.mean, 22);
    const slow = dns([45_000, 61_000]);
    assert.equal(slow.unit, 's');
    assert.equal(slow.stats.mean, 53);
  });
});
