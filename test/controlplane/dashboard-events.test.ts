import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FleetView } from '../../controlplane/admin/dashboard/fleet-view.js';
import type { TimelineUpdate } from '../../controlplane/admin/dashboard/dashboard-feed.js';
import type { TrafficView } from '../../controlplane/admin/dashboard/traffic-meter.js';
import { parseControlPlaneConfig } from '../../controlplane/config.js';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../../controlplane/control-plane-process.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { createLogger } from '../../platform/logger.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { adminCall, CP_TOKEN } from '../support/control-plane-harness.js';
import { openEventStream, signIn, type EventStream, type StreamEvent } from '../support/dashboard-client.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { call } from '../support/gateway-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');

const fleetOf = (e: StreamEvent): FleetView | undefined => (e.type === 'fleet' ? (e.data as FleetView) : undefined);
const trafficOf = (e: StreamEvent): TrafficView | undefined => (e.type === 'traffic' ? (e.data as TrafficView) : undefined);
const timelineOf = (e: StreamEvent, id: string): TimelineUpdate | undefined =>
  e.type === 'timeline' && (e.data as TimelineUpdate).id === id ? (e.data as TimelineUpdate) : undefined;

/** The timeline a viewer holds after every update of `id` so far: each reset replaces it, the rest append. */
function timelineSeen(stream: EventStream, id: string): { events: LogEvent[]; updates: number; last?: TimelineUpdate } {
  let events: LogEvent[] = [];
  let updates = 0;
  let last: TimelineUpdate | undefined;
  for (const e of stream.events) {
    const t = timelineOf(e, id);
    if (!t) continue;
    events = t.reset ? [...t.events] : [...events, ...t.events];
    updates += 1;
    last = t;
  }
  return { events, updates, ...(last ? { last } : {}) };
}

const rps = (t: TrafficView, app: string, deployment: string): number =>
  t.apps.find((a) => a.app === app)?.deployments.find((d) => d.deployment === deployment)?.rps ?? 0;

/**
 * The dashboard's event stream on the ZooKeeper ensemble: two fleet gateways (each with its
 * loopback admin listener, in its member document) under client load, a control-plane process
 * with its admin listener. A viewer signs in and reads /dashboard/events while a migration runs
 * and is aborted from the dashboard.
 */
describe('control-plane dashboard: the event stream during a migration (ZooKeeper ensemble)', function () {
  this.timeout(90_000);
  let where: { connectString: string; chroot: string; sessionTimeoutMs: number; connectTimeoutMs: number; opTimeoutMs: number };
  let fleet: Fleet;
  let proc: ControlPlaneProcess;
  let coordinator: ZooKeeperCoordinator;
  let stopLoad: AbortController;
  let load: Promise<void>;
  let stream: EventStream | undefined;

  beforeEach(async () => {
    where = {
      connectString: zk.connectString,
      chroot: `/nw-dashboard-${randomBytes(4).toString('hex')}`,
      sessionTimeoutMs: 6000,
      connectTimeoutMs: 15_000,
      opTimeoutMs: 15_000,
    };
    await provisionTree(where);
    fleet = await startFleet({ size: 2, admin: true, apps: ['shop', 'cart'], coordinator: () => zkClient('member', where) });
    coordinator = zkClient('controlplane', where);
    proc = await startControlPlaneProcess(
      parseControlPlaneConfig({ id: 'cp-dashboard', coordinator: { kind: 'embedded' }, admin: { host: '127.0.0.1', port: 0 } }),
      { coordinator, env: { NORTHWEST_ADMIN_TOKEN: CP_TOKEN }, logger: createLogger('silent') },
    );
    stopLoad = new AbortController();
    load = Promise.all(
      fleet.members.map(async (m, i) => {
        const base = m.gateway.listeners[0]!.url;
        for (let n = 0; !stopLoad.signal.aborted; n++) {
          await call(base, `/kv/k-${i}-${n}`, { method: 'PUT', body: `v${n}` });
          await call(base, `/kv/k-${i}-${n}`);
        }
      }),
    ).then(() => undefined);
  });

  afterEach(async () => {
    stream?.close();
    stopLoad.abort();
    await load;
    await proc.stop();
    await fleet.close();
    await removeChroot(zk.connectString, where.chroot);
  });

  it('streams members, health, app modes, epochs, acks, the timeline as it grows, traffic by deployment; abort rolls back', async () => {
    const url = proc.adminAddress.url;
    const session = await signIn(url);
    stream = await openEventStream(url, session.cookie);
    assert.equal(stream.status, 200);
    const first = await stream.waitFor(fleetOf, { timeoutMs: 5000, message: 'the fleet as it stands' });
    assert.deepEqual(
      first.members.map((m) => [m.id, m.kind, m.health, m.adminUrl]),
      fleet.members.map((m) => [m.id, 'gateway', 'ok', m.gateway.adminAddress!.url]),
    );
    assert.deepEqual(first.apps, [], 'no app has a state yet');
    // The apps' first state, as an operator (or the last migration) leaves it: N1 serves.
    await writeAppStates(coordinator, { shop: { mode: 'serve' }, cart: { mode: 'serve' } });
    const serving = await stream.waitFor(
      (e) => {
        const apps = fleetOf(e)?.apps;
        return apps?.length === 2 && apps.every((a) => a.mode === 'serve' && a.epoch === 0 && a.acked === 2) ? fleetOf(e) : undefined;
      },
      { timeoutMs: 10_000, message: 'both apps served by N1, acked by both gateways' },
    );
    assert.deepEqual(
      serving.members.map((m) => [m.health, m.detail]),
      [
        ['ok', 'acked the current epoch of 2 app(s)'],
        ['ok', 'acked the current epoch of 2 app(s)'],
      ],
    );
    await stream.waitFor((e) => (trafficOf(e) && rps(trafficOf(e)!, 'shop', 'n1') > 0 ? true : undefined), {
      timeoutMs: 10_000,
      message: 'N1 requests/s in the traffic of shop',
    });

    const created = await adminCall(url, 'POST', '/migrations', {
      body: {
        id: 'm-dash',
        apps: ['shop'],
        // The gates hold the migration in proxy (their verdicts stay inconclusive) until it is aborted.
        analysis: {
          intervalMs: 500,
          windowMs: 1000,
          durationMs: 45_000,
          failureLimit: 2,
          minRequests: 1_000_000,
          metrics: { errorRate: { max: 0.5 } },
        },
      },
    });
    assert.equal(created.status, 201, created.text);
    const startedAt = stream.events.length;

    // The fleet as the migration moves it: shop in proxy at a new epoch, acked by both gateways.
    const inProxy = await stream.waitFor(
      (e) => {
        const shop = fleetOf(e)?.apps.find((a) => a.app === 'shop');
        return shop?.mode === 'proxy' && shop.acked === 2 ? { shop, fleet: fleetOf(e)! } : undefined;
      },
      { timeoutMs: 20_000, message: 'shop in proxy, acked by both gateways', from: startedAt },
    );
    assert.equal(inProxy.shop.migration, 'm-dash');
    assert.equal(inProxy.shop.lock, 'm-dash');
    assert.ok(
      inProxy.shop.acks.every((k) => k.current && k.epoch === inProxy.shop.epoch),
      JSON.stringify(inProxy.shop.acks),
    );
    assert.deepEqual(
      inProxy.fleet.apps.filter((a) => a.app === 'cart').map((a) => [a.mode, a.epoch, a.lock]),
      [['serve', 0, undefined]],
      'cart is not part of it',
    );
    assert.deepEqual(
      inProxy.fleet.migrations.map((m) => [m.id, m.status, m.phase]),
      [['m-dash', 'running', 'proxy']],
    );

    // The timeline grows event by event while the gates hold it in proxy.
    await stream.waitFor((e) => timelineOf(e, 'm-dash')?.events.some((x) => x.event === 'note' && /^analysis 3\//.test(x.detail ?? '')), {
      timeoutMs: 20_000,
      message: 'the third analysis note',
    });
    // Traffic by deployment: N2's after the flip to proxy, with a p99.
    const n2Traffic = await stream.waitFor((e) => (trafficOf(e) && rps(trafficOf(e)!, 'shop', 'n2') > 0 ? trafficOf(e) : undefined), {
      timeoutMs: 10_000,
      message: 'N2 requests/s in the traffic of shop',
      from: startedAt,
    });
    const shopTraffic = n2Traffic.apps.find((a) => a.app === 'shop')!;
    assert.ok(shopTraffic.p99Ms !== null && shopTraffic.p99Ms > 0, JSON.stringify(shopTraffic));
    assert.equal(n2Traffic.gateways, 2);

    const abort = await adminCall(url, 'POST', '/dashboard/migrations/m-dash/abort', { token: null });
    assert.equal(abort.status, 401, 'a button needs the session');
    const res = await fetch(`${url}/dashboard/migrations/m-dash/abort`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'x-northwest-csrf': session.csrf },
    });
    assert.equal(res.status, 202, await res.text());
    await stream.waitFor((e) => timelineOf(e, 'm-dash')?.status === 'rolled-back', { timeoutMs: 20_000, message: 'rolled back' });
    await stream.waitFor((e) => (fleetOf(e)?.apps.find((a) => a.app === 'shop')?.mode === 'serve' ? true : undefined), {
      timeoutMs: 10_000,
      message: 'shop served by N1 again',
      from: stream.events.findIndex((e) => timelineOf(e, 'm-dash')?.status === 'rolled-back'),
    });

    // What the viewer pieced together is the log, event for event; it came in many updates, as it happened.
    const log = (await adminCall(url, 'GET', '/migrations/m-dash')).body as MigrationLog;
    const seen = timelineSeen(stream, 'm-dash');
    assert.deepEqual(seen.events, log.history);
    assert.equal(seen.last?.status, 'rolled-back');
    const resets = stream.events.filter((e) => timelineOf(e, 'm-dash')?.reset).length;
    assert.equal(resets, 1, 'the whole history once, when the viewer first saw the migration; then only what was new');
    assert.ok(seen.updates >= 5, `${seen.updates} timeline updates`);
    assert.ok(
      log.history.some((e) => e.event === 'rollback-started' && e.detail === 'abort requested: from the dashboard'),
      JSON.stringify(log.history),
    );
    // Watch-driven: each event reached the viewer soon after the leader wrote it, not on the 5 s re-read.
    const lags = stream.events
      .filter((e) => timelineOf(e, 'm-dash') && !timelineOf(e, 'm-dash')!.reset)
      .map((e) => e.receivedAt - Date.parse(timelineOf(e, 'm-dash')!.events.at(-1)!.at))
      .sort((a, b) => a - b);
    assert.ok(lags[Math.floor(lags.length / 2)]! < 1000, `median lag ${JSON.stringify(lags)}`);
  });
});
