// The fault campaign's Cassandra variant, short and with a fixed seed: N1 and N2 on the services'
// Cassandra clusters and Redis instances with the real data sync (data layer as a fleet member,
// cache copy + warm-up, copy-on-write + snapshot + verify), a Cassandra node and a Redis instance
// killed -9 and restarted mid-migration, every invariant checked from the app servers' commit logs
// and, for acknowledged writes, from Cassandra. This restarts the shared Cassandra and Redis: it
// runs alone (scripts/test.sh), never in the main mocha run.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';
import { type CampaignResult, runCampaign } from '../../loadgen/chaos/campaign.js';
import { CampaignOptionsSchema } from '../../loadgen/chaos/chaos-options.js';
import { loadEndpoints } from '../../loadgen/chaos/environment/service-endpoints.js';
import { SharedServices } from '../../loadgen/chaos/environment/shared-services.js';
import { INVARIANTS } from '../../loadgen/chaos/invariants/evidence.js';
import { requireService } from '../support/service-endpoints.js';

const MIGRATIONS = 3;
const FAULTS = 2;
// seed 104 puts a Redis restart (N1) and a Cassandra restart (N2) in the first migration's sync
// phase, while the snapshot copies, and gateway kills in the other two
const SEED = 104;

describe('chaos campaign, Cassandra variant: a short fixed-seed run with Cassandra and Redis restarts', function () {
  this.timeout(600_000);
  let result: CampaignResult;

  before(async () => {
    result = await runCampaign(
      CampaignOptionsSchema.parse({
        migrations: MIGRATIONS,
        seed: SEED,
        faultsPerMigration: FAULTS,
        store: 'cassandra',
        faults: ['cassandra-restart', 'redis-restart', 'gateway-kill', 'client-abort-burst'],
        // the processes' logs, for a failure's post-mortem
        out: mkdtempSync(join(tmpdir(), 'nw-chaos-cass-test-')),
      }),
    );
  });

  after(async () => {
    // never leave a service down for the others (a no-op when the campaign healed everything)
    const shared = new SharedServices(loadEndpoints());
    await shared.restore('cassandra');
    await shared.restore('redis');
  });

  it('ran every migration, killed and restarted a Cassandra node and a Redis instance, healed every fault', () => {
    assert.equal(result.migrations.length, MIGRATIONS);
    const faults = result.migrations.flatMap((m) => m.faults);
    assert.equal(faults.length, MIGRATIONS * FAULTS);
    assert.deepEqual(
      faults.filter((f) => f.status !== 'injected' || f.detail?.includes('heal failed')),
      [],
    );
    for (const kind of ['cassandra-restart', 'redis-restart'])
      assert.ok(
        faults.some((f) => f.kind === kind && /\(pid \d+\)$/.test(f.detail ?? '')),
        `${kind}: a process was killed (${JSON.stringify(faults.filter((f) => f.kind === kind))})`,
      );
    for (const m of result.migrations) {
      assert.ok(m.writes.ok > 50, `${m.id}: the load ran (${m.writes.ok} acknowledged writes)`);
      assert.ok(m.outcome.status === 'done' || m.outcome.status === 'rolled-back', `${m.id}: ${JSON.stringify(m.outcome)}`);
    }
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

  it("dropped the run's keyspace on both clusters and its keys from both Redis instances", async () => {
    const keyspace = `nw_chaos_${result.runId}`;
    const cass = requireService('cassandra');
    for (const node of [cass.n1, cass.n2]) {
      const c = new cassandra.Client({
        contactPoints: [node.contactPoint],
        localDataCenter: node.localDataCenter,
        protocolOptions: { port: node.port },
      });
      try {
        const rows = (
          await c.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true })
        ).rows;
        assert.equal(rows.length, 0, `${keyspace} left on ${node.contactPoint}`);
      } finally {
        await c.shutdown();
      }
    }
    const redis = requireService('redis');
    for (const r of [redis.n1, redis.n2]) {
      const client = new Redis({ host: r.host, port: r.port, lazyConnect: true });
      try {
        await client.connect();
        assert.deepEqual(await client.keys(`nw-chaos:${result.runId}:*`), [], `keys left in Redis :${r.port}`);
      } finally {
        client.disconnect();
      }
    }
  });
});
