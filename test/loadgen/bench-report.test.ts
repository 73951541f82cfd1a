import assert from 'node:assert/strict';
import type { LatencySummary } from '../../loadgen/bench/latency-histogram.js';
import {
  cpuRatios,
  cpuRatioTable,
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
  TARGET_LABELS,
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

/** A saturation run whose only figure that matters is its CPU µs per request (undefined: not measured). */
function cpuRun(target: TargetId, round: number, cpu: number | undefined, workload: RunSample['workload'] = 'get-1k'): RunSample {
  return { ...run(target, round, 1000, 1000, workload), cpuUsPerRequest: cpu };
}

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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

  describe('the llhttp floor in the saturation ratios', () => {
    it('sets the raw engine against the llhttp floor, and the llhttp floor against the 0.8 × nginx goal', () => {
      const samples = [run('gateway-compiled', 1, 600), run('llhttp-floor', 1, 750), run('nginx-1w', 1, 1000)];
      const ratios = saturationRatios(samples, ['get-1k']);
      const vsFloor = ratios.find((r) => r.numerator === 'gateway-compiled' && r.denominator === 'llhttp-floor')!;
      assert.equal(vsFloor.value, 0.8);
      assert.equal(vsFloor.goalAtLeast, undefined);
      const floorVsNginx = ratios.find((r) => r.numerator === 'llhttp-floor' && r.denominator === 'nginx-1w')!;
      assert.equal(floorVsNginx.value, 0.75);
      assert.equal(floorVsNginx.goalAtLeast, 0.8);
    });
  });

  describe('cpuRatios', () => {
    // Per round 60/40, 55/50, 130/100: the median of the ratios is 1.3; the ratio of the medians (60/50) would be 1.2.
    const samples = [
      cpuRun('gateway-compiled', 1, 60),
      cpuRun('nginx-1w', 1, 40),
      cpuRun('gateway-compiled', 2, 55),
      cpuRun('nginx-1w', 2, 50),
      cpuRun('gateway-compiled', 3, 130),
      cpuRun('nginx-1w', 3, 100),
      cpuRun('llhttp-floor', 1, 64),
      cpuRun('llhttp-floor', 2, 80),
      cpuRun('llhttp-floor', 3, 170),
      cpuRun('tcp-pipe', 1, undefined),
      cpuRun('tcp-pipe', 2, undefined),
    ];
    const figures = cpuRatios(samples, ['get-1k']);
    const find = (num: TargetId, den: TargetId) => figures.find((r) => r.numerator === num && r.denominator === den);

    it('is the median of per-round ratios of CPU µs per request, with the ≤ 1.3 goal against nginx', () => {
      const vsNginx = find('gateway-compiled', 'nginx-1w')!;
      assert.equal(vsNginx.value, 1.3);
      assert.equal(vsNginx.goalAtMost, 1.3);
      assert.equal(vsNginx.goalAtLeast, undefined);
      assert.equal(find('gateway-raw', 'nginx-1w'), undefined, 'no ratio without samples');
    });

    it('sets the llhttp floor against the same goal, and the compiled gateway against the llhttp floor without one', () => {
      const floorVsNginx = find('llhttp-floor', 'nginx-1w')!;
      assert.equal(floorVsNginx.value, 1.6, 'median of 1.6, 1.6 and 1.7');
      assert.equal(floorVsNginx.goalAtMost, 1.3);
      const vsFloor = find('gateway-compiled', 'llhttp-floor')!;
      assert.equal(vsFloor.value, 130 / 170, 'median of 60/64, 55/80 and 130/170');
      assert.equal(vsFloor.goalAtMost, undefined);
    });

    it('is NaN where CPU was not measured', () => {
      assert.ok(Number.isNaN(find('tcp-pipe', 'nginx-1w')!.value));
      assert.ok(Number.isNaN(find('gateway-compiled', 'tcp-pipe')!.value));
    });

    it('renders ✓ at or under its goal, ✗ over it, and a bare dash where unmeasured', () => {
      const view = {
        workloads: [{ name: 'get-1k' as const, label: 'GET 1 KB' }],
        cpuRatios: figures,
      } as unknown as ReportView;
      const table = cpuRatioTable(view);
      assert.equal(table.title, 'CPU per request ratios (median of per-round ratios; lower is better)');
      const row = (num: TargetId, den: TargetId): readonly string[] =>
        table.rows.find((r) => r[0] === `${TARGET_LABELS[num]} / ${TARGET_LABELS[den]}`)!;
      assert.deepEqual(row('gateway-compiled', 'nginx-1w').slice(1), ['≤ 1.30', '1.30 ✓']);
      assert.deepEqual(row('llhttp-floor', 'nginx-1w').slice(1), ['≤ 1.30', '1.60 ✗']);
      assert.deepEqual(row('gateway-compiled', 'llhttp-floor').slice(1), ['—', '0.76']);
      assert.deepEqual(row('tcp-pipe', 'nginx-1w').slice(1), ['—', '—']);
      assert.equal(table.rows.length, 5, 'gateway-raw / nginx has no samples, so no row');
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
      cpuRatios: cpuRatios([...samples, { ...run('gateway-compiled', 1, 3000), cpuUsPerRequest: 60 }], ['get-1k']),
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
        /gateway \(undici\)\s+GET 1 KB.*\+3\.00\s+\+3\.00 to \+3\.00\s+≤ 2\.00 ✗\s+50\.0\s+0\.10\s+1\.25$/m,
        'added p99, its range over rounds, goal, CPU µs/req, others, then how late the generator sent',
      );
      assert.match(text, /nginx \(1 worker\)\s+GET 1 KB.*\+0\.50\s+≤ 2\.00 ✓/);
      assert.match(text, /\* a note/);
      assert.match(text, /^CPU per request ratios \(median of per-round ratios; lower is better\)$/m);
      assert.match(text, new RegExp(`${escaped(TARGET_LABELS['gateway-compiled'])} / nginx \\(1 worker\\)\\s+≤ 1\\.30\\s+1\\.20 ✓`));
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
