// The proxy bench's results say which generator loaded saturation: the table title, the notes,
// the heading and the JSON parameters, for autocannon (the default) and for --generator wrk.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { type BenchOptions, parseBenchOptions } from '../../loadgen/bench/bench-options.js';
import type { RunSample, TargetId } from '../../loadgen/bench/bench-report.js';
import { buildResults, type MachineInfo } from '../../loadgen/bench/bench-results.js';

const MACHINE: MachineInfo = {
  cpus: 2,
  cpuModel: 'Test CPU',
  totalMemGiB: 4,
  platform: 'linux',
  kernel: '6.1',
  node: 'v24.0.0',
  nginx: '1.22.1',
  autocannon: '8.0.0',
  loadavgAtStart: [0, 0, 0],
  loadavgAtEnd: [0, 0, 0],
};

function sample(target: TargetId, rps: number): RunSample {
  const latencyUs = { count: 10, mean: 100, p50: 100, p90: 200, p99: 300, p999: NaN, max: 400 };
  return { target, workload: 'get-1k', round: 1, rps, completed: rps, errors: 0, non2xx: 0, latencyUs, cpuUsPerRequest: 50, otherCores: 0 };
}

function results(argv: string[], machine: MachineInfo = MACHINE) {
  const opts = parseBenchOptions(argv, {}) as BenchOptions;
  const targets = opts.targets;
  return buildResults({
    startedAt: new Date('2026-12-06T10:00:00Z'),
    finishedAt: new Date('2026-12-06T10:01:00Z'),
    machine,
    opts,
    targets,
    saturation: targets.map((t) => sample(t, 1000)),
    fixedRates: new Map(),
    rateReference: 'gateway-compiled',
    fixed: [],
    negotiated: {},
    reload: undefined,
  });
}

describe('bench-results: the saturation generator', () => {
  it('names autocannon in the bench process by default, and not wrk', () => {
    const { view, document } = results(['--quick', '--targets', 'gateway-compiled,nginx-1w']);
    assert.match(view.saturationTitle, /^Saturation: closed loop, autocannon \(in the bench process\), 50 connections, /);
    assert.doesNotMatch(view.saturationTitle, /wrk/);
    assert.match(view.notes[0]!, /^Saturation load generator: autocannon, in the bench process/);
    assert.equal((document.parameters as { generator: string }).generator, 'autocannon');
  });

  it('names wrk for plain HTTP and what still loads the HTTPS and h2 targets', () => {
    const machine = { ...MACHINE, wrk: 'debian/4.1.0-3+b2' };
    const { view, document } = results(
      ['--quick', '--generator', 'wrk', '--targets', 'gateway-compiled,nginx-1w,nginx-1w-tls,gateway-h2'],
      machine,
    );
    assert.ok(
      view.saturationTitle.startsWith(
        'Saturation: closed loop, wrk (1 thread, C, its own process) on plain HTTP/1.1, ' +
          "autocannon (in the bench process) on HTTPS/1.1, the bench's h2 loop (in the bench process) on h2, " +
          '50 connections, 2 s per run after 0.5 s warm-up (wrk: whole seconds, rounded up)',
      ),
      view.saturationTitle,
    );
    assert.match(
      view.notes[0]!,
      /^Saturation load generator for plain-HTTP targets: wrk debian\/4\.1\.0-3\+b2 \(--generator wrk: C, 1 thread, 50 connections/,
    );
    assert.match(view.notes[0]!, /HTTPS\/1\.1 targets are still loaded by autocannon/);
    assert.ok(view.notes.some((n) => n.includes('HTTPS/1.1 runs use autocannon (not wrk)')));
    assert.match(view.heading, /, wrk debian\/4\.1\.0-3\+b2$/);
    assert.equal((document.parameters as { generator: string }).generator, 'wrk');
    assert.equal((document.machine as MachineInfo).wrk, 'debian/4.1.0-3+b2');
  });

  it('says nothing of HTTPS/1.1 or h2 when only plain targets ran', () => {
    const { view } = results(['--quick', '--generator', 'wrk', '--targets', 'gateway-compiled,nginx-1w']);
    assert.match(
      view.saturationTitle,
      /^Saturation: closed loop, wrk \(1 thread, C, its own process\) on plain HTTP\/1\.1, 50 connections/,
    );
    assert.doesNotMatch(view.notes[0]!, /HTTPS/);
  });
});

describe('bench-results: CPU per request ratios', () => {
  it('puts them in the JSON beside the req/s ratios, each with its goal and whether it was met, and the raw goals', () => {
    const { document, view } = results(['--targets', 'gateway-compiled,llhttp-floor,nginx-1w,tcp-pipe']);
    const doc = document as {
      cpuRatios: Record<string, Record<string, number>>;
      cpuRatioDetails: Array<{ numerator: string; denominator: string; value: number; goalAtMost?: number; met?: boolean }>;
      ratios: Record<string, Record<string, number>>;
      goals: Record<string, number>;
    };
    // Every sample costs 50 µs per request and makes 1000 req/s: every ratio is 1.
    assert.equal(doc.cpuRatios['llhttp_floor/nginx_1w']?.['get-1k'], 1);
    assert.equal(doc.cpuRatios['gateway_compiled/llhttp_floor']?.['get-1k'], 1);
    assert.equal(doc.ratios['llhttp_floor/nginx_1w']?.['get-1k'], 1);
    const floor = doc.cpuRatioDetails.find((r) => r.numerator === 'llhttp-floor' && r.denominator === 'nginx-1w');
    assert.deepEqual([floor?.goalAtMost, floor?.met], [1.3, true]);
    const noGoal = doc.cpuRatioDetails.find((r) => r.numerator === 'gateway-compiled' && r.denominator === 'tcp-pipe');
    assert.equal(noGoal?.met, undefined);
    assert.equal(doc.goals.rawCpuAtMostTimesNginx1w, 1.3);
    assert.equal(doc.goals.rawRpsAtLeastTimesNginx1w, 0.8);
    assert.equal(doc.goals.rawRpsAtLeastTimesHttpProxy, 3);
    assert.equal(view.cpuRatios.length, 5, 'gateway-raw did not run');
  });
});
