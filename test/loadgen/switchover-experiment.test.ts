import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import { startEmbeddedEnvironment } from '../../loadgen/experiments/embedded-environment.js';
import { fenceDetail, trialLine } from '../../loadgen/experiments/switchover-command.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { runSwitchoverExperiment } from '../../loadgen/experiments/switchover-experiment.js';
import { parseXml } from '../support/xml-well-formed.js';

describe('switchover experiment (embedded system)', function () {
  this.timeout(60_000);

  it('migrates under load with zero failed requests and zero lost writes, and writes the reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nw-exp-'));
    const result = await runSwitchoverExperiment({
      trials: 1,
      gateways: 2,
      durationS: 3,
      handoverAtS: 1,
      connectionsPerGateway: 3,
      dnsPropagationMs: 100,
      workload: { readRatio: 0.2, keys: 200, distribution: 'zipfian' },
      outDir: out,
    });
    const [t] = result.trials;
    assert.equal(result.last.log.status, 'done', JSON.stringify(result.last.log.error));
    assert.equal(t?.failedRequests, 0);
    assert.equal(t?.lostWrites, 0);
    assert.ok(result.last.run.lostWrites!.checked >= 200, 'every pre-loaded key was checked at N2');
    assert.ok((t?.firstN2AfterMs ?? -1) >= 0, 'N2 served after the handover');
    const served = new Set(result.last.run.samples.map((s) => s.servedBy));
    assert.ok(served.has('n1') && served.has('n2'));
    for (const f of [result.reports.json, result.reports.markdown, result.reports.chart]) assert.ok(existsSync(f), f);
    assert.doesNotThrow(() => parseXml(readFileSync(result.reports.chart, 'utf8')));
  });

  it('runs the same trial with open-loop load at a fixed rate per gateway (latency from due time)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nw-exp-fixed-'));
    const result = await runSwitchoverExperiment({
      trials: 1,
      gateways: 2,
      durationS: 3,
      handoverAtS: 1,
      connectionsPerGateway: 16,
      ratePerGateway: 100,
      dnsPropagationMs: 100,
      workload: { readRatio: 0.5, keys: 100, distribution: 'uniform' },
      outDir: out,
    });
    const [t] = result.trials;
    assert.equal(result.last.log.status, 'done', JSON.stringify(result.last.log.error));
    assert.equal(t?.failedRequests, 0);
    assert.equal(t?.lostWrites, 0);
    const samples = result.last.run.samples;
    // Two gateways at 100 req/s each for at least the 3 s: about 600 requests, evenly due.
    assert.ok(samples.length >= 500, `${samples.length} requests`);
    for (const g of ['t1g0', 't1g1']) {
      const due = samples
        .filter((s) => s.op === 'write' && s.value?.startsWith(`${g}-`))
        .map((s) => s.start)
        .sort((a, b) => a - b);
      assert.ok(due.length > 50, `${g}: ${due.length} writes`);
      // Open loop: every request is due on the 10 ms grid of its gateway (a closed loop sends whenever a reply came back).
      for (const t of due) {
        const offGrid = (t - due[0]!) % 10;
        assert.ok(Math.min(offGrid, 10 - offGrid) < 1e-6, `${g}: due at ${t} is off the 10 ms grid from ${due[0]}`);
      }
    }
    const served = new Set(samples.map((s) => s.servedBy));
    assert.ok(served.has('n1') && served.has('n2'));
  });

  it('after a rollback checks acknowledged writes at N1, where the app stayed, and says why it rolled back', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nw-exp-rollback-'));
    const failing: SyncHook = async () => {
      throw new Error('deliberate failure in the sync phase');
    };
    const result = await runSwitchoverExperiment({
      trials: 1,
      gateways: 2,
      durationS: 2,
      handoverAtS: 0.5,
      connectionsPerGateway: 2,
      dnsPropagationMs: 100,
      workload: { readRatio: 0.2, keys: 100, distribution: 'uniform' },
      outDir: out,
      startEnvironment: async (trial) => {
        const env = await startEmbeddedEnvironment({ gateways: 2, dnsPropagationMs: 100 }, trial);
        env.syncHooks.set('fail', failing);
        // The failing hook runs last, after the copy: N2 then holds the pre-loaded keys but not the writes made since.
        return { ...env, sync: { ...env.sync, hooks: [...env.sync.hooks, 'fail'] } };
      },
    });
    const [t] = result.trials;
    assert.equal(result.last.log.status, 'rolled-back');
    assert.match(trialLine(1, result.last), /rolled-back \(NW_CP_SYNC_FAILED: .*deliberate failure/);
    assert.ok((result.last.run.lostWrites?.checked ?? 0) >= 100, 'the writes were checked');
    assert.equal(t?.lostWrites, 0, 'every acknowledged write is at N1');
    assert.equal(t?.failedRequests, 0);
  });

  it("a trial's line says where the fence phase's time went (the datastore's window, its confirmation, a drain)", () => {
    const log = (hooks: Record<string, unknown>) =>
      ({
        history: [{ at: '', event: 'phase-completed', phase: 'fence', durationMs: 512.3, data: { hooks } }],
      }) as unknown as MigrationLog;
    assert.equal(
      fenceDetail(log({ datastore: { window: 'each-quorum', drainMs: 0, confirmMs: 6.4 } })),
      '; fence phase 512 ms (datastore: each-quorum, confirm 6.4 ms)',
    );
    assert.equal(
      fenceDetail(log({ datastore: { window: 'drain (data layer a (shop): 1 write(s) at EACH_QUORUM failed)', drainMs: 2600 } })),
      '; fence phase 512 ms (datastore: drain (data layer a (shop): 1 write(s) at EACH_QUORUM failed), drain 2600 ms)',
    );
    assert.equal(fenceDetail(log({})), '; fence phase 512 ms');
    assert.equal(fenceDetail({ history: [] } as unknown as MigrationLog), '');
  });
});
