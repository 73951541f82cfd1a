import assert from 'node:assert/strict';
import { runOverheadExperiment } from '../../loadgen/experiments/overhead-experiment.js';

describe('overhead experiment (embedded system)', function () {
  this.timeout(60_000);

  it('measures mean latency without and during the sync phase for each read ratio', async () => {
    const rows = await runOverheadExperiment({ readRatiosPercent: [20, 80], rate: 100, durationS: 0.5, rounds: 2, gateways: 1, keys: 50 });
    assert.deepEqual(
      rows.map((r) => r.readRatioPercent),
      [20, 80],
    );
    for (const r of rows) {
      assert.ok(Number.isFinite(r.normalMs) && r.normalMs > 0, `normal ${r.normalMs}`);
      assert.ok(Number.isFinite(r.migrationMs) && r.migrationMs > 0, `migration ${r.migrationMs}`);
    }
  });
});
