import assert from 'node:assert/strict';
import type { LatencySummary } from '../../loadgen/bench/latency-histogram.js';
import {
  formatInt,
  formatMs,
  median,
  otherLoad,
  pairedMedian,
  ratio,
  renderReport,
  renderTable,
  saturationRatios,
  summarizeFixed,
  summarizeSaturation,
  type FixedSample,
  type ReportView,
  type RunSample,
  type TargetId,
} from '../../loadgen/bench/bench-report.js';

function latency(p99: number, p50 = p99 / 4): LatencySummary {
  return { count: 1000, mean: p50, p50, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 };
}

function run(target: TargetId, round: number, rps: number, p99 = 1000, workload: RunSample['workload'] = 'get-1k'): RunSample {
  return {
    target,
    workload,
    round,
    rps,
    completed: rps * 10,
    errors: 0,
    non2xx: 0,
    latencyUs: latency(p99),
    cpuUsPerRequest: 50,
    otherCores: round / 10,
  };
}

function fixed(target: TargetId, round: number, p99: number, generator: FixedSample['generator'] = 'paced'): FixedSample {
  return { ...run(target, round, 500, p99), generator, rate: 500 };
}

describe('bench-report', () => {
  describe('median', () => {
    it('takes the middle of an odd list and the mean of the middle two of an even one', () => {
      assert.equal(median([3, 1, 2]), 2);
      assert.equal(median([4, 1, 3, 2]), 2.5);
      assert.equal(median([7]), 7);
    });

    it('ignores NaN and is NaN for nothing', () => {
      assert.equal(median([NaN, 5, 1, NaN, 3]), 3);
      assert.ok(Number.isNaN(median([])));
      assert.ok(Number.isNaN(median([NaN])));
    });

    it('does not reorder its input', () => {
      const xs = [3, 1, 2];
      median(xs);
      assert.deepEqual(xs, [3, 1, 2]);
    });
  });

  describe('ratio', () => {
    it('divides, and is NaN for a zero or missing denominator', () => {
      assert.equal(ratio(3, 4), 0.75);
      assert.ok(Number.isNaN(ratio(3, 0)));
      assert.ok(Number.isNaN(ratio(NaN, 4)));
    });
  });

  describe('pairedMedian', () => {
    it('pairs samples by round and skips rounds missing on one side', () => {
      const a = [run('gateway-undici', 1, 100), run('gateway-undici', 2, 300), run('gateway-undici', 3, 999)];
      const b = [run('nginx-1w', 1, 200), run('nginx-1w', 2, 300)];
      assert.equal(
        pairedMedian(a, b, (x, y) => x.rps / y.rps),
        0.75,
      );
    });
  });

  describe('summarizeSaturation', () => {
    it('reports median, min and max req/s and median p99 per target and workload', () => {
      const samples = [
        run('direct', 1, 1000, 900),
        run('direct', 2, 3000, 1100),
        run('direct', 3, 2000, 1000),
        run('direct', 1, 50, 5, 'post-4k'),
      ];
      const cells = summarizeSaturation(samples, ['direct', 'nginx-1w'], ['get-1k', 'post-4k']);
      assert.equal(cells.length, 2, 'no cell for a target without samples');
      const get = cells.find((c) => c.workload === 'get-1k')!;
      assert.deepEqual(
        [get.rounds, get.rps, get.rpsMin, get.rpsMax, get.p99Us, get.cpuUsPerRequest, get.failures],
        [3, 2000, 1000, 3000, 1000, 50, 0],
      );
    });

    it('counts errors and non-2xx answers as failures', () => {
      const bad: RunSample = { ...run('direct', 1, 100), errors: 2, non2xx: 3 };
      assert.equal(summarizeSaturation([bad], ['direct'], ['get-1k'])[0]!.failures, 5);
    });
  });

  describe('saturationRatios', () => {
    it('gives the median of per-round ratios and carries the nginx goal', () => {
      const samples = [
        run('gateway-undici', 1, 400),
        run('nginx-1w', 1, 1000),
        run('gateway-undici', 2, 700),
        run('nginx-1w', 2, 1000),
        run('direct', 1, 2000),
      ];
      const ratios = saturationRatios(samples, ['get-1k']);
      const vsNginx = ratios.find((r) => r.numerator === 'gateway-undici' && r.denominator === 'nginx-1w')!;
      assert.equal(vsNginx.value, 0.55);
      assert.equal(vsNginx.goalAtLeast, 0.5);
      const vsDirect = ratios.find((r) => r.numerator === 'gateway-undici' && r.denominator === 'direct')!;
      assert.equal(vsDirect.value, 0.2);
      assert.equal(vsDirect.goalAtLeast, undefined);
      assert.equal(
        ratios.find((r) => r.numerator === 'gateway-http-proxy'),
        undefined,
        'no ratio without samples',
      );
    });
  });

  describe('summarizeFixed', () => {
    it('computes added p99 over direct per round, per generator', () => {
      const samples = [
        fixed('direct', 1, 1000),
        fixed('gateway-undici', 1, 2500),
        fixed('direct', 2, 3000),
        fixed('gateway-undici', 2, 3500),
        fixed('direct', 1, 10, 'autocannon'),
        fixed('gateway-undici', 1, 40, 'autocannon'),
      ];
      const cells = summarizeFixed(samples, ['direct', 'gateway-undici'], ['get-1k']);
      const paced = cells.find((c) => c.generator === 'paced' && c.target === 'gateway-undici')!;
      assert.equal(paced.addedP99Us, 1000, 'median of +1500 and +500');
      assert.equal(paced.p99Us, 3000);
      assert.equal(cells.find((c) => c.generator === 'paced' && c.target === 'direct')!.addedP99Us, undefined);
      assert.equal(cells.find((c) => c.generator === 'autocannon' && c.target === 'gateway-undici')!.addedP99Us, 30);
    });

    it('keeps the spread of the per-round added p99 and the worst generator lateness', () => {
      const late = (s: FixedSample, max: number): FixedSample => ({ ...s, sendLateUs: { p99: max / 2, max } });
      const samples = [
        fixed('direct', 1, 1000),
        late(fixed('gateway-undici', 1, 2500), 300),
        fixed('direct', 2, 3000),
        late(fixed('gateway-undici', 2, 3500), 9000),
        fixed('direct', 3, 1000),
        late(fixed('gateway-undici', 3, 41000), 200),
      ];
      const cells = summarizeFixed(samples, ['direct', 'gateway-undici'], ['get-1k']);
      const gw = cells.find((c) => c.generator === 'paced' && c.target === 'gateway-undici')!;
      assert.equal(gw.addedP99Us, 1500, 'median of +1500, +500 and +40000: one stalled round does not move it');
      assert.deepEqual(gw.addedP99RangeUs, { min: 500, max: 40000 });
      assert.equal(gw.sendLateMaxUs, 9000);
      assert.ok(Number.isNaN(cells.find((c) => c.target === 'direct')!.sendLateMaxUs), 'not measured for these runs');
    });
  });

  describe('otherLoad', () => {
    it('summarizes the load of other processes, or is undefined when unmeasured', () => {
      assert.deepEqual(otherLoad([run('direct', 1, 1), run('direct', 3, 1), run('direct', 5, 1)]), { median: 0.3, max: 0.5 });
      assert.equal(otherLoad([{ ...run('direct', 1, 1), otherCores: undefined }]), undefined);
    });
  });

  describe('formatting', () => {
    it('formats counts and milliseconds, with a dash for missing values', () => {
      assert.equal(formatInt(12345.6), '12,346');
      assert.equal(formatInt(NaN), '—');
      assert.equal(formatMs(1234), '1.23');
      assert.equal(formatMs(undefined), '—');
    });
  });

  describe('renderTable', () => {
    const table = {
      title: 'T',
      header: ['name', 'value'],
      rows: [
        ['a', '1'],
        ['longer', '22|3'],
      ],
    };

    it('aligns plain-text columns: first left, the rest right', () => {
      assert.equal(renderTable(table, 'text'), ['T', 'name    value', '------  -----', 'a           1', 'longer   22|3'].join('\n'));
    });

    it('renders Markdown with right-aligned number columns and escaped pipes', () => {
      assert.equal(
        renderTable(table, 'markdown'),
        ['**T**', '', '| name | value |', '| --- | ---: |', '| a | 1 |', '| longer | 22\\|3 |'].join('\n'),
      );
    });
  });

  describe('renderReport', () => {
    const samples = [run('direct', 1, 10000), run('gateway-undici', 1, 2000), run('nginx-1w', 1, 5000)];
    const fixedSamples = [
      fixed('direct', 1, 1000),
      { ...fixed('gateway-undici', 1, 4000), sendLateUs: { p99: 700, max: 1250 } },
      fixed('nginx-1w', 1, 1500),
    ];
    const view: ReportView = {
      heading: 'Proxy bench test',
      workloads: [{ name: 'get-1k', label: 'GET 1 KB' }],
      targets: ['direct', 'gateway-undici', 'nginx-1w'],
      saturationTitle: 'Saturation',
      saturation: summarizeSaturation(samples, ['direct', 'gateway-undici', 'nginx-1w'], ['get-1k']),
      ratios: saturationRatios(samples, ['get-1k']),
      fixedTargets: ['direct', 'gateway-undici', 'nginx-1w'],
      fixedTitles: { paced: 'Paced', autocannon: 'Autocannon' },
      fixed: summarizeFixed(fixedSamples, ['direct', 'gateway-undici', 'nginx-1w'], ['get-1k']),
      notes: ['a note'],
    };

    it('shows figures next to their goals, met or missed', () => {
      const text = renderReport(view, 'text');
      assert.match(text, /gateway \(undici\) \/ nginx \(1 worker\)\s+≥ 0\.50\s+0\.40 ✗/);
      assert.match(
        text,
        /gateway \(undici\)\s+GET 1 KB.*\+3\.00\s+\+3\.00 to \+3\.00\s+≤ 2\.00 ✗\s+50\s+0\.10\s+1\.25$/m,
        'added p99, its range over rounds, goal, CPU µs/req, others, then how late the generator sent',
      );
      assert.match(text, /nginx \(1 worker\)\s+GET 1 KB.*\+0\.50\s+≤ 2\.00 ✓/);
      assert.match(text, /\* a note/);
      assert.doesNotMatch(text, /Autocannon/, 'a generator without samples gets no table');
    });

    it('renders the same content as Markdown', () => {
      const md = renderReport(view, 'markdown');
      assert.match(md, /^### Proxy bench test/);
      assert.match(md, /\| gateway \(undici\) \/ nginx \(1 worker\) \| ≥ 0\.50 \| 0\.40 ✗ \|/);
      assert.match(md, /^- a note$/m);
    });
  });
});
