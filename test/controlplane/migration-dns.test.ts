import assert from 'node:assert/strict';
import { createLogger } from '../../platform/logger.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
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
    cp = new ControlPlane({
      coordinator: new EmbeddedCoordinator(store),
      id: 'cp',
      logger: createLogger('silent'),
      dns: dnsSteps(dns),
      syncHooks: hooks,
    });
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
      dns: {
        zoneId,
        lowerTtlTo: 5,
        records: [{ name: 'shop.example.test', type: 'A', ttl: 60, values: ['127.0.0.12'] }],
        pollMs: 10,
        skipTtlWait: true,
      },
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
    assert.deepEqual((sync?.data?.hooks as Record<string, { ttlDuringSync: number }> | undefined)?.gate?.ttlDuringSync, 5);
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

  it('shifts weighted records to N2 in steps, and a rollback puts the simple record back', async () => {
    hooks.set('gate', async () => ({}));
    await cp.stop();
    const steps = dnsSteps(dns);
    let abortAfterSwitch = false;
    cp = new ControlPlane({
      coordinator: new EmbeddedCoordinator(store),
      id: 'cp-weighted',
      logger: createLogger('silent'),
      syncHooks: hooks,
      dns: {
        ...steps,
        switch: async (p) => {
          const r = await steps.switch(p);
          if (abortAfterSwitch) await cp.abort(p.id!, 'test');
          return r;
        },
      },
    });
    await cp.start();
    const weightedPlan = parsePlan({
      apps: ['shop'],
      sync: { hooks: ['gate'] },
      dns: {
        zoneId,
        lowerTtlTo: 5,
        pollMs: 10,
        skipTtlWait: true,
        weighted: {
          name: 'shop.example.test',
          type: 'A',
          ttl: 30,
          n1: { setIdentifier: 'n1', values: ['127.0.0.11'] },
          n2: { setIdentifier: 'n2', values: ['127.0.0.12'] },
          steps: [25, 100],
          holdMs: 0,
        },
      },
    });
    const done = await cp.waitForMigration((await cp.migrate(weightedPlan)).id, finished, 20_000);
    assert.equal(done.status, 'done', JSON.stringify(done.error));
    const shift = (
      done.history.find((e) => e.phase === 'dns' && e.event === 'phase-completed')?.data?.dns as
        | {
            weighted: { steps: Array<{ percentToN2: number }> };
          }
        | undefined
    )?.weighted;
    assert.deepEqual(
      shift?.steps.map((s) => s.percentToN2),
      [25, 100],
    );
    const n2 = await dns.getRecord(zoneId, 'shop.example.test', 'A', 'n2');
    assert.equal(n2?.weight, 100);
    assert.equal(await dns.getRecord(zoneId, 'shop.example.test', 'A'), undefined, 'the simple record gave way to the weighted pair');

    // Start over from the simple record and roll back after the shift.
    await dns.submit(zoneId, [
      { action: 'DELETE', record: (await dns.getRecord(zoneId, 'shop.example.test', 'A', 'n1'))! },
      { action: 'DELETE', record: n2! },
      { action: 'CREATE', record: { name: 'shop.example.test', type: 'A', ttl: 300, values: ['127.0.0.11'] } },
    ]);
    abortAfterSwitch = true;
    const rolled = await cp.waitForMigration((await cp.migrate(weightedPlan)).id, finished, 20_000);
    assert.equal(rolled.status, 'rolled-back');
    const simple = await dns.getRecord(zoneId, 'shop.example.test', 'A');
    assert.deepEqual(simple && 'values' in simple ? [simple.values, simple.ttl] : [], [['127.0.0.11'], 300]);
    assert.equal(await dns.getRecord(zoneId, 'shop.example.test', 'A', 'n2'), undefined);
  });

  it('a plan can switch an alias record', async () => {
    hooks.set('gate', async () => ({}));
    const aliasPlan = parsePlan({
      apps: ['shop'],
      sync: { hooks: ['gate'] },
      dns: {
        zoneId,
        pollMs: 10,
        skipTtlWait: true,
        records: [{ name: 'www.example.test', type: 'A', alias: { hostedZoneId: zoneId, dnsName: 'shop.example.test' } }],
      },
    });
    const log = await cp.waitForMigration((await cp.migrate(aliasPlan)).id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const www = await dns.getRecord(zoneId, 'www.example.test', 'A');
    assert.ok(www && 'alias' in www && www.alias.dnsName.startsWith('shop.example.test'));
  });
});
