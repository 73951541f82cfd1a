import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
