import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { createLogger } from '../../platform/logger.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { requireService } from '../support/service-endpoints.js';
import { findLeader, killServer, restoreEnsemble } from '../support/zk-ensemble.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { controlPlaneCoordinatorConfig, memberCoordinatorConfig, provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';
import { spawnControlPlane, type ControlPlaneChild } from '../support/control-plane-process.js';
import { createServer } from 'node:http';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { Route53DnsProvider } from '../../controlplane/dns/route53-provider.js';
import { dnsSteps } from '../../controlplane/dns/dns-steps.js';
import type { AddressInfo } from 'node:net';

const SESSION_MS = 4000;
const LEASE_MS = 2000;
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

interface Outcome {
  readonly gw: string;
  readonly d: string;
  readonly status: number;
  readonly code: string | undefined;
  readonly start: number;
  readonly end: number;
}

/** Closed-loop writers spread over every gateway URL; each outcome is attributed from its headers. */
function startWriters(urls: () => string[], writers: number): { served(d: string): number; stop(): Promise<Outcome[]> } {
  const out: Outcome[] = [];
  let stopping = false;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; !stopping; i++) {
      const list = urls();
      const gw = list[(w + i) % list.length]!;
      const start = performance.now();
      try {
        const res = await request(`${gw}/kv/w${w}-${i}`, {
          method: 'PUT',
          headers: { host: 'shop.test' },
          body: `v${i}`,
          headersTimeout: 20_000,
          bodyTimeout: 20_000,
        });
        await res.body.dump();
        out.push({
          gw,
          d: String(res.headers['x-northwest-deployment']),
          status: res.statusCode,
          code: res.headers['x-northwest-error'] as string | undefined,
          start,
          end: performance.now(),
        });
      } catch (err) {
        out.push({ gw, d: 'error', status: 0, code: (err as { code?: string }).code, start, end: performance.now() });
      }
    }
  });
  return {
    served: (d) => out.filter((o) => o.d === d && o.status === 200).length,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return out;
    },
  };
}

/** The safety property from the client side: no write served by N1 began after a write served by N2 had completed. */
function assertNoN1AfterN2(outcomes: readonly Outcome[]): void {
  const n2 = outcomes.filter((o) => o.d === 'n2' && o.status < 300);
  const n1 = outcomes.filter((o) => o.d === 'n1' && o.status < 300);
  assert.ok(n1.length > 0 && n2.length > 0, `both deployments served writes (n1=${n1.length}, n2=${n2.length})`);
  const firstN2Done = Math.min(...n2.map((o) => o.end));
  const late = n1.filter((o) => o.start > firstN2Done);
  assert.deepEqual(late, [], 'writes served by N1 after the first write served by N2');
}

describe('fleet on a real ZooKeeper ensemble', function () {
  this.timeout(180_000);
  const zk = requireService('zookeeper');
  let chroot: string;
  let fleet: Fleet;
  let procs: GatewayProcess[];
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;
  /** Every coordinator a test made; afterEach closes them (ControlPlane.stop() leaves its coordinator open). */
  const sessions: ZooKeeperCoordinator[] = [];
  const coordinator = (sessionTimeoutMs = SESSION_MS, role: CoordinatorRole = 'member'): ZooKeeperCoordinator => {
    const c = zkClient(role, { connectString: zk.connectString, chroot, sessionTimeoutMs, connectTimeoutMs: 15_000, opTimeoutMs: 15_000 });
    sessions.push(c);
    return c;
  };

  const processConfig = (i: number): Record<string, unknown> => ({
    name: `gw-proc-${i}`,
    listeners: [{ host: '127.0.0.1', port: 0 }],
    log: { level: 'warn' },
    fleet: {
      coordinator: memberCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: SESSION_MS }),
      leaseMs: LEASE_MS,
    },
    apps: {
      shop: {
        hosts: ['shop.test'],
        n1: { servers: [{ url: fleet.n1.url }] },
        n2: { servers: [{ url: fleet.n2.url }], publicOrigin: 'https://shop-n2.example.com' },
      },
    },
  });

  const plan = (p: Partial<MigrationPlanInput> = {}) =>
    parsePlan({ apps: ['shop'], barrierTimeoutMs: 20_000, redirect: { enabled: true }, ...p });

  before(async () => {
    await restoreEnsemble();
  });

  beforeEach(async () => {
    chroot = `/nw-fleet-${randomBytes(4).toString('hex')}`;
    await provisionTree({ connectString: zk.connectString, chroot });
    fleet = await startFleet({ size: 16, coordinator: () => coordinator(), leaseMs: LEASE_MS, reconcileMs: 500 });
    procs = [];
    for (let i = 0; i < 3; i++) procs.push(await spawnGatewayProcess(processConfig(i)));
    hooks = new Map();
    cp = new ControlPlane({
      coordinator: coordinator(10_000, 'controlplane'),
      id: 'cp-zk',
      logger: createLogger('silent'),
      syncHooks: hooks,
    });
    await cp.start();
  });

  afterEach(async () => {
    await cp.stop().catch(() => undefined);
    await Promise.allSettled(procs.map((p) => p.stop()));
    await fleet.close();
    await Promise.allSettled(sessions.splice(0).map((c) => c.close()));
    // Leave the ensemble as we found it: remove this test's chroot.
    await removeChroot(zk.connectString, chroot).catch(() => undefined);
  });

  after(async () => {
    await restoreEnsemble();
  });

  const urls = (): string[] => [
    ...fleet.members.map((m) => m.gateway.listeners[0]!.url),
    ...procs.filter((p) => p.child.exitCode === null).map((p) => p.url),
  ];

  it(
    '16 in-process and 3 process gateways flip through every phase under load, ' + 'DNS on Route 53 (moto); no write goes back to N1',
    async () => {
      // Route 53: a zone with N1's record; the control plane switches it to N2 in the dns phase.
      const r53 = requireService('route53');
      const awsOptions = {
        endpoint: r53.endpoint,
        region: r53.region,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      };
      const admin = new Route53Client(awsOptions);
      const zoneName = `nw-fleet-${randomBytes(4).toString('hex')}.test.`;
      const zone = await admin.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: zoneName }));
      const zoneId = zone.HostedZone!.Id!;
      const record = `shop.${zoneName}`;
      await admin.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Changes: [
              { Action: 'CREATE', ResourceRecordSet: { Name: record, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.1' }] } },
            ],
          },
        }),
      );
      const provider = new Route53DnsProvider(awsOptions);
      await cp.stop();
      cp = new ControlPlane({
        coordinator: coordinator(10_000, 'controlplane'),
        id: 'cp-zk-dns',
        logger: createLogger('silent'),
        syncHooks: hooks,
        dns: dnsSteps(provider),
      });
      await cp.start();

      const load = startWriters(urls, 12);
      let log: MigrationLog;
      let outcomes: Outcome[];
      try {
        await eventually(() => load.served('n1') >= 24, {
          timeoutMs: 20_000,
          message: 'N1 serves writes through the fleet before the migration',
        });
        const created = await cp.migrate(
          plan({
            dns: {
              zoneId,
              lowerTtlTo: 5,
              skipTtlWait: true,
              pollMs: 200,
              records: [{ name: record, type: 'A', ttl: 60, values: ['198.51.100.2'] }],
            },
          }),
        );
        log = await cp.waitForMigration(created.id, finished, 120_000);
        if (log.status === 'done') {
          // Writes after the migration finished must go to N2 too: keep the load on until some have.
          const n2AtDone = load.served('n2');
          await eventually(() => load.served('n2') >= n2AtDone + 24, {
            timeoutMs: 20_000,
            message: 'N2 serves writes after the migration',
          });
        }
      } finally {
        outcomes = await load.stop(); // the writers carry on through errors: stop them whatever happened
      }
      const after = await provider.getRecord(zoneId, record, 'A');
      admin.destroy();
      assert.deepEqual(after && 'values' in after ? [after.values, after.ttl] : [], [['198.51.100.2'], 60], 'the record points at N2');
      const dnsPhase = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'dns');
      assert.ok((dnsPhase?.data?.dns as { insyncAt?: string } | undefined)?.insyncAt, 'DNS change timings are in the log');
      assert.equal(log.status, 'done', JSON.stringify(log.error));
      const barriers = log.history.filter((e) => e.event === 'phase-completed' && e.barrier);
      assert.ok(barriers.length >= 5);
      for (const b of barriers) assert.equal(b.barrier!.members.length, 19, `${b.phase}: ${b.barrier!.members.join(',')}`);
      assert.deepEqual(
        outcomes.filter((o) => o.status !== 200),
        [],
        'no failed writes',
      );
      assertNoN1AfterN2(outcomes);
    },
  );

  it('the flip completes when the ZooKeeper leader is killed mid-migration', async () => {
    let killed: number | undefined;
    hooks.set('kill-zk-leader', async () => {
      // Hooks must be idempotent: the phase is re-run after a connection loss. Kill one leader only.
      if (killed) return { killed };
      const leader = await findLeader();
      assert.ok(leader, 'a leader exists');
      killed = killServer(leader);
      return { killed: leader.id };
    });
    const load = startWriters(urls, 8);
    const created = await cp.migrate(plan({ sync: { hooks: ['kill-zk-leader'] } }));
    const log = await cp.waitForMigration(created.id, finished, 150_000);
    const outcomes = await load.stop();
    assert.ok(killed, 'the ZooKeeper leader was killed');
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.equal(
      outcomes.filter((o) => o.status !== 200 && o.code !== 'NW_GW_LEASE_EXPIRED').length,
      0,
      'only lease refusals (retryable 503) may appear',
    );
    assertNoN1AfterN2(outcomes);
    await restoreEnsemble();
  });

  it('a gateway killed with SIGKILL mid-flip drops out after its session expires and the report names it', async () => {
    const victim = procs[1]!;
    hooks.set('kill-gateway', async () => {
      victim.signal('SIGKILL');
      await victim.exited;
      return {};
    });
    const created = await cp.migrate(plan({ sync: { hooks: ['kill-gateway'] } }));
    const log = await cp.waitForMigration(created.id, finished, 120_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence');
    assert.deepEqual(fence?.barrier?.departed, ['gw-proc-1']);
    assert.equal(fence?.barrier?.members.includes('gw-proc-1'), false);
    assert.equal(fence?.barrier?.members.length, 18);
  });

  it('a gateway paused past its lease forwards no stale write when it resumes', async () => {
    const victim = procs[0]!;
    let pending: Promise<{ status: number; d: string; code: string | undefined; epoch: string | undefined }> | undefined;
    hooks.set('pause-gateway', async () => {
      // In sync the app is mirrored: a write reaching N1 after the cut-over would be stale.
      victim.signal('SIGSTOP');
      pending = request(`${victim.url}/kv/stale`, {
        method: 'PUT',
        headers: { host: 'shop.test' },
        body: 'stale',
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      }).then(async (res) => {
        await res.body.dump();
        return {
          status: res.statusCode,
          d: String(res.headers['x-northwest-deployment']),
          code: res.headers['x-northwest-error'] as string | undefined,
          epoch: res.headers['x-northwest-epoch'] as string | undefined,
        };
      });
      return {};
    });
    const created = await cp.migrate(plan({ sync: { hooks: ['pause-gateway'] } }));
    const log = await cp.waitForMigration(
      created.id,
      (l) => finished(l) || (l.phase === 'proxy' && l.phaseStatus === 'completed'),
      120_000,
    );
    assert.notEqual(log.status, 'rolled-back', JSON.stringify(log.error));
    const n1Before = fleet.n1.seen.filter((s) => s.path === '/kv/stale').length;
    victim.signal('SIGCONT');
    const r = await pending!;
    assert.equal(n1Before, 0);
    assert.notEqual(r.d, 'n1', `the resumed gateway served the write from N1: ${JSON.stringify(r)}`);
    assert.ok(r.code === 'NW_GW_LEASE_EXPIRED' || r.d === 'n2', JSON.stringify(r));
    const final = await cp.waitForMigration(created.id, finished, 120_000);
    assert.equal(final.status, 'done');
  });

  it('killing the control-plane leader mid-migration hands over to another, which finishes with the log intact', async () => {
    // N2's health endpoint answers the first check slowly, so the first leader is caught mid-prepare.
    let healthCalls = 0;
    const health = createServer((_req, res) => {
      healthCalls += 1;
      setTimeout(() => res.end('ok'), healthCalls === 1 ? 3000 : 0);
    });
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    const healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/healthz`;
    const token = 'cp-test-token';
    const cpConfig = (id: string) => ({
      id,
      coordinator: controlPlaneCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: SESSION_MS }),
      admin: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
    });
    await cp.stop(); // the in-process control plane steps aside: two processes compete instead
    const cps: ControlPlaneChild[] = [];
    try {
      cps.push(await spawnControlPlane(cpConfig('cp-a'), token));
      cps.push(await spawnControlPlane(cpConfig('cp-b'), token));
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const status = async (url: string): Promise<{ leader?: string }> =>
        (await (await request(`${url}/status`, { headers: auth })).body.json()) as { leader?: string };
      const leaderId = (await status(cps[0]!.adminUrl)).leader;
      assert.equal(leaderId, 'cp-a', 'the first to join leads');
      const res = await request(`${cps[1]!.adminUrl}/migrations`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ apps: ['shop'], barrierTimeoutMs: 20_000, prepare: { n2HealthUrls: [healthUrl] } }),
      });
      const created = (await res.body.json()) as MigrationLog;
      assert.equal(res.statusCode, 201, JSON.stringify(created));
      await eventually(() => healthCalls > 0, { timeoutMs: 20_000, message: 'the first leader checks N2 health' });
      cps[0]!.child.kill('SIGKILL');
      await cps[0]!.exited;
      const observer = new ControlPlane({
        coordinator: coordinator(10_000, 'controlplane'),
        id: 'observer',
        logger: createLogger('silent'),
      });
      await observer.start();
      try {
        const log = await observer.waitForMigration(created.id, finished, 60_000);
        assert.equal(log.status, 'done', JSON.stringify(log.error));
        const events = log.history.map((e) => `${e.event}${e.phase ? `:${e.phase}` : ''}${e.event === 'leader' ? `:${e.detail}` : ''}`);
        assert.deepEqual(events.slice(0, 3), ['created', 'leader:run by cp-a', 'phase-started:prepare']);
        assert.ok(events.includes('leader:run by cp-b'), events.join(' '));
        assert.equal(events.filter((e) => e === 'phase-completed:done').length, 1);
        assert.equal((await status(cps[1]!.adminUrl)).leader, 'cp-b');
      } finally {
        await observer.stop();
      }
    } finally {
      await Promise.allSettled(cps.map((c) => c.stop()));
      await new Promise<void>((r) => health.close(() => r()));
      cp = new ControlPlane({ coordinator: coordinator(10_000, 'controlplane'), id: 'cp-zk-2', logger: createLogger('silent') });
      await cp.start();
    }
  });
});
