import { ControlError } from '../errors.js';
import type { PhaseContext, PhaseWork } from '../migration/phases/phase.js';
import type { AnalysisPlan } from '../migration/plan.js';
import { describeMetric, describeVerdict, judge, type AppVerdict } from './gate-verdict.js';
import { processKey, scrapeMetrics, scrapeRefusal } from './gateway-scrape.js';
import { n2TrafficByApp } from './n2-traffic.js';
import { PromTextError } from './prometheus-text.js';
import { TrafficWindow } from './traffic-window.js';

/** The phases the gates watch: the ones where N2 takes the traffic and a rollback still loses nothing. */
export type GatedPhase = 'proxy' | 'redirect';

interface ScrapeRound {
  /** Keys (one per gateway process) of the gateways read in this round. */
  readonly read: readonly string[];
  readonly unreadable: ReadonlyArray<{ readonly member: string; readonly reason: string }>;
}

function sleepUntil(t: number, signal: AbortSignal): Promise<void> {
  const ms = t - performance.now();
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Reads every live gateway that serves one of `apps` into the window. */
async function scrapeRound(ctx: PhaseContext, a: AnalysisPlan, apps: readonly string[], window: TrafficWindow): Promise<ScrapeRound> {
  const gateways = (await ctx.liveMembers()).filter((m) => m.kind === 'gateway' && m.apps.some((app) => apps.includes(app)));
  // Short intervals still give a slow gateway a second: a late round only delays the next one.
  const timeoutMs = Math.max(1000, Math.min(a.intervalMs, 5000));
  const read: string[] = [];
  const unreadable: Array<{ member: string; reason: string }> = [];
  await Promise.all(
    gateways.map(async (m) => {
      const refusal = scrapeRefusal(m);
      const res = refusal === undefined ? await scrapeMetrics(ctx.fetch, m.adminUrl!, timeoutMs) : { ok: false as const, reason: refusal };
      if (!res.ok) {
        unreadable.push({ member: m.id, reason: res.reason });
        return;
      }
      try {
        window.add(processKey(m), performance.now(), n2TrafficByApp(res.text, apps));
        read.push(processKey(m));
      } catch (err) {
        if (!(err instanceof PromTextError)) throw err;
        unreadable.push({ member: m.id, reason: `/metrics: ${err.message}` });
      }
    }),
  );
  if (gateways.length === 0) unreadable.push({ member: '-', reason: 'no live gateway serves the apps' });
  return { read, unreadable: unreadable.sort((x, y) => x.member.localeCompare(y.member)) };
}

const unreadableText = (u: ScrapeRound['unreadable']): string => u.map((x) => `${x.member}: ${x.reason}`).join('; ');

/**
 * The analysis gates of a plan in one phase (proxy, or redirect when enabled): the migration stays
 * in the phase for `durationMs`, reads every gateway's /metrics at its start and then every
 * `intervalMs`, and judges each app's N2 over the last `windowMs` (error rate from
 * northwest_gateway_requests_total, p99 from the northwest_gateway_request_duration_seconds buckets).
 * Each evaluation is a `note` event in the migration log. A metric over its limit in `failureLimit`
 * consecutive conclusive evaluations throws NW_CP_ANALYSIS_FAILED (the runner rolls back, as for any
 * failed phase); no gateway readable in `failureLimit` consecutive rounds throws
 * NW_CP_ANALYSIS_UNREADABLE: gates that cannot see N2 must not pass it. An operator's abort ends the
 * dwell at the next evaluation (the runner then rolls back); a pause waits for the phase to end.
 * Without an analysis section the phase does not dwell.
 */
export async function runAnalysisGates(ctx: PhaseContext, phase: GatedPhase): Promise<PhaseWork> {
  const a = ctx.log.plan.analysis;
  if (!a) return {};
  const apps = ctx.log.plan.apps;
  const evaluations = Math.floor(a.durationMs / a.intervalMs);
  const window = new TrafficWindow();
  const failing = new Map<string, number>();
  let unreadableRounds = 0;
  const tally = { pass: 0, fail: 0, inconclusive: 0, unreadable: 0 };
  /** Per app, the highest values measured in a conclusive evaluation (for the phase's summary). */
  const worst = new Map<string, { errorRate: number | null; p99Ms: number | null }>();
  let evaluated = 0;
  // Per app and evaluation: pass, fail, inconclusive; per evaluation: unreadable.
  const summary = (extra: Record<string, unknown> = {}): PhaseWork => ({
    data: { analysis: { evaluations: evaluated, of: evaluations, ...tally, ...extra, worst: Object.fromEntries(worst) } },
  });

  const t0 = performance.now();
  await scrapeRound(ctx, a, apps, window);
  for (let k = 1; k <= evaluations; k++) {
    await sleepUntil(t0 + k * a.intervalMs, ctx.signal);
    ctx.checkLeader();
    if (await ctx.abortRequested()) return summary({ ended: 'abort requested' });
    const round = await scrapeRound(ctx, a, apps, window);
    evaluated = k;
    const head = `analysis ${k}/${evaluations}`;
    if (round.read.length === 0) {
      unreadableRounds += 1;
      tally.unreadable += 1;
      const streak = `${unreadableRounds} of ${a.failureLimit}`;
      const detail = `${head}: no gateway's /metrics could be read (${streak}): ${unreadableText(round.unreadable)}`;
      await ctx.record(
        {},
        { event: 'note', phase, detail, data: { analysis: { evaluation: k, of: evaluations, unreadable: round.unreadable } } },
      );
      if (unreadableRounds >= a.failureLimit)
        throw new ControlError(
          'NW_CP_ANALYSIS_UNREADABLE',
          `${phase}: in ${unreadableRounds} consecutive evaluations: ${unreadableText(round.unreadable)}`,
          {
            details: { analysis: { phase, consecutive: unreadableRounds, unreadable: round.unreadable } },
          },
        );
      continue;
    }
    unreadableRounds = 0;
    let spanMs = 0;
    const verdicts: Array<AppVerdict & { consecutive: number }> = apps.map((app) => {
      const delta = window.delta(app, round.read, a.windowMs);
      spanMs = Math.max(spanMs, delta.spanMs);
      const v = judge(app, delta, a);
      tally[v.outcome] += 1;
      // Inconclusive evaluations neither count nor reset: too few requests say nothing either way.
      if (v.outcome === 'fail') failing.set(app, (failing.get(app) ?? 0) + 1);
      if (v.outcome === 'pass') failing.set(app, 0);
      if (v.outcome !== 'inconclusive') {
        const w = worst.get(app);
        worst.set(app, { errorRate: Math.max(w?.errorRate ?? 0, v.errorRate ?? 0), p99Ms: Math.max(w?.p99Ms ?? 0, v.p99Ms ?? 0) });
      }
      return { ...v, consecutive: failing.get(app) ?? 0 };
    });
    const span = `over ${(spanMs / 1000).toFixed(1)} s, ${round.read.length} gateway(s)`;
    const lines = verdicts.map((v) => describeVerdict(v, a) + (v.outcome === 'fail' ? ` (${v.consecutive} of ${a.failureLimit})` : ''));
    const unread = round.unreadable.length ? `; not read: ${unreadableText(round.unreadable)}` : '';
    await ctx.record(
      {},
      {
        event: 'note',
        phase,
        detail: `${head} ${span}: ${lines.join('; ')}${unread}`,
        data: {
          analysis: {
            evaluation: k,
            of: evaluations,
            windowMs: a.windowMs,
            spanMs: Math.round(spanMs),
            gateways: round.read.length,
            ...(round.unreadable.length ? { unreadable: round.unreadable } : {}),
            apps: verdicts,
          },
        },
      },
    );
    const tripped = verdicts.filter((v) => v.outcome === 'fail' && v.consecutive >= a.failureLimit);
    if (tripped.length === 0) continue;
    const message = tripped
      .map(
        (v) =>
          `${v.app}: N2 ${v.breaches.map((b) => describeMetric(b.metric, b.measured, b.max)).join(', ')} in ${v.consecutive} consecutive ` +
          `evaluations (window ${a.windowMs} ms, ${v.requests} N2 requests, ${v.errors} 5xx, ${round.read.length} gateway(s) read)`,
      )
      .join('; ');
    throw new ControlError('NW_CP_ANALYSIS_FAILED', `${phase}: ${message}`, {
      details: {
        analysis: {
          phase,
          windowMs: a.windowMs,
          spanMs: Math.round(spanMs),
          failureLimit: a.failureLimit,
          gateways: round.read.length,
          failed: tripped.map((v) => ({
            app: v.app,
            requests: v.requests,
            errors: v.errors,
            consecutive: v.consecutive,
            breaches: v.breaches,
          })),
        },
      },
    });
  }
  return summary();
}
