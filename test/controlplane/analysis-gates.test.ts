import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAnalysisGates } from '../../controlplane/analysis/analysis-gates.js';
import { judge } from '../../controlplane/analysis/gate-verdict.js';
import { scrapeRefusal } from '../../controlplane/analysis/gateway-scrape.js';
import { n2TrafficByApp } from '../../controlplane/analysis/n2-traffic.js';
import { parsePromText, PromTextError } from '../../controlplane/analysis/prometheus-text.js';
import { histogramQuantile, TrafficWindow } from '../../controlplane/analysis/traffic-window.js';
import { isControlError } from '../../controlplane/errors.js';
import type { MemberStatus } from '../../controlplane/live-members.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { PHASE_TABLE } from '../../controlplane/migration/phase-table.js';
import type { PhaseContext } from '../../controlplane/migration/phases/phase.js';
import { loadPlan, parsePlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { GatewayMetrics } from '../../gateway/observability/metrics.js';

const LIMITS = { minRequests: 10, metrics: { errorRate: { max: 0.05 }, p99Ms: { max: 200 } } };
const traffic = (requests: number, errors: number, buckets: Array<[number, number]> = [[Number.POSITIVE_INFINITY, requests]]) => ({
  requests,
  errors,
  buckets: new Map(buckets),
});

describe('analysis gates: reading the gateways', () => {
  it('parses Prometheus sample lines: labels with escapes, +Inf, timestamps; comments skipped', () => {
    const text = [
      '# HELP x_total a counter',
      '# TYPE x_total counter',
      'x_total{app="sh\\"op",path="a\\\\b\\nc"} 3 1700000000000',
      'y_bucket{le="+Inf"} 7',
      'z 1.5e3',
      '',
    ].join('\n');
    assert.deepEqual(parsePromText(text), [
      { name: 'x_total', labels: { app: 'sh"op', path: 'a\\b\nc' }, value: 3 },
      { name: 'y_bucket', labels: { le: '+Inf' }, value: 7 },
      { name: 'z', labels: {}, value: 1500 },
    ]);
    assert.throws(
      () => parsePromText('ok 1\nx{app="unterminated} 1\n'),
      (e: unknown) => e instanceof PromTextError && /^line 2: /.test(e.message),
    );
    assert.throws(() => parsePromText('x one\n'), /line 1: not a number/);
  });

  it("N2's traffic per app from a gateway's /metrics: n2's replies and the gateway's 502/504 under proxy; not N1, 503, other apps", () => {
    const m = new GatewayMetrics();
    for (let i = 0; i < 90; i++) m.requests.inc(['shop', 'proxy', 'n2', '200']);
    for (let i = 0; i < 6; i++) m.requests.inc(['shop', 'proxy', 'n2', '503']);
    m.requests.inc(['shop', 'proxy', 'none', '502'], 3); // N2 refused connections: the gateway answered
    m.requests.inc(['shop', 'proxy', 'none', '503'], 5); // e.g. a lapsed lease: nothing to do with N2
    m.requests.inc(['shop', 'serve', 'none', '502'], 7); // N1's failure, before the handover
    m.requests.inc(['shop', 'mirror', 'n1', '500'], 11);
    m.requests.inc(['cart', 'proxy', 'n2', '500'], 13);
    for (const s of [0.002, 0.02, 0.2, 2]) m.latency.observe(['shop', 'n2'], s);
    m.latency.observe(['shop', 'n1'], 9);
    const shop = n2TrafficByApp(m.render(), ['shop']).get('shop')!;
    assert.equal(shop.requests, 90 + 6 + 3);
    assert.equal(shop.errors, 6 + 3);
    assert.equal(shop.buckets.get(Number.POSITIVE_INFINITY), 4, 'only n2 latencies');
    assert.equal(shop.buckets.get(0.0025), 1);
    assert.equal(n2TrafficByApp(m.render(), ['nothing']).size, 0);
  });

  it('p99 as histogram_quantile: linear within the bucket, the highest finite bound for the +Inf bucket, NaN when empty', () => {
    const b = new Map<number, number>([
      [0.1, 50],
      [0.2, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    assert.equal(histogramQuantile(0.5, b), 0.1);
    assert.ok(Math.abs(histogramQuantile(0.99, b) - 0.198) < 1e-9);
    assert.equal(
      histogramQuantile(
        0.99,
        new Map([
          [0.1, 0],
          [Number.POSITIVE_INFINITY, 10],
        ]),
      ),
      0.1,
    );
    assert.ok(Number.isNaN(histogramQuantile(0.99, new Map())));
  });

  it('a window is the growth since the read nearest windowMs back, summed over gateways; a counter that went down was reset', () => {
    const w = new TrafficWindow();
    const at = (member: string, t: number, requests: number, errors: number): void =>
      w.add(member, t, new Map([['shop', traffic(requests, errors)]]));
    at('a', 0, 100, 0);
    at('a', 1000, 200, 10);
    at('a', 2000, 400, 30);
    at('b', 0, 50, 0);
    at('b', 1000, 60, 0);
    at('b', 2010, 5, 1); // restarted: counts from zero again
    const d = w.delta('shop', ['a', 'b'], 1000);
    assert.equal(d.requests, 200 + 5);
    assert.equal(d.errors, 20 + 1);
    assert.equal(d.spanMs, 1010);
    assert.equal(w.delta('shop', ['a'], 5000).requests, 200, 'reads before the last base are gone: the oldest left is the base');
    assert.equal(w.delta('shop', ['c'], 1000).requests, 0, 'a gateway not read adds nothing');
  });

  it('judges pass, fail (naming each metric over its limit) and inconclusive (under minRequests)', () => {
    assert.equal(judge('shop', traffic(9, 9), LIMITS).outcome, 'inconclusive');
    const ok = judge(
      'shop',
      traffic(100, 5, [
        [0.1, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
      LIMITS,
    );
    assert.deepEqual([ok.outcome, ok.errorRate, ok.breaches], ['pass', 0.05, []]);
    const bad = judge(
      'shop',
      traffic(100, 6, [
        [0.1, 90],
        [0.5, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
      LIMITS,
    );
    assert.equal(bad.outcome, 'fail');
    assert.deepEqual(
      bad.breaches.map((b) => [b.metric, b.measured, b.max]),
      [
        ['errorRate', 0.06, 0.05],
        ['p99Ms', 460, 200],
      ],
    );
  });

  it('reads only a loopback adminUrl on its own host: no URL, another address, another host are refused with the reason', () => {
    const own = hostname();
    assert.equal(scrapeRefusal({ host: own, adminUrl: 'http://127.0.0.1:9100' }), undefined);
    assert.equal(scrapeRefusal({ host: own, adminUrl: 'http://[::1]:9100' }), undefined);
    assert.match(scrapeRefusal({ host: own, adminUrl: undefined }) ?? '', /no adminUrl/);
    assert.match(scrapeRefusal({ host: own, adminUrl: 'http://10.0.0.7:9100' }) ?? '', /not a loopback address/);
    assert.match(scrapeRefusal({ host: 'edge-2', adminUrl: 'http://127.0.0.1:9100' }, 'edge-1') ?? '', /runs on host edge-2/);
  });
});

describe('analysis gates: the plan section', () => {
  it('has documented defaults and needs at least one metric', () => {
    const a = parsePlan({ apps: ['shop'], analysis: { metrics: { errorRate: { max: 0.01 } } } }).analysis;
    assert.deepEqual(a, {
      intervalMs: 10_000,
      windowMs: 60_000,
      durationMs: 60_000,
      failureLimit: 2,
      minRequests: 20,
      metrics: { errorRate: { max: 0.01 } },
    });
    assert.equal(parsePlan({ apps: ['shop'] }).analysis, undefined);
  });

  it('an invalid section is refused naming the file and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nw-analysis-plan-'));
    try {
      const bad = async (analysis: unknown, field: RegExp): Promise<void> => {
        const file = join(dir, 'plan.json');
        await writeFile(file, JSON.stringify({ apps: ['shop'], analysis }));
        assert.throws(
          () => loadPlan(file),
          (e: unknown) => isControlError(e, 'NW_CP_PLAN_INVALID') && e.message.includes(file) && field.test(e.message),
          JSON.stringify(analysis),
        );
      };
      await bad({ metrics: {} }, /analysis\.metrics: name at least one metric/);
      await bad({ metrics: { errorRate: { max: 2 } } }, /analysis\.metrics\.errorRate\.max/);
      await bad({ intervalMs: 5000, windowMs: 1000, metrics: { p99Ms: { max: 100 } } }, /analysis\.windowMs: must be at least intervalMs/);
      await bad({ intervalMs: 100, durationMs: 60_000, metrics: { p99Ms: { max: 100 } } }, /analysis\.durationMs: at most 100 evaluations/);
      await bad({ metrics: { p99Ms: { max: 100 } }, thresholdPct: 5 }, /analysis: .*thresholdPct/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * runAnalysisGates with a stand-in for the runner: members whose /metrics is served by a fetch that
 * grows the counters by a fixed amount on every read, and a log whose events the test reads.
 */
function gateContext(
  plan: MigrationPlanInput,
  members: readonly MemberStatus[],
  perScrape: (member: string, n: number) => { ok: number; failed: number; slowSeconds?: number },
  abortAfter = Number.POSITIVE_INFINITY,
): { ctx: PhaseContext; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const metrics = new Map<string, GatewayMetrics>();
  const scrapes = new Map<string, number>();
  const log = { id: 'm-unit', plan: parsePlan(plan), history: [] } as unknown as MigrationLog;
  let evaluations = 0;
  const fakeFetch = (async (input: string | URL | Request) => {
    const url = String(input);
    const member = members.find((m) => m.adminUrl && url.startsWith(m.adminUrl))!;
    const n = (scrapes.get(member.id) ?? 0) + 1;
    scrapes.set(member.id, n);
    let m = metrics.get(member.id);
    if (!m) {
      m = new GatewayMetrics();
      metrics.set(member.id, m);
    }
    const step = perScrape(member.id, n);
    m.requests.inc(['shop', 'proxy', 'n2', '200'], step.ok);
    m.requests.inc(['shop', 'proxy', 'n2', '500'], step.failed);
    for (let i = 0; i < step.ok + step.failed; i++) m.latency.observe(['shop', 'n2'], step.slowSeconds ?? 0.003);
    return new Response(m.render());
  }) as typeof fetch;
  const ctx: PhaseContext = {
    id: 'm-unit',
    log,
    syncHooks: new Map(),
    dns: undefined,
    fetch: fakeFetch,
    checkLeader: () => undefined,
    signal: new AbortController().signal,
    abortRequested: async () => evaluations++ >= abortAfter,
    liveMembers: async () => members,
    record: async (_change, ...e) => {
      events.push(...e.map((x) => ({ at: '', ...x })));
    },
    runSyncHooks: async () => ({}),
  };
  return { ctx, events };
}

const gateway = (id: string, extra: Partial<MemberStatus> = {}): MemberStatus => ({
  id,
  kind: 'gateway',
  host: hostname(),
  pid: 1,
  startedAt: 't',
  apps: ['shop'],
  adminUrl: `http://127.0.0.1:${9100 + Number(id.slice(-1))}`,
  ...extra,
});

describe('analysis gates: the dwell', () => {
  const quick = { intervalMs: 100, windowMs: 200, durationMs: 500, failureLimit: 2, minRequests: 10 };

  it('a healthy N2 passes every evaluation; each is an event; the phase reports the tally', async () => {
    const { ctx, events } = gateContext(
      { apps: ['shop'], analysis: { ...quick, metrics: { errorRate: { max: 0.05 }, p99Ms: { max: 100 } } } },
      [gateway('gw-1'), gateway('gw-2')],
      () => ({ ok: 20, failed: 0 }),
    );
    const work = await runAnalysisGates(ctx, 'proxy');
    assert.equal(events.length, 5);
    assert.match(
      events[0]!.detail ?? '',
      new RegExp(
        '^analysis 1/5 over 0\\.\\d s, 2 gateway\\(s\\): shop: 40 N2 requests, 0 5xx, error rate 0 % \\(max 5 %\\), ' +
          'p99 [\\d.]+ ms \\(max 100 ms\\): pass$',
      ),
    );
    assert.deepEqual((work.data as { analysis: Record<string, unknown> }).analysis, {
      evaluations: 5,
      of: 5,
      pass: 5,
      fail: 0,
      inconclusive: 0,
      unreadable: 0,
      worst: { shop: { errorRate: 0, p99Ms: 5 } },
    });
  });

  it('p99 over its limit in failureLimit consecutive evaluations: NW_CP_ANALYSIS_FAILED naming metric, value, limit, window', async () => {
    const { ctx, events } = gateContext(
      { apps: ['shop'], analysis: { ...quick, metrics: { p99Ms: { max: 100 } } } },
      [gateway('gw-1')],
      (_m, n) => ({ ok: 20, failed: 0, slowSeconds: n >= 3 ? 0.4 : 0.003 }),
    );
    await assert.rejects(runAnalysisGates(ctx, 'redirect'), (e: unknown) => {
      assert.ok(isControlError(e, 'NW_CP_ANALYSIS_FAILED'));
      assert.match(
        e.message,
        new RegExp(
          'redirect: shop: N2 p99 [\\d.]+ ms \\(max 100 ms\\) in 2 consecutive evaluations ' +
            '\\(window 200 ms, \\d+ N2 requests, 0 5xx, 1 gateway\\(s\\) read\\)',
        ),
      );
      const failed = (e.details as { analysis: { failed: Array<{ breaches: Array<{ metric: string; max: number }> }> } }).analysis.failed;
      assert.deepEqual(
        failed[0]!.breaches.map((b) => [b.metric, b.max]),
        [['p99Ms', 100]],
      );
      return true;
    });
    assert.deepEqual(
      events.map((e) => /: (pass|fail|inconclusive)/.exec(e.detail ?? '')?.[1]),
      ['pass', 'fail', 'fail'],
    );
  });

  it('inconclusive evaluations (too few requests) neither count nor reset a failing streak', async () => {
    // fail, inconclusive, fail: two failures in a row among the conclusive ones; healthy after that.
    const { ctx, events } = gateContext(
      { apps: ['shop'], analysis: { ...quick, windowMs: 100, metrics: { errorRate: { max: 0.05 } } } },
      [gateway('gw-1')],
      (_m, n) => (n === 3 ? { ok: 1, failed: 0 } : n <= 4 ? { ok: 10, failed: 10 } : { ok: 20, failed: 0 }),
    );
    await assert.rejects(
      runAnalysisGates(ctx, 'proxy'),
      (e: unknown) => isControlError(e, 'NW_CP_ANALYSIS_FAILED') && /in 2 consecutive/.test(e.message),
    );
    assert.deepEqual(
      events.map((e) => /: (pass|fail|inconclusive)/.exec(e.detail ?? '')?.[1]),
      ['fail', 'inconclusive', 'fail'],
    );
  });

  it('no gateway readable in failureLimit rounds: NW_CP_ANALYSIS_UNREADABLE with each reason (gates blind to N2 do not pass)', async () => {
    const { ctx, events } = gateContext(
      { apps: ['shop'], analysis: { ...quick, metrics: { errorRate: { max: 0.05 } } } },
      [gateway('gw-1', { adminUrl: undefined }), gateway('gw-2', { host: 'another-host' })],
      () => ({ ok: 20, failed: 0 }),
    );
    await assert.rejects(runAnalysisGates(ctx, 'proxy'), (e: unknown) => {
      assert.ok(isControlError(e, 'NW_CP_ANALYSIS_UNREADABLE'));
      assert.match(e.message, /in 2 consecutive evaluations: gw-1: publishes no adminUrl .*; gw-2: runs on host another-host/);
      return true;
    });
    assert.equal(events.length, 2);
  });

  it("an operator's abort ends the dwell at the next evaluation", async () => {
    const { ctx, events } = gateContext(
      { apps: ['shop'], analysis: { ...quick, metrics: { errorRate: { max: 0.05 } } } },
      [gateway('gw-1')],
      () => ({ ok: 20, failed: 0 }),
      2,
    );
    const work = await runAnalysisGates(ctx, 'proxy');
    assert.equal(events.length, 2);
    assert.equal((work.data as { analysis: { ended: string } }).analysis.ended, 'abort requested');
  });

  it('proxy dwells under the gates; redirect too when it is enabled, and not otherwise', async () => {
    const analysis = { ...quick, durationMs: 200, metrics: { errorRate: { max: 0.05 } } };
    const healthy = () => ({ ok: 20, failed: 0 });
    const proxy = gateContext({ apps: ['shop'], analysis }, [gateway('gw-1')], healthy);
    await PHASE_TABLE.proxy.after!(proxy.ctx);
    assert.deepEqual(
      proxy.events.map((e) => e.phase),
      ['proxy', 'proxy'],
    );
    const on = gateContext({ apps: ['shop'], analysis, redirect: { enabled: true } }, [gateway('gw-1')], healthy);
    await PHASE_TABLE.redirect.after!(on.ctx);
    assert.deepEqual(
      on.events.map((e) => e.phase),
      ['redirect', 'redirect'],
    );
    const off = gateContext({ apps: ['shop'], analysis }, [gateway('gw-1')], healthy);
    assert.deepEqual(await PHASE_TABLE.redirect.after!(off.ctx), {});
    assert.equal(off.events.length, 0);
  });

  it('without an analysis section the phase does not dwell', async () => {
    const { ctx, events } = gateContext({ apps: ['shop'] }, [gateway('gw-1')], () => ({ ok: 1, failed: 0 }));
    assert.deepEqual(await runAnalysisGates(ctx, 'proxy'), {});
    assert.equal(events.length, 0);
  });
});
