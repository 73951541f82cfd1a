// The short fault campaign CI runs: a few migrations on the real ZooKeeper ensemble, with only
// gateway-level faults (kill -9, SIGSTOP, restart, cut off from ZooKeeper through Toxiproxy), and
// every invariant checked from the app servers' commit logs, the coordinator tree and the
// gateways' states. Nothing here kills or restarts a shared service. It runs twice: with gateways of
// one process, and with gateways of two workers each (the faults hit the primary, which holds the
// coordinator session and the lease the workers' writes depend on).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CampaignResult, runCampaign } from '../../loadgen/chaos/campaign.js';
import { CampaignOptionsSchema } from '../../loadgen/chaos/chaos-options.js';
import { GATEWAY_FAULT_KINDS } from '../../loadgen/chaos/fault-kinds.js';
import { INVARIANTS } from '../../loadgen/chaos/invariants/evidence.js';

const MIGRATIONS = 3;
const FAULTS = 2;

for (const { workers, seed, gateways } of [
  { workers: 1, seed: 20261205, gateways: 'single-process gateways' },
  { workers: 2, seed: 20261211, gateways: '2 workers per gateway' },
])
  describe(`chaos campaign: a short fixed-seed run with gateway faults (${gateways})`, function () {
    this.timeout(150_000);
    let result: CampaignResult;

    before(async () => {
      result = await runCampaign(
        CampaignOptionsSchema.parse({
          migrations: MIGRATIONS,
          seed,
          workers,
          faultsPerMigration: FAULTS,
          faults: [...GATEWAY_FAULT_KINDS],
          // the processes' logs, for a failure's post-mortem
          out: mkdtempSync(join(tmpdir(), 'nw-chaos-test-')),
        }),
      );
    });

    it('ran every migration and injected every fault', () => {
      assert.equal(result.migrations.length, MIGRATIONS);
      const faults = result.migrations.flatMap((m) => m.faults);
      assert.equal(faults.length, MIGRATIONS * FAULTS);
      assert.deepEqual(
        faults.filter((f) => f.status !== 'injected' || f.detail?.includes('heal failed')),
        [],
      );
      for (const m of result.migrations) assert.ok(m.writes.ok > 100, `${m.id}: the load ran (${m.writes.ok} acknowledged writes)`);
    });

    for (const invariant of INVARIANTS)
      it(`breaks no invariant: ${invariant}`, () => {
        const found = result.migrations.flatMap((m) => m.violations).filter((v) => v.invariant === invariant);
        assert.equal(
          found.length,
          0,
          found.map((v) => `${v.migrationId}: ${v.summary}\n  ${v.trace.slice(0, 30).join('\n  ')}`).join('\n\n'),
        );
      });
  });
