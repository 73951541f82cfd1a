import assert from 'node:assert/strict';
import { createLogger } from '../../gateway/observability/logger.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../controlplane/coordinator/embedded-coordinator.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import { dnsSteps } from '../../controlplane/dns/dns-steps.js';
import { MemoryDnsProvider } from '../../controlplane/dns/memory-dns-provider.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

describe('migration DNS phase (embedded coordinator, in-memory DNS)', function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: ControlPlane;
  let dns: MemoryDnsProvider;
  let zoneId: string;
  const hooks = new Map<string, SyncHook>();

  beforeEach(async () => {
    store = new EmbeddedStore();
    fleet = await startFleet({ size: 3, coordinator: () => new EmbeddedCoordinator(store) });
    dns = new MemoryDnsProvider({ propagationMs: 50 });
    zoneId = dns.createZone('example.test');
    await dns.submit(zoneId, [{ action: 'CREATE', record: { name: 'shop.example.test', type: 'A', ttl: 300, values: ['127.0.0.11'] } }]);
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp', logger: createLogger('silent'), dns: dnsSteps(dns), syncHooks: hooks });
    await cp.start();
  });
  afterEach(async () => {
    await cp.stop();
    await fleet.close();
  });

  const plan = () =>
    parsePlan({
      apps: ['shop'],
      sync: { hooks: ['gate'] },
      dns: { zoneId, lowerTtlTo: 5, records: [{ name: 'shop.example.test', type: 'A', ttl: 60, values: ['127.0.0.12'] }], pollMs: 10, skipTtlWait: true },
    });

  it('lowers the TTL in prepare, switches the record as one batch, and logs the timings', async () => {
    hooks.set('gate', async () => {
      const r = await dns.getRecord(zoneId, 'shop.example.test', 'A');
      assert.ok(r && 'ttl' in r);
      return { ttlDuringSync: r.ttl };
    });
    const created = await cp.migrate(plan());
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const sync = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync');
    assert.deepEqual((sync?.data?.hooks as Record<string, { ttlDuringSync: number }>).gate?.ttlDuringSync, 5);
    const dnsEvent = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'dns');
    const timings = dnsEvent?.data?.dns as { submitToInsyncMs: number; polls: number; insyncAt: string };
    assert.ok(timings.polls >= 1, 'PENDING was polled until INSYNC');
    assert.ok(timings.submitToInsyncMs >= 0 && Date.parse(timings.insyncAt) > 0);
    const after = await dns.getRecord(zoneId, 'shop.example.test', 'A');
    assert.deepEqual(after && 'values' in after ? [after.values, after.ttl] : [], [['127.0.0.12'], 60]);
  });

  it('a rollback after the switch restores the original record', async () => {
    hooks.set('gate', async () => ({}));
    // Abort the moment the switch is in sync, so the rollback starts from the dns phase.
    await cp.stop();
    const steps = dnsSteps(dns);
    cp = new ControlPlane({
      coordinator: new EmbeddedCoordinator(store),
      id: 'cp-abort',
      logger: createLogger('silent'),
      syncHooks: hooks,
      dns: {
        ...steps,
        switch: async (p) => {
          const r = await steps.switch(p);
          await cp.abort(p.id!, 'test: abort after the DNS switch');
          return r;
        },
      },
    });
    await cp.start();
    const created = await cp.migrate(plan());
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'rolled-back');
    assert.ok(log.history.some((e) => e.event === 'rollback-step' && e.detail === 'dns-restore'));
    const r = await dns.getRecord(zoneId, 'shop.example.test', 'A');
    assert.deepEqual(r && 'values' in r ? [r.values, r.ttl] : [], [['127.0.0.11'], 300]);
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
  });
});
