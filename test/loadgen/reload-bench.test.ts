// The reload-under-load part of the proxy bench: its configs are reloads the gateway applies
// (checked on a real gateway), its reading of the gateway's log lines, its summary and table,
// and the phase itself, small, against the gateway CLI.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import { Gateway, parseGatewayConfig } from '../../gateway/index.js';
import { createLogger } from '../../platform/logger.js';
import { type BenchCertificate, createBenchCertificate } from '../../loadgen/bench/bench-certificate.js';
import { parseBenchOptions, type BenchOptions } from '../../loadgen/bench/bench-options.js';
import { renderTable } from '../../loadgen/bench/bench-report.js';
import { startUpstream, type StartedChild } from '../../loadgen/bench/bench-targets.js';
import { ChildRegistry } from '../../loadgen/bench/child-processes.js';
import { EXTRA_APP, reloadGatewayConfig, type ReloadConfigInput } from '../../loadgen/bench/reload-config.js';
import { parseReloadLine } from '../../loadgen/bench/reload-log.js';
import { runReloadPhase } from '../../loadgen/bench/reload-phase.js';
import { reloadTable, summarizeReload, type ReloadRun, type ReloadSample } from '../../loadgen/bench/reload-report.js';

function options(argv: string[]): BenchOptions {
  const o = parseBenchOptions(argv, {});
  assert.notEqual(o, 'help');
  return o as BenchOptions;
}

describe('proxy bench: reload under load', function () {
  this.timeout(60_000);
  let cert: BenchCertificate;

  before(async () => {
    cert = await createBenchCertificate();
  });
  after(() => cert.remove());

  describe('reloadGatewayConfig', () => {
    it('alternates adding and removing an app and changing the served pool, each step a reload the gateway applies', async () => {
      const input: ReloadConfigInput = {
        upstreamUrl: 'http://127.0.0.1:9',
        certFile: cert.certFile,
        keyFile: cert.keyFile,
        workers: 1,
        adminTokenEnv: 'BENCH_TEST_TOKEN',
      };
      const gw = await Gateway.start({ config: parseGatewayConfig(reloadGatewayConfig(0, input)), logger: createLogger('silent') });
      try {
        const odd = await gw.reload(parseGatewayConfig(reloadGatewayConfig(1, input)));
        assert.deepEqual([odd.added, odd.changed, odd.removed], [[EXTRA_APP], ['bench'], []]);
        const even = await gw.reload(parseGatewayConfig(reloadGatewayConfig(2, input)));
        assert.deepEqual([even.added, even.changed, even.removed], [[], ['bench'], [EXTRA_APP]]);
        assert.equal(gw.listeners[0]!.url.startsWith('https://'), true);
      } finally {
        await gw.close();
      }
    });
  });

  describe('parseReloadLine', () => {
    it("reads the gateway's applied and failed lines, with when, what changed and the error code", () => {
      const applied = parseReloadLine(
        '{"level":"info","time":"2026-12-06T00:15:20.123Z","component":"gateway","file":"/tmp/g.json",' +
          '"added":["x"],"changed":["bench"],"removed":[],"unchanged":[],"event":"gateway.reload.applied"}',
      );
      assert.deepEqual(applied, {
        outcome: 'applied',
        atMs: Date.parse('2026-12-06T00:15:20.123Z'),
        added: ['x'],
        changed: ['bench'],
        removed: [],
        file: '/tmp/g.json',
      });
      const failed = parseReloadLine(
        '{"level":"error","time":"2026-12-06T00:15:21.000Z","code":"NW_GW_RELOAD_INVALID","file":"/tmp/g.json",' +
          '"message":"bad","event":"gateway.reload.failed"}',
      );
      assert.equal(failed?.outcome, 'failed');
      assert.equal(failed?.code, 'NW_GW_RELOAD_INVALID');
    });

    it('ignores other events, banner text and broken lines', () => {
      assert.equal(parseReloadLine('{"level":"info","time":"2026-12-06T00:15:20.123Z","event":"gateway.tls.reloaded"}'), undefined);
      assert.equal(parseReloadLine('  traffic:  https://127.0.0.1:1'), undefined);
      assert.equal(parseReloadLine('{"event":"gateway.reload.applied","time":'), undefined);
      assert.equal(parseReloadLine('{"event":"gateway.reload.applied"}'), undefined, 'no time: nothing to measure');
    });
  });

  describe('summarizeReload and reloadTable', () => {
    const sample = (index: number, reloadMs: number, before: number, after: number): ReloadSample => ({
      index,
      outcome: 'applied',
      reloadMs,
      observedMs: reloadMs + 1,
      added: [],
      changed: ['bench'],
      removed: [],
      cpuMsBefore: before,
      cpuMsAfter: after,
    });
    const latencyUs = { count: 10, mean: 1000, p50: 1000, p90: 2000, p99: 3000, p999: 4000, max: 5000 };
    const run = (errors: number, reloads: ReloadSample[]): ReloadRun => ({
      via: 'sighup',
      workers: 1,
      intervalS: 1,
      rate: 1000,
      windowMs: 500,
      reloads,
      load: [
        { workload: 'get-1k', label: 'GET 1 KB', rate: 500, completed: 1000, errors, non2xx: 0, latencyUs },
        { workload: 'post-4k', label: 'POST 4 KB', rate: 500, completed: 998, errors: 0, non2xx: 2, latencyUs },
      ],
    });

    it('gives the reload time and extra CPU as median and max, and failed requests over every workload', () => {
      const s = summarizeReload(run(0, [sample(1, 10, 40, 60), sample(2, 30, 40, 45), sample(3, 20, 50, 90)]));
      assert.deepEqual(s.reloadMs, { median: 20, max: 30 });
      assert.deepEqual(s.extraCpuMs, { median: 20, max: 40 });
      assert.equal(s.failedRequests, 2, 'the two non-2xx POSTs');
      assert.equal(s.requests, 1998);
      assert.equal(s.goalMet, false);
      const table = renderTable(reloadTable(run(0, []), s), 'markdown');
      assert.match(table, /\| failed requests \(errors \+ non-2xx\) of all sent \| 0 \| 2 of 1,998 ✗ \|/);
      assert.match(table, /\| reload time, signal → gateway.reload.applied \(its log\), median \(max\) ms \| — \| 20 \(30\) \|/);
    });

    it('meets the goal only when every reload applied and no request failed', () => {
      const ok = run(0, [sample(1, 10, 1, 1)]);
      const clean = { ...ok, load: ok.load.map((l) => ({ ...l, non2xx: 0 })) };
      assert.equal(summarizeReload(clean).goalMet, true);
      assert.equal(summarizeReload({ ...clean, reloads: [{ ...sample(1, 10, 1, 1), outcome: 'no-answer' }] }).goalMet, false);
    });
  });

  describe('runReloadPhase', () => {
    const registry = new ChildRegistry();
    let upstream: StartedChild;
    before(async () => {
      upstream = await startUpstream(registry);
    });
    after(() => registry.stopAll());

    for (const via of ['sighup', 'admin'] as const) {
      it(`reloads the gateway CLI by ${via} under a paced load and reports each reload`, async () => {
        const opts = options(['--quick', '--reloads', '2', '--reload-rate', '100', '--reload-interval', '0.4', '--reload-via', via]);
        const lines: string[] = [];
        const run = await runReloadPhase({ registry, upstreamUrl: upstream.url, cert, opts, log: (l) => lines.push(l) });
        assert.equal(run.reloads.length, 2);
        assert.deepEqual(
          run.reloads.map((r) => [r.outcome, r.added, r.removed]),
          [
            ['applied', [EXTRA_APP], []],
            ['applied', [], [EXTRA_APP]],
          ],
          lines.join('\n'),
        );
        for (const r of run.reloads) {
          assert.ok(r.reloadMs !== undefined && r.reloadMs >= 0 && r.reloadMs < 10_000);
          assert.ok(r.observedMs !== undefined && r.observedMs >= 0);
          assert.ok(r.cpuMsAfter !== undefined && r.cpuMsBefore !== undefined);
        }
        const s = summarizeReload(run);
        assert.equal(s.failedRequests, 0);
        // 100 req/s for 1 s lead-in + 2 × 0.4 s + 1 s tail.
        assert.ok(Math.abs(s.requests - 280) <= 2, `${s.requests} requests`);
      });
    }
  });
});
