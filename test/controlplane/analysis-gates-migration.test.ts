import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatStatus } from '../../controlplane/cli/format.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { startReferenceApp, type ReferenceApp } from '../../loadgen/reference-app/index.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { call } from '../support/gateway-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';
const WAIT_MS = 40_000;

interface AppVerdictData {
  readonly app: string;
  readonly outcome: 'pass' | 'fail' | 'inconclusive';
  readonly requests: number;
  readonly errorRate: number | null;
  readonly p99Ms: number | null;
}
interface Evaluation {
  readonly evaluation: number;
  readonly gateways: number;
  readonly apps: readonly AppVerdictData[];
}

/** The gates' evaluations in the log, in order (their `note` events). */
function evaluations(log: MigrationLog, phase: string): Evaluation[] {
  return log.history
    .filter((e) => e.event === 'note' && e.phase === phase && (e.data as { analysis?: unknown } | undefined)?.analysis)
    .map((e) => (e.data as { analysis: Evaluation }).analysis);
}

/**
 * The analysis gates of a plan on the ZooKeeper ensemble: real fleet gateways (port 0, each with
 * its loopback admin listener, published in its member document) in front of reference apps, a
 * control plane that reads the gateways' /metrics during proxy. Client load runs through the
 * gateways for the whole migration; what N1 holds afterwards is read from its store.
 */
describe('analysis gates in a migration (ZooKeeper ensemble, real gateways and reference apps)', function () {
  this.timeout(60_000);
  let where: { connectString: string; chroot: string; sessionTimeoutMs: number; connectTimeoutMs: number; opTimeoutMs: number };
  let n1: ReferenceApp;
  let n2: ReferenceApp;
  let fleet: Fleet;
  let coordinator: ZooKeeperCoordinator;
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;
  /** Writes the clients were told succeeded: key, value, and the deployment that answered. */
  let acked: Array<{ key: string; value: string; servedBy: string }>;
  let failedRequests: number;
  let stopLoad: AbortController;
  let load: Promise<void>;

  beforeEach(async () => {
    where = {
      connectString: zk.connectString,
      chroot: `/nw-analysis-${randomBytes(4).toString('hex')}`,
      sessionTimeoutMs: 6000,
      connectTimeoutMs: 15_000,
      opTimeoutMs: 15_000,
    };
    await provisionTree(where);
    n1 = await startReferenceApp({ deployment: 'n1' });
    n2 = await startReferenceApp({ deployment: 'n2' });
    fleet = await startFleet({ size: 2, admin: true, coordinator: () => zkClient('member', where), upstreams: { n1: n1.url, n2: n2.url } });
    hooks = new Map();
    coordinator = zkClient('controlplane', where);
    cp = new ControlPlane({ coordinator, id: 'cp-analysis', logger: createLogger('silent'), syncHooks: hooks });
    await cp.start();
    acked = [];
    failedRequests = 0;
    stopLoad = new AbortController();
    // One client per gateway, one request at a time: a write of a new key, then a read of it.
    load = Promise.all(
      fleet.members.map(async (m) => {
        const base = m.gateway.listeners[0]!.url;
        for (let i = 0; !stopLoad.signal.aborted; i++) {
          const key = `${m.id}-${i}`;
          const value = `value ${i} via ${m.id}`;
          const w = await call(base, `/kv/${key}`, { method: 'PUT', body: value });
          if (w.status < 300) acked.push({ key, value, servedBy: String(w.headers['x-northwest-deployment']) });
          else failedRequests += 1;
          const r = await call(base, `/kv/${key}`);
          if (r.status >= 500) failedRequests += 1;
        }
      }),
    ).then(() => undefined);
  });

  afterEach(async () => {
    stopLoad.abort();
    await load;
    await cp.stop();
    await coordinator.close();
    await fleet.close();
    await Promise.all([n1.close(), n2.close()]);
    await removeChroot(zk.connectString, where.chroot);
  });

  async function migrate(plan: MigrationPlanInput): Promise<MigrationLog> {
    const created = await cp.migrate(parsePlan(plan));
    const log = await cp.waitForMigration(created.id, finished, WAIT_MS);
    stopLoad.abort();
    await load;
    return log;
  }

  it('members publish their admin URL, and a healthy N2 passes: the migration completes with the measurements in its log', async () => {
    const members = (await cp.status()).members;
    assert.deepEqual(
      members.map((m) => [m.id, m.adminUrl]),
      fleet.members.map((m) => [m.id, m.gateway.adminAddress!.url]),
    );
    const log = await migrate({
      apps: ['shop'],
      analysis: {
        intervalMs: 300,
        windowMs: 600,
        durationMs: 1500,
        failureLimit: 2,
        minRequests: 5,
        metrics: { errorRate: { max: 0.05 }, p99Ms: { max: 5000 } },
      },
    });
    assert.equal(log.status, 'done', JSON.stringify(log.history));
    const evals = evaluations(log, 'proxy');
    assert.deepEqual(
      evals.map((e) => e.evaluation),
      [1, 2, 3, 4, 5],
      'the migration stayed in proxy for every evaluation of its durationMs',
    );
    for (const e of evals) {
      assert.equal(e.gateways, 2, 'both gateways read');
      const shop = e.apps.find((a) => a.app === 'shop')!;
      assert.equal(shop.outcome, 'pass', JSON.stringify(e));
      assert.ok(shop.requests >= 5 && shop.errorRate === 0 && shop.p99Ms !== null && shop.p99Ms > 0, JSON.stringify(shop));
    }
    const proxyDone = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'proxy')!;
    assert.deepEqual((proxyDone.data as { analysis?: { evaluations: number; fail: number } }).analysis?.evaluations, 5);
    assert.equal((proxyDone.data as { analysis: { fail: number } }).analysis.fail, 0);
    // Every write N2 acknowledged is in N2's store (it is where the app lives now).
    const byN2 = acked.filter((w) => w.servedBy === 'n2');
    assert.ok(byN2.length > 0, 'N2 took writes during the gates');
    for (const w of byN2) assert.equal((await n2.store.get(w.key))?.value, w.value, w.key);
  });

  it(
    'N2 starts answering 5xx during proxy: the gate rolls back by itself, says why in the log and status; ' + 'N1 has every acked write',
    async () => {
      const plan: MigrationPlanInput = {
        apps: ['shop'],
        // N1 alone serves until the fence: N2's first request is a proxied one.
        sync: { mode: 'none' },
        analysis: {
          intervalMs: 250,
          windowMs: 500,
          durationMs: 15_000,
          failureLimit: 2,
          minRequests: 5,
          metrics: { errorRate: { max: 0.05 } },
        },
      };
      const created = await cp.migrate(parsePlan(plan));
      // N2 is healthy for the first evaluation (it passes, and N2 acknowledges writes), then fails.
      await eventually(
        async () => {
          const first = evaluations(await cp.getMigration(created.id), 'proxy')[0];
          assert.equal(first?.apps[0]?.outcome, 'pass', JSON.stringify(first));
        },
        { timeoutMs: 20_000, message: 'the first evaluation in proxy passed' },
      );
      n2.setFault(503);
      const log = await cp.waitForMigration(created.id, finished, WAIT_MS);
      stopLoad.abort();
      await load;

      assert.equal(log.status, 'rolled-back', JSON.stringify(log.history));
      assert.equal(log.error?.code, 'NW_CP_ANALYSIS_FAILED');
      const why = new RegExp(
        "^N2 went over a limit of the plan's analysis gates: proxy: shop: N2 error rate [\\d.]+ % \\(max 5 %\\) in 2 consecutive " +
          'evaluations \\(window 500 ms, \\d+ N2 requests, \\d+ 5xx, 2 gateway\\(s\\) read\\)$',
      );
      assert.match(log.error?.message ?? '', why);
      const failed = log.history.find((e): e is LogEvent => e.event === 'phase-failed')!;
      assert.equal(failed.phase, 'proxy');
      assert.match(failed.detail ?? '', /^NW_CP_ANALYSIS_FAILED: .*: proxy: shop: N2 error rate/);
      const verdict = (
        failed.data as {
          analysis: {
            windowMs: number;
            failed: Array<{ app: string; breaches: Array<{ metric: string; measured: number; max: number }> }>;
          };
        }
      ).analysis;
      assert.equal(verdict.windowMs, 500);
      assert.equal(verdict.failed[0]?.app, 'shop');
      const breach = verdict.failed[0]!.breaches[0]!;
      assert.equal(breach.metric, 'errorRate');
      assert.equal(breach.max, 0.05);
      assert.ok(breach.measured > 0.05, JSON.stringify(breach));
      const outcomes = evaluations(log, 'proxy').map((e) => e.apps[0]!.outcome);
      assert.equal(outcomes[0], 'pass');
      assert.deepEqual(outcomes.slice(-2), ['fail', 'fail'], 'it rolled back on the second failing evaluation in a row');
      assert.ok(outcomes.length < 60, 'it did not wait out the dwell');
      assert.ok(log.history.some((e) => e.event === 'rollback-started' && e.detail === 'NW_CP_ANALYSIS_FAILED'));
      assert.deepEqual(
        log.history.filter((e) => e.event === 'rollback-step').map((e) => e.detail),
        ['fence', 'serve'],
      );
      for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
      assert.match(
        formatStatus(await cp.status()),
        new RegExp(`why\\n  ${created.id}: NW_CP_ANALYSIS_FAILED: .*: proxy: shop: N2 error rate`),
      );

      // Writes N2 acknowledged before it failed were mirrored to N1: the rollback lost none of them.
      assert.ok(
        acked.some((w) => w.servedBy === 'n2'),
        'N2 acknowledged writes before it failed',
      );
      assert.ok(failedRequests > 0, 'clients saw N2 fail');
      for (const w of acked) assert.equal((await n1.store.get(w.key))?.value, w.value, `${w.key} (acked by ${w.servedBy}) is on N1`);
    },
  );
});
