import assert from 'node:assert/strict';
import { renderTable, type RunSample, type TargetId } from '../../loadgen/bench/bench-report.js';
import { edgeFigures, edgeTable } from '../../loadgen/bench/edge-report.js';
import type { WorkloadName } from '../../loadgen/bench/bench-workloads.js';

function run(target: TargetId, round: number, rps: number, cpu: number, workload: WorkloadName = 'get-1k'): RunSample {
  const latencyUs = { count: 1, mean: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1 };
  return { target, workload, round, rps, completed: rps, errors: 0, non2xx: 0, latencyUs, cpuUsPerRequest: cpu };
}

const value = (figures: ReturnType<typeof edgeFigures>, key: string, workload: WorkloadName = 'get-1k') =>
  figures.find((f) => f.key === key && f.workload === workload);

describe('edge report (HTTPS and h2 figures of the proxy bench)', () => {
  it('sets the HTTPS ratio to nginx against the plain one, round by round, in req/s and CPU per request', () => {
    const samples = [
      // Round 1: plain 0.5 of nginx's req/s, HTTPS 0.45 → 0.9 of the plain ratio; CPU 4× nginx plain, 4.4× over TLS → 1.1.
      run('gateway-raw', 1, 5000, 40),
      run('nginx-1w', 1, 10_000, 10),
      run('gateway-raw-tls', 1, 4500, 66),
      run('nginx-1w-tls', 1, 10_000, 15),
      // Round 2: everything twice as fast (a quieter host): the same ratios.
      run('gateway-raw', 2, 10_000, 20),
      run('nginx-1w', 2, 20_000, 5),
      run('gateway-raw-tls', 2, 9000, 33),
      run('nginx-1w-tls', 2, 20_000, 7.5),
    ];
    const f = edgeFigures(samples, ['get-1k']);
    assert.equal(value(f, 'plain_rps_vs_nginx')?.value, 0.5);
    assert.equal(value(f, 'https_rps_vs_nginx')?.value, 0.45);
    assert.ok(Math.abs(value(f, 'https_rps_ratio_vs_plain')!.value - 0.9) < 1e-9);
    assert.equal(value(f, 'https_rps_ratio_vs_plain')?.met, true, '0.9 is within 10 %');
    assert.ok(Math.abs(value(f, 'https_cpu_ratio_vs_plain')!.value - 1.1) < 1e-9);
    assert.equal(value(f, 'https_cpu_ratio_vs_plain')?.rounds, 2);
    // No h2 runs: no h2 figures rather than NaN ones.
    assert.equal(value(f, 'h2_cpu_vs_floor'), undefined);
  });

  it('misses the HTTPS goal when TLS costs the gateway more than 10 % beyond what it costs nginx', () => {
    const samples = [
      run('gateway-raw', 1, 5000, 40),
      run('nginx-1w', 1, 10_000, 10),
      run('gateway-raw-tls', 1, 3000, 80),
      run('nginx-1w-tls', 1, 10_000, 12),
    ];
    const f = edgeFigures(samples, ['get-1k']);
    assert.equal(value(f, 'https_rps_ratio_vs_plain')?.met, false);
    assert.equal(value(f, 'https_cpu_ratio_vs_plain')?.met, false);
  });

  it("judges h2 by the gateway's CPU per request against the h2 floor's, both as deployed, and gives its ratio to nginx", () => {
    const samples = [
      run('gateway-h2-compiled', 1, 3000, 105, 'post-4k'),
      run('h2-floor-compiled', 1, 3300, 100, 'post-4k'),
      run('nginx-1w-h2', 1, 12_000, 25, 'post-4k'),
      run('gateway-h2-compiled', 1, 3000, 120, 'get-1k'),
      run('h2-floor-compiled', 1, 3300, 100, 'get-1k'),
    ];
    const f = edgeFigures(samples, ['get-1k', 'post-4k']);
    assert.equal(value(f, 'h2_compiled_cpu_vs_floor', 'post-4k')?.value, 1.05);
    assert.equal(value(f, 'h2_compiled_cpu_vs_floor', 'post-4k')?.met, true);
    assert.equal(value(f, 'h2_compiled_cpu_vs_floor', 'get-1k')?.met, false, '1.2 × the floor');
    assert.equal(value(f, 'h2_compiled_rps_vs_nginx', 'post-4k')?.value, 0.25);
    assert.equal(value(f, 'h2_compiled_cpu_vs_nginx', 'post-4k')?.value, 4.2);
    assert.equal(value(f, 'h2_compiled_rps_vs_nginx', 'get-1k'), undefined, 'nginx h2 did not run GET');
  });

  it('gives the pair under tsx as a figure without a goal (keepNames costs the gateway more than the floor)', () => {
    const f = edgeFigures([run('gateway-h2', 1, 3000, 130), run('h2-floor', 1, 3300, 100)], ['get-1k']);
    assert.equal(value(f, 'h2_cpu_vs_floor')?.value, 1.3);
    assert.equal(value(f, 'h2_cpu_vs_floor')?.met, undefined);
    assert.equal(value(f, 'h2_compiled_cpu_vs_floor'), undefined, 'the compiled pair did not run');
  });

  it('pairs only runs of the same round, and counts a missing CPU figure as not met', () => {
    const samples = [
      run('gateway-h2-compiled', 1, 3000, 100),
      run('h2-floor-compiled', 2, 3000, 100),
      { ...run('gateway-h2-compiled', 3, 1, 1), cpuUsPerRequest: undefined },
      run('h2-floor-compiled', 3, 1, 1),
    ];
    const f = edgeFigures(samples, ['get-1k']);
    const h2 = value(f, 'h2_compiled_cpu_vs_floor');
    assert.equal(h2?.rounds, 1, 'round 3 only');
    assert.ok(Number.isNaN(h2!.value));
    assert.equal(h2?.met, false);
  });

  it('renders a row per figure that ran, with its goal and ✓ or ✗', () => {
    const samples = [run('gateway-h2-compiled', 1, 3000, 105), run('h2-floor-compiled', 1, 3300, 100)];
    const table = edgeTable(edgeFigures(samples, ['get-1k']), [{ name: 'get-1k', label: 'GET 1 KB' }]);
    const text = renderTable(table, 'markdown');
    assert.match(text, /\| CPU µs\/req: gateway, h2, compiled .* \/ h2 floor, compiled .* \| ≤ 1\.10 \| 1\.05 ✓ \|/);
    assert.equal(table.rows.length, 2, 'CPU and req/s against the floor; nothing about nginx or HTTPS');
  });
});
