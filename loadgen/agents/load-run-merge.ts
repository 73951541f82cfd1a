/**
 * One report from many agents: per-agent rows, and merged figures in which each histogram is the
 * sum of the agents' (HDR add, so merged percentiles are those of every request, not an average of
 * percentiles) and each second's counts are the agents' summed. Agents without a result are named
 * with the reason; their requests are in no figure.
 */
import type { LatencySummary } from '../bench/latency-histogram.js';
import { summarizeLatency } from '../bench/latency-histogram.js';
import type { ServedBy } from '../load-model.js';
import type { CompletedResult } from './agent-result.js';
import { decodeHistogram, encodeHistogram, mergeHistograms } from './histogram-codec.js';
import type { AgentJoin, StartDocument } from './load-run-documents.js';
import type { LoadSpec } from './load-spec.js';

const SERVED_BY_ORDER: readonly ServedBy[] = ['n1', 'n2', 'none', 'unknown'];

/** What became of one agent of the run. */
export type AgentOutcome =
  | { readonly status: 'reported'; readonly result: CompletedResult }
  /** failed: it published why it did not run; missing: no result; invalid: a result that does not decode. */
  | { readonly status: 'failed' | 'missing' | 'invalid'; readonly code: string; readonly detail: string };

export interface AgentRow {
  readonly agent: string;
  readonly host: string | null;
  readonly pid: number | null;
  readonly status: AgentOutcome['status'];
  readonly code: string | null;
  readonly detail: string | null;
  /** When its first request fell due, by its clock. */
  readonly startedAtEpochMs: number | null;
  /** startedAt − the run's start time, ms. */
  readonly startDelayMs: number | null;
  readonly requests: number | null;
  readonly errors: number | null;
  readonly unfinished: number | null;
  /** Microseconds. */
  readonly latencyUs: LatencySummary | null;
  readonly requestsByServedBy: Partial<Record<ServedBy, number>>;
}

export interface MergedFigures {
  /** Agents whose results are in these figures. */
  readonly agents: number;
  readonly requests: number;
  readonly errors: number;
  readonly unfinished: number;
  /** Microseconds, of every request of every reporting agent. */
  readonly latencyUs: LatencySummary;
  readonly latencyUsByServedBy: Partial<Record<ServedBy, LatencySummary>>;
  readonly byError: Readonly<Record<string, number>>;
  /** The merged histogram, compressed base64 (HdrHistogram tools read it; merge it again across runs). */
  readonly histogram: string;
}

/** One second of the run, one deployment: requests completed in it, all agents together. */
export interface SecondPoint {
  /** Seconds since the run's start time. */
  readonly second: number;
  readonly servedBy: ServedBy;
  readonly requests: number;
  readonly errors: number;
}

export interface LoadRunReport {
  readonly run: string;
  readonly startAtEpochMs: number;
  readonly toleranceMs: number;
  readonly spec: LoadSpec;
  readonly agents: readonly AgentRow[];
  readonly merged: MergedFigures;
  readonly series: readonly SecondPoint[];
  readonly starts: {
    /** Latest − earliest start of the reporting agents, ms. */
    readonly spreadMs: number | null;
    /** Every reporting agent started within the tolerance of the start time. */
    readonly withinTolerance: boolean;
  };
  /** Agents without a result in the figures (failed, missing, invalid). */
  readonly missing: readonly string[];
  /** Every agent reported, each within the start tolerance. */
  readonly ok: boolean;
}

export interface AgentEntry {
  readonly agent: string;
  readonly join: AgentJoin | undefined;
  readonly outcome: AgentOutcome;
}

function agentRow(start: StartDocument, e: AgentEntry): AgentRow {
  const base = { agent: e.agent, host: e.join?.host ?? null, pid: e.join?.pid ?? null };
  if (e.outcome.status !== 'reported') {
    return {
      ...base,
      status: e.outcome.status,
      code: e.outcome.code,
      detail: e.outcome.detail,
      startedAtEpochMs: null,
      startDelayMs: null,
      requests: null,
      errors: null,
      unfinished: null,
      latencyUs: null,
      requestsByServedBy: {},
    };
  }
  const r = e.outcome.result;
  const where = `agent ${e.agent}`;
  const all = decodeHistogram(r.latency, where);
  const requestsByServedBy: Partial<Record<ServedBy, number>> = {};
  for (const d of SERVED_BY_ORDER) {
    const encoded = r.latencyByServedBy[d];
    if (encoded === undefined) continue;
    const h = decodeHistogram(encoded, `${where} (${d})`);
    requestsByServedBy[d] = h.totalCount;
    h.destroy();
  }
  const row: AgentRow = {
    agent: e.agent,
    host: r.host,
    pid: r.pid,
    status: 'reported',
    code: null,
    detail: null,
    startedAtEpochMs: r.startedAtEpochMs,
    startDelayMs: r.startedAtEpochMs - start.startAtEpochMs,
    requests: r.requests,
    errors: r.errors,
    unfinished: r.unfinished,
    latencyUs: summarizeLatency(all),
    requestsByServedBy,
  };
  all.destroy();
  return row;
}

function mergeSeries(results: readonly CompletedResult[]): SecondPoint[] {
  const seconds = Math.max(0, ...results.flatMap((r) => r.series.map((s) => s.requests.length)));
  const present = SERVED_BY_ORDER.filter((d) => results.some((r) => r.series.some((s) => s.servedBy === d)));
  const points: SecondPoint[] = [];
  for (let second = 0; second < seconds; second++) {
    for (const d of present) {
      let requests = 0;
      let errors = 0;
      for (const r of results) {
        const s = r.series.find((x) => x.servedBy === d);
        requests += s?.requests[second] ?? 0;
        errors += s?.errors[second] ?? 0;
      }
      points.push({ second, servedBy: d, requests, errors });
    }
  }
  return points;
}

export function mergeLoadRun(start: StartDocument, entries: readonly AgentEntry[]): LoadRunReport {
  const agents = entries.map((e) => agentRow(start, e));
  const results = entries.flatMap((e) => (e.outcome.status === 'reported' ? [e.outcome.result] : []));
  const all = mergeHistograms(results.map((r) => ({ histogram: r.latency, where: `agent ${r.agent}` })));
  const latencyUsByServedBy: Partial<Record<ServedBy, LatencySummary>> = {};
  for (const d of SERVED_BY_ORDER) {
    const parts = results.flatMap((r) => {
      const encoded = r.latencyByServedBy[d];
      return encoded === undefined ? [] : [{ histogram: encoded, where: `agent ${r.agent} (${d})` }];
    });
    if (parts.length === 0) continue;
    const h = mergeHistograms(parts);
    latencyUsByServedBy[d] = summarizeLatency(h);
    h.destroy();
  }
  const byError: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.byError)) byError[k] = (byError[k] ?? 0) + n;
  const merged: MergedFigures = {
    agents: results.length,
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    unfinished: results.reduce((n, r) => n + r.unfinished, 0),
    latencyUs: summarizeLatency(all),
    latencyUsByServedBy,
    byError,
    histogram: encodeHistogram(all),
  };
  all.destroy();
  const started = agents.flatMap((a) => (a.startedAtEpochMs === null ? [] : [a.startedAtEpochMs]));
  const withinTolerance = agents.every((a) => a.startDelayMs === null || Math.abs(a.startDelayMs) <= start.toleranceMs);
  const missing = agents.filter((a) => a.status !== 'reported').map((a) => a.agent);
  return {
    run: start.run,
    startAtEpochMs: start.startAtEpochMs,
    toleranceMs: start.toleranceMs,
    spec: start.spec,
    agents,
    merged,
    series: mergeSeries(results),
    starts: { spreadMs: started.length > 0 ? Math.max(...started) - Math.min(...started) : null, withinTolerance },
    missing,
    ok: missing.length === 0 && withinTolerance,
  };
}
