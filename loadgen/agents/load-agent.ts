/**
 * One load agent (`northwest-loadgen agent`): joins a load run as an ephemeral node, waits for
 * the controller's start document, sends its share of the load from the start time on, publishes
 * its histograms and series, and stays until the controller's end document says it collected them.
 */
import { hostname } from 'node:os';
import { isCoordinatorError, type Coordinator, type Watcher } from '../../platform/index.js';
import { layout } from '../../protocol/index.js';
import { runFixedRate, Workload } from '../load/index.js';
import { AgentRecorder } from './agent-recorder.js';
import type { AgentResult, FailedResult } from './agent-result.js';
import { sleepUntil, waitFor } from './coordinator-wait.js';
import { isLoadAgentError, LoadAgentError } from './load-agent-errors.js';
import {
  encodeDocument,
  endDocumentSchema,
  parseRunDocument,
  startDocumentSchema,
  type EndDocument,
  type StartDocument,
} from './load-run-documents.js';
import { agentShare } from './load-spec.js';
import { publishResult } from './result-channel.js';

export interface LoadAgentOptions {
  /** A session as the members' identity; the agent connects it and closes it when done. */
  readonly coordinator: Coordinator;
  readonly run: string;
  readonly agent: string;
  /** Longest wait for the run to appear, and again for it to start, ms. */
  readonly waitMs: number;
  /** After the run's results deadline, how long to wait for the controller's end document, ms. */
  readonly lingerMs: number;
  /** Progress lines for the operator (the CLI writes them to stderr). */
  readonly log?: (line: string) => void;
}

export interface LoadAgentOutcome {
  /** What the agent published. */
  readonly result: AgentResult;
  readonly end: EndDocument;
}

type Seen<T> = { readonly kind: 'doc'; readonly doc: T } | { readonly kind: 'end'; readonly end: EndDocument } | { readonly kind: 'gone' };

/** Reads the end document, or finds the run removed; undefined while neither. */
async function endOrGone(c: Coordinator, run: string, watch: Watcher): Promise<Seen<never> | undefined> {
  const end = await c.get(layout.loadRunEnd(run), watch);
  if (end) return { kind: 'end', end: parseRunDocument(endDocumentSchema, layout.loadRunEnd(run), end.data, 'NW_LG_RUN_ABORTED') };
  if (!(await c.get(layout.loadRun(run), watch))) return { kind: 'gone' };
  return undefined;
}

function aborted(run: string, seen: Seen<unknown>): LoadAgentError {
  if (seen.kind === 'end') {
    const why = [seen.end.code, seen.end.detail].filter(Boolean).join(': ');
    return new LoadAgentError('NW_LG_RUN_ABORTED', `run ${run} ended (${seen.end.outcome})${why ? `: ${why}` : ''}`);
  }
  return new LoadAgentError('NW_LG_RUN_ABORTED', `run ${run} was removed from the coordinator`);
}

export async function runLoadAgent(o: LoadAgentOptions): Promise<LoadAgentOutcome> {
  const { coordinator: c, run, agent } = o;
  const log = o.log ?? ((): void => undefined);
  const who = { agent, host: hostname(), pid: process.pid };
  await c.connect();
  try {
    const present = await waitFor(async (w) => ((await c.get(layout.loadRunAgents(run), w)) ? true : undefined), {
      deadline: Date.now() + o.waitMs,
    });
    if (!present) throw new LoadAgentError('NW_LG_RUN_NOT_FOUND', `${layout.loadRun(run)} did not appear within ${o.waitMs} ms`);
    if (await c.get(layout.loadRunStart(run))) throw new LoadAgentError('NW_LG_NOT_IN_RUN', `run ${run} has started already`);
    await join(c, run, { ...who, joinedAt: new Date().toISOString() });
    log(`load agent ${agent}: joined run ${run}`);

    const seen = await waitFor<Seen<StartDocument>>(
      async (w) => {
        const start = await c.get(layout.loadRunStart(run), w);
        if (start)
          return { kind: 'doc', doc: parseRunDocument(startDocumentSchema, layout.loadRunStart(run), start.data, 'NW_LG_CONFIG_INVALID') };
        return endOrGone(c, run, w);
      },
      { deadline: Date.now() + o.waitMs },
    );
    if (!seen) throw new LoadAgentError('NW_LG_NOT_STARTED', `run ${run} was not started within ${o.waitMs} ms of joining`);
    if (seen.kind !== 'doc') throw aborted(run, seen);
    const start = seen.doc;
    const index = start.agents.indexOf(agent);
    if (index < 0) throw new LoadAgentError('NW_LG_NOT_IN_RUN', `run ${run} started with ${start.agents.join(', ')}`);
    log(
      `load agent ${agent}: run ${run} starts at ${new Date(start.startAtEpochMs).toISOString()} ` +
        `(agent ${index + 1} of ${start.agents.length})`,
    );

    const result = await runShare(c, start, index, who);
    if (result.outcome === 'failed') log(`load agent ${agent}: did not run: ${result.code}: ${result.detail}`);
    else log(`load agent ${agent}: ${result.requests} requests, ${result.errors} errors, ${result.unfinished} unanswered`);
    await publishResult(c, run, result);
    log(`load agent ${agent}: published its result`);

    const last = await waitFor((w) => endOrGone(c, run, w), { deadline: start.resultsDeadlineEpochMs + o.lingerMs });
    if (!last)
      throw new LoadAgentError('NW_LG_RESULT_NOT_COLLECTED', `no end document for run ${run} within ${o.lingerMs} ms of its deadline`);
    if (last.kind !== 'end') throw aborted(run, last);
    log(`load agent ${agent}: run ${run} ${last.end.outcome}`);
    return { result, end: last.end };
  } finally {
    await c.close();
  }
}

async function join(c: Coordinator, run: string, doc: { agent: string; host: string; pid: number; joinedAt: string }): Promise<void> {
  try {
    await c.create(layout.loadRunAgent(run, doc.agent), encodeDocument(doc), 'ephemeral');
  } catch (err) {
    if (isCoordinatorError(err, 'NW_CP_NODE_EXISTS'))
      throw new LoadAgentError('NW_LG_AGENT_ID_IN_USE', `${doc.agent} is in run ${run} already; give each agent its own --id`, {
        cause: err,
      });
    if (isCoordinatorError(err, 'NW_CP_NO_NODE')) throw new LoadAgentError('NW_LG_RUN_ABORTED', `run ${run} was removed`, { cause: err });
    throw err;
  }
}

/**
 * Runs the agent's share from the start time on, one fixed-rate stream per target, stopped early
 * if the controller ends the run meanwhile. An agent that is late past the tolerance does not
 * run at all: its requests would land outside the window the others measure.
 */
async function runShare(
  c: Coordinator,
  start: StartDocument,
  index: number,
  who: { agent: string; host: string; pid: number },
): Promise<AgentResult> {
  const failed = (code: FailedResult['code'], detail: string): FailedResult => ({ outcome: 'failed', ...who, code, detail });
  const late = Date.now() - start.startAtEpochMs;
  if (late > start.toleranceMs) {
    return failed(
      'NW_LG_START_MISSED',
      `saw the start document ${late} ms after the start time (tolerance ${start.toleranceMs} ms): ` +
        'check this host’s clock (NTP) and its link to the coordinator, or give the controller a longer --lead',
    );
  }
  const stop = new AbortController();
  const watching = waitFor((w) => endOrGone(c, start.run, w), {
    deadline: start.startAtEpochMs + (start.spec.durationS + start.spec.drainS) * 1000,
    signal: stop.signal,
  }).then(
    (seen) => seen,
    () => undefined,
  );
  const endedMeanwhile = watching.then((seen) => {
    if (seen) stop.abort();
    return seen;
  });
  await sleepUntil(start.startAtEpochMs, stop.signal).catch(() => undefined);
  const share = agentShare(start.spec, index, start.agents.length);
  const recorder = new AgentRecorder(start.startAtEpochMs);
  const startedAtEpochMs = Date.now();
  try {
    const workload = new Workload(share.workload);
    const runs = await Promise.all(
      share.streams.map((s) =>
        runFixedRate({
          target: s.target,
          ...(start.spec.host !== undefined ? { host: start.spec.host } : {}),
          rate: s.rate,
          durationS: start.spec.durationS,
          connections: start.spec.connections,
          timeoutS: start.spec.timeoutS,
          drainS: start.spec.drainS,
          workload,
          onSample: recorder.record,
          keepSamples: false,
          signal: stop.signal,
        }),
      ),
    );
    const ended = stop.signal.aborted ? await endedMeanwhile : undefined;
    if (ended) throw aborted(start.run, ended);
    return recorder.result({
      ...who,
      startedAtEpochMs,
      durationMs: Date.now() - startedAtEpochMs,
      unfinished: runs.reduce((n, r) => n + r.unfinished.length, 0),
    });
  } catch (err) {
    if (isLoadAgentError(err)) throw err;
    return failed('NW_LG_LOAD_FAILED', (err as Error).message ?? String(err));
  } finally {
    stop.abort();
    await watching;
    recorder.destroy();
  }
}
