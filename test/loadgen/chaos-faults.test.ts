import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceEndpoints } from '../../loadgen/chaos/environment/service-endpoints.js';
import { type ProcessControl, realProcessControl, SharedServices } from '../../loadgen/chaos/environment/shared-services.js';
import { freePort } from '../../loadgen/chaos/environment/free-port.js';
import { requireService } from '../support/service-endpoints.js';
import { ALL_FAULT_KINDS, type FaultKind } from '../../loadgen/chaos/fault-kinds.js';
import type { ScheduledFault } from '../../loadgen/chaos/fault-schedule.js';
import { FAULT_ACTIONS, type FaultTargets } from '../../loadgen/chaos/faults/fault-actions.js';
import { driveFaults, type PhaseSignals } from '../../loadgen/chaos/faults/fault-driver.js';

// Fault logic against fakes: no process is signalled and no service restarted here (the shared
// ZooKeeper, Redis and Cassandra are in use by other tests; the campaign hits them only when asked).

/** Targets that record every call, in order. */
function fakeTargets(leader: string | null = 'cp-1'): { t: FaultTargets; calls: string[] } {
  const calls: string[] = [];
  const rec =
    (name: string) =>
    async (...args: unknown[]): Promise<void> =>
      void calls.push(`${name}(${args.join(',')})`);
  const t: FaultTargets = {
    gateways: {
      kill: rec('gateways.kill'),
      pause: (s) => void calls.push(`gateways.pause(${s})`),
      resume: (s) => void calls.push(`gateways.resume(${s})`),
      stop: rec('gateways.stop'),
      start: rec('gateways.start'),
      memberId: (s) => `gw-${s}.1`,
    },
    zkLinks: { inject: rec('zkLinks.inject'), heal: rec('zkLinks.heal') },
    controlPlanes: {
      leader: async () => leader ?? undefined,
      kill: async (id) => {
        calls.push(`controlPlanes.kill(${id})`);
        return true;
      },
      ensure: rec('controlPlanes.ensure'),
    },
    clients: {
      abortBurst: rec('clients.abortBurst'),
      slowBodyBurst: rec('clients.slowBodyBurst'),
      webSocketBurst: rec('clients.webSocketBurst'),
    },
    apps: { setFault: rec('apps.setFault') },
    shared: {
      killZooKeeperLeader: async () => {
        calls.push('shared.killZooKeeperLeader()');
        return 'zk2';
      },
      restoreZooKeeper: rec('shared.restoreZooKeeper'),
      kill: async (service, side) => {
        calls.push(`shared.kill(${service},${side})`);
        return `${service} ${side}`;
      },
      restore: rec('shared.restore'),
    },
    controlPlaneCount: 2,
  };
  return { t, calls };
}

const fault = (kind: FaultKind, target: string, more: Partial<ScheduledFault> = {}): ScheduledFault => ({
  kind,
  target,
  phase: 'fence',
  delayMs: 0,
  holdMs: 0,
  seed: 1,
  ...more,
});

/** Runs one fault's inject, then heal; returns the calls of each. */
async function injectThenHeal(
  kind: FaultKind,
  target: string,
  leader: string | null = 'cp-1',
): Promise<{ inject: string[]; heal: string[]; detail: string }> {
  const { t, calls } = fakeTargets(leader);
  const f = await FAULT_ACTIONS[kind](t, fault(kind, target));
  const inject = calls.splice(0);
  await f.heal();
  return { inject, heal: calls.splice(0), detail: f.detail };
}

describe('chaos campaign: fault catalogue (inject and heal against fakes)', () => {
  it('has an action for every kind', () => {
    assert.deepEqual(Object.keys(FAULT_ACTIONS).sort(), [...ALL_FAULT_KINDS].sort());
  });

  it('gateway faults act on the slot of their target and undo it on heal', async () => {
    assert.deepEqual(await injectThenHeal('gateway-kill', 'gw-2'), {
      inject: ['gateways.kill(2)'],
      heal: ['gateways.start(2)'],
      detail: 'gw-2.1',
    });
    assert.deepEqual(await injectThenHeal('gateway-pause', 'gw-0'), {
      inject: ['gateways.pause(0)'],
      heal: ['gateways.resume(0)'],
      detail: 'gw-0.1',
    });
    assert.deepEqual(await injectThenHeal('gateway-restart', 'gw-1'), {
      inject: ['gateways.stop(1)'],
      heal: ['gateways.start(1)'],
      detail: 'gw-1.1',
    });
    assert.deepEqual((await injectThenHeal('gateway-zk-cut', 'gw-1')).inject, ['zkLinks.inject(1,cut)']);
    assert.deepEqual(await injectThenHeal('gateway-zk-blackhole', 'gw-0'), {
      inject: ['zkLinks.inject(0,blackhole)'],
      heal: ['zkLinks.heal(0)'],
      detail: 'gw-0.1',
    });
    await assert.rejects(FAULT_ACTIONS['gateway-kill'](fakeTargets().t, fault('gateway-kill', 'n2')), /not a gateway slot/);
  });

  it('kills the leading control plane and keeps the configured number running', async () => {
    assert.deepEqual(await injectThenHeal('controlplane-leader-kill', 'cp-leader', 'cp-1'), {
      inject: ['controlPlanes.kill(cp-1)'],
      heal: ['controlPlanes.ensure(2)'],
      detail: 'cp-1',
    });
    assert.deepEqual((await injectThenHeal('controlplane-leader-kill', 'cp-leader', null)).detail, 'no leader to kill');
  });

  it('turns the N2 fault switch on and off, and starts client bursts that heal when they end', async () => {
    assert.deepEqual(await injectThenHeal('n2-errors', 'n2'), {
      inject: ['apps.setFault(n2,503)'],
      heal: ['apps.setFault(n2,)'],
      detail: 'n2 answers 503',
    });
    assert.deepEqual((await injectThenHeal('client-abort-burst', 'clients')).inject, ['clients.abortBurst(24,0)']);
    assert.deepEqual((await injectThenHeal('slow-body-burst', 'clients')).inject, ['clients.slowBodyBurst(6,0)']);
    assert.deepEqual((await injectThenHeal('websocket-burst', 'clients')).inject, ['clients.webSocketBurst(3,0)']);
  });

  it('shared-service kinds kill through the shared-services control and restore through it', async () => {
    assert.deepEqual(await injectThenHeal('zk-leader-kill', 'zk-leader'), {
      inject: ['shared.killZooKeeperLeader()'],
      heal: ['shared.restoreZooKeeper()'],
      detail: 'zk2',
    });
    assert.deepEqual(await injectThenHeal('cassandra-restart', 'n2'), {
      inject: ['shared.kill(cassandra,n2)'],
      heal: ['shared.restore(cassandra)'],
      detail: 'cassandra n2',
    });
    assert.deepEqual((await injectThenHeal('redis-restart', 'n1')).inject, ['shared.kill(redis,n1)']);
  });

  describe('the driver', () => {
    it('waits for each trigger, injects, holds, heals, and records how the trigger came', async () => {
      const { t, calls } = fakeTargets();
      let openFence: (how: 'phase') => void = () => undefined;
      const phases: PhaseSignals = {
        started: (phase) => (phase === 'fence' ? new Promise((r) => (openFence = r)) : Promise.resolve('rollback')),
      };
      const run = driveFaults(
        t,
        [fault('gateway-pause', 'gw-1', { holdMs: 30 }), fault('n2-errors', 'n2', { phase: 'proxy', delayMs: 5 })],
        phases,
      );
      await new Promise((r) => setTimeout(r, 60));
      assert.deepEqual(
        calls,
        ['apps.setFault(n2,503)', 'apps.setFault(n2,)'],
        'the proxy fault fired at the rollback; the fence one waits',
      );
      openFence('phase');
      const records = await run;
      assert.deepEqual(calls.slice(2), ['gateways.pause(1)', 'gateways.resume(1)']);
      assert.deepEqual(
        records.map((r) => [r.kind, r.trigger, r.status, r.detail]),
        [
          ['gateway-pause', 'fence+0ms', 'injected', 'gw-1.1'],
          ['n2-errors', 'proxy→rollback+5ms', 'injected', 'n2 answers 503'],
        ],
      );
      const pause = records[0]!;
      assert.ok(BigInt(pause.healedNs!) - BigInt(pause.injectedNs!) >= 30_000_000n, 'held for its hold');
    });

    it('records a fault whose inject throws, and one whose heal throws, without stopping the others', async () => {
      const { t } = fakeTargets();
      const phases: PhaseSignals = { started: async () => 'phase' };
      const broken: FaultTargets = {
        ...t,
        zkLinks: { inject: async () => Promise.reject(new Error('toxiproxy down')), heal: t.zkLinks.heal },
      };
      const healBroken: FaultTargets = {
        ...broken,
        apps: { setFault: async (_s, st) => (st === undefined ? Promise.reject(new Error('n2 gone')) : undefined) },
      };
      const records = await driveFaults(
        healBroken,
        [fault('gateway-zk-cut', 'gw-0'), fault('n2-errors', 'n2'), fault('gateway-kill', 'gw-0')],
        phases,
      );
      assert.deepEqual(
        records.map((r) => [r.status, r.detail]),
        [
          ['failed', 'inject: toxiproxy down'],
          ['injected', 'n2 answers 503; heal failed: n2 gone'],
          ['injected', 'gw-0.1'],
        ],
      );
    });
  });

  describe('the real process control (probes only: nothing is killed)', () => {
    it('tells a serving Redis and Cassandra node from a closed port, and a live process from a reaped one', async () => {
      const redis = requireService('redis');
      const cassandra = requireService('cassandra');
      assert.equal(await realProcessControl.serves('redis', redis.n1.host, redis.n1.port), true);
      assert.equal(await realProcessControl.serves('cassandra', cassandra.n2.contactPoint, cassandra.n2.port), true);
      const closed = await freePort();
      assert.equal(await realProcessControl.serves('redis', '127.0.0.1', closed), false);
      assert.equal(await realProcessControl.serves('cassandra', '127.0.0.1', closed), false);
      // a Redis port does not speak CQL
      assert.equal(await realProcessControl.serves('cassandra', redis.n1.host, redis.n1.port), false);
      assert.equal(realProcessControl.alive(process.pid), true);
      const child = spawn(process.execPath, ['-e', '']);
      await once(child, 'exit');
      assert.equal(realProcessControl.alive(child.pid!), false);
    });
  });

  describe('shared services (fake process control)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-chaos-services-'));
    mkdirSync(join(dir, 'scripts'));
    writeFileSync(join(dir, 'scripts', 'services.sh'), '# fake\n');
    const pidFile = (unit: string): string => join(dir, '.services', 'run', `${unit}.pid`);
    const endpoints: ServiceEndpoints = {
      zookeeper: {
        connectString: 'x',
        servers: [1, 2, 3].map((id) => ({ id, host: '127.0.0.1', port: 21810 + id, pidFile: pidFile(`zk${id}`) })),
      },
      cassandra: {
        n1: { contactPoint: '127.0.0.2', port: 9042, localDataCenter: 'dc1', jmxPort: 7199, pidFile: pidFile('cassandra-n1') },
        n2: { contactPoint: '127.0.0.3', port: 9042, localDataCenter: 'dc1', jmxPort: 7299, pidFile: pidFile('cassandra-n2') },
      },
    };

    /** Process control that logs what it is asked; a killed pid stays alive for `lingers` polls, a service serves once `serves` says so. */
    function fakeControl(
      modes: () => string[],
      o: { lingers?: number; serves?: (service: string, host: string, port: number) => boolean } = {},
    ): { ctl: ProcessControl; log: string[] } {
      const log: string[] = [];
      const killed = new Map<number, number>();
      return {
        log,
        ctl: {
          readPid: (f) => 100 + Number(/(\d)\.pid$/.exec(f)?.[1] ?? 0),
          kill: (pid, sig) => {
            log.push(`kill ${sig} ${pid}`);
            killed.set(pid, o.lingers ?? 0);
          },
          alive: (pid) => {
            const left = killed.get(pid);
            if (left === undefined) return true;
            killed.set(pid, left - 1);
            if (left > 0) log.push(`alive ${pid}`);
            return left > 0;
          },
          runScript: async (script, args) => void log.push(`run ${script.slice(dir.length)} ${args.join(' ')}`),
          fourLetter: async (_h, port) => `Mode: ${modes()[port - 21811]}\n`,
          serves: async (service, host, port) => {
            const ok = o.serves?.(service, host, port) ?? true;
            log.push(`probe ${service} ${host}:${port} ${ok ? 'serves' : 'down'}`);
            return ok;
          },
          sleep: async () => undefined,
        },
      };
    }

    it('kills the server that says it leads, by its pid file', async () => {
      const { ctl, log } = fakeControl(() => ['follower', 'leader', 'follower']);
      assert.equal(await new SharedServices(endpoints, ctl).killZooKeeperLeader(), 'zk2 (127.0.0.1:21812, pid 102)');
      assert.deepEqual(log, ['kill SIGKILL 102']);
    });

    it('restores the ensemble through the services script of the checkout that runs it, and waits for a full quorum', async () => {
      let polls = 0;
      const { ctl, log } = fakeControl(() => (++polls < 7 ? ['follower', 'down', 'leader'] : ['follower', 'follower', 'leader']));
      await new SharedServices(endpoints, ctl).restoreZooKeeper();
      assert.deepEqual(log, ['run /scripts/services.sh up zookeeper']);
      assert.ok(polls >= 7, 'kept polling until every server was back');
      const stuck = fakeControl(() => ['follower', 'down', 'leader']);
      await assert.rejects(new SharedServices(endpoints, stuck.ctl).restoreZooKeeper(1000), /no full quorum/);
    });

    it('kills a Cassandra node, returns once it is gone; heals through the services script, then probes both nodes', async () => {
      const { ctl, log } = fakeControl(() => [], { lingers: 2 });
      const s = new SharedServices(endpoints, ctl);
      assert.equal(await s.kill('cassandra', 'n2'), 'cassandra n2 (pid 102)');
      assert.deepEqual(log.splice(0), ['kill SIGKILL 102', 'alive 102', 'alive 102']);
      await s.restore('cassandra');
      assert.deepEqual(log, [
        'run /scripts/services.sh up cassandra',
        'probe cassandra 127.0.0.2:9042 serves',
        'probe cassandra 127.0.0.3:9042 serves',
      ]);
      await assert.rejects(s.kill('redis', 'n1'), /redis is not up/);
    });

    it('kills and restarts a Redis instance, waiting until it answers again; gives up on one that never does', async () => {
      const withRedis: ServiceEndpoints = {
        ...endpoints,
        redis: {
          n1: { host: '127.0.0.1', port: 16379, pidFile: pidFile('redis-n1') },
          n2: { host: '127.0.0.1', port: 16380, pidFile: pidFile('redis-n2') },
        },
      };
      let probes = 0;
      const { ctl, log } = fakeControl(() => [], { serves: (_s, _h, port) => port !== 16379 || ++probes > 2 });
      const s = new SharedServices(withRedis, ctl);
      assert.equal(await s.kill('redis', 'n1'), 'redis n1 (pid 101)');
      await s.restore('redis');
      assert.deepEqual(log.slice(1, 4), [
        'run /scripts/services.sh up redis',
        'probe redis 127.0.0.1:16379 down',
        'probe redis 127.0.0.1:16380 serves',
      ]);
      assert.equal(log.at(-2), 'probe redis 127.0.0.1:16379 serves', 'waited for n1 to answer');
      const never = fakeControl(() => [], { serves: (_s, _h, port) => port !== 16380 });
      await assert.rejects(new SharedServices(withRedis, never.ctl).restore('redis', 1000), /redis does not serve 1000 ms after/);
      const stuck = fakeControl(() => [], { lingers: 1_000_000 });
      await assert.rejects(new SharedServices(withRedis, stuck.ctl).kill('redis', 'n2', 500), /still there 500 ms after SIGKILL/);
    });
  });
});
