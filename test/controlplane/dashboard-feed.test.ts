import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { FleetHealth, GONE_SHOWN_MS } from '../../controlplane/admin/dashboard/fleet-view.js';
import { eventsSince } from '../../controlplane/admin/dashboard/timeline-cursor.js';
import { TrafficMeter } from '../../controlplane/admin/dashboard/traffic-meter.js';
import { trafficByDeployment } from '../../controlplane/analysis/deployment-traffic.js';
import type { FleetStatus } from '../../controlplane/control-plane.js';
import type { MemberStatus } from '../../controlplane/live-members.js';
import type { LogEvent } from '../../controlplane/migration/migration-log.js';
import { GatewayMetrics } from '../../gateway/observability/metrics.js';

const ev = (n: number): LogEvent => ({ at: `2025-01-01T00:00:${String(n).padStart(2, '0')}.000Z`, event: 'note', detail: `event ${n}` });
const range = (from: number, to: number): LogEvent[] => Array.from({ length: to - from }, (_, i) => ev(from + i));

const member = (id: string, apps: string[], extra: Partial<MemberStatus> = {}): MemberStatus => ({
  id,
  kind: 'gateway',
  host: 'edge-1',
  pid: 100,
  startedAt: '2025-01-01T00:00:00.000Z',
  apps,
  ...extra,
});

function status(members: MemberStatus[], acks: Record<string, number | null | { refused: number }>, epoch = 5): FleetStatus {
  return {
    leader: 'cp-1',
    members,
    apps: [
      {
        app: 'shop',
        epoch,
        state: { mode: 'proxy', migration: { id: 'm-1', phase: 'proxy' } },
        lock: 'm-1',
        acks: members
          .filter((m) => m.apps.includes('shop'))
          .map((m) => {
            const a = acks[m.id] ?? null;
            if (a !== null && typeof a === 'object')
              return {
                member: m.id,
                epoch: epoch - 1,
                current: false,
                refused: { epoch: a.refused, code: 'NW_GW_FENCE_UNSAFE', detail: 'n2 failed writes' },
              };
            return { member: m.id, epoch: a, current: a === epoch };
          }),
      },
    ],
    migrations: [],
  };
}

describe('control-plane dashboard: what the feed computes', () => {
  it('timeline: the whole history on first sight, then only new events, also when the log drops old ones off its front', () => {
    assert.deepEqual(eventsSince(undefined, range(0, 3)), { reset: true, events: range(0, 3) });
    assert.deepEqual(eventsSince(range(0, 3), range(0, 5)), { reset: false, events: range(3, 5) });
    assert.deepEqual(eventsSince(range(0, 5), range(0, 5)), { reset: false, events: [] });
    assert.deepEqual(eventsSince([], range(0, 2)), { reset: false, events: range(0, 2) });
    // The log holds its newest 1000 events: 2 fell off the front as 2 came in.
    assert.deepEqual(eventsSince(range(0, 1000), range(2, 1002)), { reset: false, events: range(1000, 1002) });
    // The last event seen fell off too (many came at once): start over.
    assert.deepEqual(eventsSince(range(0, 10), range(20, 30)), { reset: true, events: range(20, 30) });
  });

  it('member health: ok, behind (for how long), refused, gone (then dropped); app mode, epoch, migration and acks', () => {
    const health = new FleetHealth();
    const [a, b, d] = [member('gw-a', ['shop']), member('gw-b', ['shop']), member('dl-1', [], { kind: 'datalayer' })];
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    let v = health.view(status([a, b, d], { 'gw-a': 5, 'gw-b': 4 }), t0);
    assert.deepEqual(
      v.members.map((m) => [m.id, m.health, m.detail, m.behindMs]),
      [
        ['dl-1', 'ok', 'present', undefined],
        ['gw-a', 'ok', 'acked the current epoch of 1 app(s)', undefined],
        ['gw-b', 'behind', 'shop at 4 epoch of 5', 0],
      ],
    );
    assert.deepEqual(v.apps, [
      {
        app: 'shop',
        mode: 'proxy',
        epoch: 5,
        migration: 'm-1',
        lock: 'm-1',
        acks: status([a, b], { 'gw-a': 5, 'gw-b': 4 }).apps[0]!.acks,
        acked: 1,
      },
    ]);
    v = health.view(status([a, b, d], { 'gw-a': 5, 'gw-b': 4 }), t0 + 2500);
    assert.equal(v.members.find((m) => m.id === 'gw-b')?.behindMs, 2500, 'behind since it was first seen so');
    v = health.view(status([a, b, d], { 'gw-a': 5, 'gw-b': { refused: 5 } }), t0 + 3000);
    assert.deepEqual(
      v.members.filter((m) => m.id === 'gw-b').map((m) => [m.health, m.detail]),
      [['refused', 'refused shop epoch 5: NW_GW_FENCE_UNSAFE']],
    );
    v = health.view(status([a, b, d], { 'gw-a': 6, 'gw-b': 6 }, 6), t0 + 4000);
    assert.deepEqual(
      v.members.map((m) => m.health),
      ['ok', 'ok', 'ok'],
    );
    // gw-b's session ends: shown as gone for a while, then no more.
    v = health.view(status([a, d], { 'gw-a': 6 }, 6), t0 + 5000);
    assert.deepEqual(
      v.members.map((m) => [m.id, m.health, m.detail]),
      [
        ['dl-1', 'ok', 'present'],
        ['gw-a', 'ok', 'acked the current epoch of 1 app(s)'],
        ['gw-b', 'gone', 'left at 2025-01-01T00:00:05.000Z: its session, and lease, ended'],
      ],
    );
    v = health.view(status([a, d], { 'gw-a': 6 }, 6), t0 + 5000 + GONE_SHOWN_MS + 1);
    assert.deepEqual(
      v.members.map((m) => m.id),
      ['dl-1', 'gw-a'],
    );
  });

  it("traffic by app and deployment from a gateway's /metrics: requests, 5xx and latency per deployment and summed per app", () => {
    const m = new GatewayMetrics();
    m.requests.inc(['shop', 'serve', 'n1', '200'], 40);
    m.requests.inc(['shop', 'proxy', 'n2', '200'], 50);
    m.requests.inc(['shop', 'proxy', 'n2', '500'], 5);
    m.requests.inc(['shop', 'proxy', 'none', '503'], 2);
    m.requests.inc(['-', 'serve', 'none', '404'], 9);
    for (const s of [0.002, 0.004]) m.latency.observe(['shop', 'n2'], s);
    m.latency.observe(['shop', 'n1'], 0.02);
    const t = trafficByDeployment(m.render());
    const pick = (k: string) => {
      const c = t.get(k);
      return c && [c.requests, c.errors, c.buckets.get(Number.POSITIVE_INFINITY)];
    };
    assert.deepEqual(pick('shop n1'), [40, 0, 1]);
    assert.deepEqual(pick('shop n2'), [55, 5, 2]);
    assert.deepEqual(pick('shop none'), [2, 2, undefined], 'no latency of its own replies observed');
    assert.deepEqual(pick('shop *'), [97, 7, 3]);
    assert.deepEqual(
      [...t.keys()].filter((k) => k.startsWith('-')),
      [],
      'requests no app matched are left out',
    );
  });

  describe('traffic meter against gateways’ /metrics over HTTP', () => {
    const servers: Server[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    });

    async function fakeGateway(metrics: GatewayMetrics): Promise<string> {
      const s = createServer((_req, res) => res.end(metrics.render()));
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    }

    it('requests/s per deployment summed over the gateways, with p99; gateways it must not read are named', async () => {
      const [g1, g2] = [new GatewayMetrics(), new GatewayMetrics()];
      const members = [
        member('gw-1', ['shop'], { host: hostname(), adminUrl: await fakeGateway(g1) }),
        member('gw-2', ['shop'], { host: hostname(), adminUrl: await fakeGateway(g2) }),
        member('gw-far', ['shop'], { host: 'another-host', adminUrl: 'http://127.0.0.1:9' }),
        member('gw-none', ['shop'], { host: hostname() }),
      ];
      const meter = new TrafficMeter(fetch, 60_000, 1000);
      const t1 = performance.now();
      const first = await meter.sample(members);
      const t1end = performance.now();
      assert.deepEqual(first.apps, [], 'one read of each gateway says nothing about rates yet');
      assert.equal(first.gateways, 2);
      assert.deepEqual(
        first.unreadable.map((u) => u.member),
        ['gw-far', 'gw-none'],
      );
      assert.match(first.unreadable[0]!.reason, /runs on host another-host/);
      assert.match(first.unreadable[1]!.reason, /publishes no adminUrl/);

      g1.requests.inc(['shop', 'proxy', 'n2', '200'], 300);
      g2.requests.inc(['shop', 'proxy', 'n2', '200'], 100);
      g2.requests.inc(['shop', 'proxy', 'n2', '502'], 20);
      g1.requests.inc(['shop', 'serve', 'n1', '200'], 40);
      for (let i = 0; i < 99; i++) g1.latency.observe(['shop', 'n2'], 0.001);
      g2.latency.observe(['shop', 'n2'], 3);
      await new Promise((r) => setTimeout(r, 200));
      const t2 = performance.now();
      const second = await meter.sample(members);
      const t2end = performance.now();
      const shop = second.apps.find((a) => a.app === 'shop')!;
      const n2 = shop.deployments.find((d) => d.deployment === 'n2')!;
      const n1 = shop.deployments.find((d) => d.deployment === 'n1')!;
      // Rates are over the time between each gateway's two reads, which lies between these bounds.
      const within = (rate: number, count: number) =>
        rate >= count / ((t2end - t1) / 1000) - 0.1 && rate <= count / ((t2 - t1end) / 1000) + 0.1;
      assert.ok(within(n2.rps, 420), `n2 ${n2.rps}/s`);
      assert.ok(within(n2.errorRps, 20), `n2 5xx ${n2.errorRps}/s`);
      assert.ok(within(n1.rps, 40), `n1 ${n1.rps}/s`);
      assert.ok(within(shop.rps, 460), `shop ${shop.rps}/s`);
      // 100 observations: 99 at 1 ms and one at 3 s; the 99th percentile lies in the 1 ms bucket.
      assert.ok(n2.p99Ms !== null && n2.p99Ms <= 1, `p99 ${n2.p99Ms}`);
      assert.equal(n1.p99Ms, null, 'no N1 latency was observed');
    });
  });
});
