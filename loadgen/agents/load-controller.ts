/**
 * The controller of a load run (`northwest-loadgen controller`): creates the run in the
 * coordinator, waits until the agents have joined, writes the start document (a start time a
 * little ahead, the agents, the load spec), collects every agent's result until a deadline, and
 * merges them into one report. An agent whose session ends before it published, or that has
 * published nothing by the deadline, is reported missing; the controller never waits past it.
 */
import { isCoordinatorError, type Coordinator } from '../../platform/index.js';
import { layout } from '../../protocol/index.js';
import type { AgentResult, CompletedResult } from './agent-result.js';
import { waitFor } from './coordinator-wait.js';
import { decodeHistogram } from './histogram-codec.js';
import { isLoadAgentError, LoadAgentError, type LoadAgentErrorCode } from './load-agent-errors.js';
import {
  agentJoinSchema,
  encodeDocument,
  parseRunDocument,
  type AgentJoin,
  type EndDocument,
  type StartDocument,
} from './load-run-documents.js';
import { mergeLoadRun, type AgentOutcome, type LoadRunReport } from './load-run-merge.js';
import type { LoadSpec } from './load-spec.js';
import { readResult, resultReady } from './result-channel.js';

export interface LoadControllerOptions {
  /** A session as the control plane's identity (it creates the run's nodes); connected and closed here. */
  readonly coordinator: Coordinator;
  readonly run: string;
  /** Start once this many agents have joined (any that joined by then take part too). */
  readonly agents: number;
  readonly spec: LoadSpec;
  /** Longest wait for the agents to join, ms. */
  readonly joinTimeoutMs: number;
  /** How far ahead of the start document the start time is, ms: the time agents have to see it. */
  readonly leadMs: number;
  /** An agent that sees the start document later than start + tolerance does not run. */
  readonly toleranceMs: number;
  /** After the last reply is due (start + duration + drain), how long to wait for results, ms. */
  readonly resultGraceMs: number;
  /** After the end document, how long to give agents to leave before the run's nodes are removed, ms. */
  readonly leaveTimeoutMs?: number;
  /** Leave the run's nodes in the coordinator (for a look with zkCli). */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
  /** Stops the run: agents are told (the end document) and the controller rejects with NW_LG_RUN_ABORTED. */
  readonly signal?: AbortSignal;
}

export async function runLoadController(o: LoadControllerOptions): Promise<LoadRunReport> {
  const { coordinator: c, run } = o;
  const log = o.log ?? ((): void => undefined);
  await c.connect();
  try {
    await createRun(c, run);
    let report: LoadRunReport | undefined;
    try {
      report = await conduct(c, o, log);
    } catch (err) {
      const coded = isLoadAgentError(err) ? err : undefined;
      const code: LoadAgentErrorCode = o.signal?.aborted ? 'NW_LG_RUN_ABORTED' : (coded?.code ?? 'NW_LG_RUN_ABORTED');
      await finish(c, o, { outcome: 'aborted', code, detail: (err as Error).message.slice(0, 4000) }).catch(() => undefined);
      if (o.signal?.aborted && !coded) throw new LoadAgentError('NW_LG_RUN_ABORTED', `run ${run} stopped by the operator`, { cause: err });
      throw err;
    }
    await finish(c, o, { outcome: 'collected' });
    return report;
  } finally {
    await c.close();
  }
}

async function createRun(c: Coordinator, run: string): Promise<void> {
  await c.mkdirp(layout.loadRuns);
  try {
    await c.transaction([
      { op: 'create', path: layout.loadRun(run), data: encodeDocument({ createdAt: new Date().toISOString() }) },
      { op: 'create', path: layout.loadRunAgents(run), data: Buffer.alloc(0) },
      { op: 'create', path: layout.loadRunResults(run), data: Buffer.alloc(0) },
    ]);
  } catch (err) {
    if (isCoordinatorError(err, 'NW_CP_NODE_EXISTS'))
      throw new LoadAgentError('NW_LG_RUN_EXISTS', `${layout.loadRun(run)}: pick another --run (or remove it)`, { cause: err });
    throw err;
  }
}

async function conduct(c: Coordinator, o: LoadControllerOptions, log: (line: string) => void): Promise<LoadRunReport> {
  const { run } = o;
  log(`load run ${run}: waiting for ${o.agents} agents (${o.joinTimeoutMs / 1000} s)`);
  let joined: string[] = [];
  const enough = await waitFor(
    async (w) => {
      joined = (await c.children(layout.loadRunAgents(run), w)) ?? [];
      return joined.length >= o.agents ? joined : undefined;
    },
    { deadline: Date.now() + o.joinTimeoutMs, ...(o.signal ? { signal: o.signal } : {}) },
  );
  if (!enough) {
    throw new LoadAgentError(
      'NW_LG_AGENTS_SHORT',
      `${joined.length} of ${o.agents} agents joined run ${run} within ${o.joinTimeoutMs} ms` +
        `${joined.length ? `: ${joined.join(', ')}` : ''}`,
    );
  }
  const agents = [...enough].sort();
  const joins = new Map<string, AgentJoin | undefined>();
  for (const a of agents) joins.set(a, await readJoin(c, run, a));

  const startAtEpochMs = Date.now() + o.leadMs;
  const { spec } = o;
  const start: StartDocument = {
    run,
    startAtEpochMs,
    toleranceMs: o.toleranceMs,
    agents,
    resultsDeadlineEpochMs: startAtEpochMs + (spec.durationS + spec.drainS) * 1000 + o.resultGraceMs,
    spec,
  };
  await c.transaction([
    ...agents.map((a) => ({ op: 'create' as const, path: layout.loadRunResult(run, a), data: Buffer.alloc(0) })),
    { op: 'create', path: layout.loadRunStart(run), data: encodeDocument(start) },
  ]);
  log(`load run ${run}: ${agents.length} agents (${agents.join(', ')}) start at ${new Date(startAtEpochMs).toISOString()}`);

  const outcomes = await collect(c, o, start);
  for (const [a, outcome] of outcomes) {
    if (outcome.status !== 'reported') log(`load run ${run}: agent ${a}: ${outcome.code}: ${outcome.detail}`);
  }
  return mergeLoadRun(
    start,
    agents.map((a) => ({ agent: a, join: joins.get(a), outcome: outcomes.get(a)! })),
  );
}

async function readJoin(c: Coordinator, run: string, agent: string): Promise<AgentJoin | undefined> {
  const node = await c.get(layout.loadRunAgent(run, agent));
  if (!node) return undefined;
  try {
    return parseRunDocument(agentJoinSchema, layout.loadRunAgent(run, agent), node.data, 'NW_LG_RESULT_INVALID');
  } catch {
    // The report then names the agent without host and pid; its result still counts.
    return undefined;
  }
}

/**
 * Waits for each agent's manifest, reading every result as it appears. An agent no longer among
 * the joined ones has lost its session: its ephemeral result went with it, so it is missing at
 * once. The member list is read before the results, so an agent seen gone cannot have a result
 * still to come.
 */
async function collect(c: Coordinator, o: LoadControllerOptions, start: StartDocument): Promise<Map<string, AgentOutcome>> {
  const { run } = o;
  const outcomes = new Map<string, AgentOutcome>();
  const pending = new Set(start.agents);
  const missing = (detail: string): AgentOutcome => ({ status: 'missing', code: 'NW_LG_AGENT_MISSING', detail });
  await waitFor(
    async (w) => {
      const present = new Set((await c.children(layout.loadRunAgents(run), w)) ?? []);
      for (const a of [...pending]) {
        if (await resultReady(c, run, a, w)) {
          outcomes.set(a, await readOutcome(c, run, a));
          pending.delete(a);
        } else if (!present.has(a)) {
          outcomes.set(a, missing('its session ended before it published a result (the process died or lost the coordinator)'));
          pending.delete(a);
        }
      }
      return pending.size === 0 ? true : undefined;
    },
    { deadline: start.resultsDeadlineEpochMs, ...(o.signal ? { signal: o.signal } : {}) },
  );
  for (const a of pending) {
    outcomes.set(a, missing(`no result by the deadline ${new Date(start.resultsDeadlineEpochMs).toISOString()}`));
  }
  return outcomes;
}

async function readOutcome(c: Coordinator, run: string, agent: string): Promise<AgentOutcome> {
  let result: AgentResult;
  try {
    result = await readResult(c, run, agent);
    if (result.outcome === 'completed') checkHistograms(result);
  } catch (err) {
    if (isLoadAgentError(err, 'NW_LG_RESULT_INVALID')) return { status: 'invalid', code: err.code, detail: err.message };
    if (isLoadAgentError(err, 'NW_LG_AGENT_MISSING')) return { status: 'missing', code: err.code, detail: err.message };
    throw err;
  }
  if (result.outcome === 'failed') return { status: 'failed', code: result.code, detail: result.detail };
  return { status: 'reported', result };
}

/** Decodes each histogram once, so one that does not makes the agent's result invalid rather than the merge fail. */
function checkHistograms(r: CompletedResult): void {
  for (const [name, encoded] of [['latency', r.latency] as const, ...Object.entries(r.latencyByServedBy)]) {
    if (encoded !== undefined) decodeHistogram(encoded, `agent ${r.agent}: ${name}`).destroy();
  }
}

/** Writes the end document, gives the agents a moment to leave, and removes the run unless asked to keep it. */
async function finish(c: Coordinator, o: LoadControllerOptions, end: EndDocument): Promise<void> {
  const { run } = o;
  await c.create(layout.loadRunEnd(run), encodeDocument(end));
  if (o.keep) return;
  await waitFor(async (w) => (((await c.children(layout.loadRunAgents(run), w)) ?? []).length === 0 ? true : undefined), {
    deadline: Date.now() + (o.leaveTimeoutMs ?? 5000),
  });
  await removeTree(c, layout.loadRun(run));
}

/**
 * Removes a subtree depth-first. Nodes that vanish meanwhile (ephemerals of leaving agents) are
 * fine; one created meanwhile (an agent still publishing) is removed on the next pass.
 */
async function removeTree(c: Coordinator, path: string, passes = 3): Promise<void> {
  for (const child of (await c.children(path)) ?? []) await removeTree(c, `${path}/${child}`, passes);
  try {
    await c.remove(path);
  } catch (err) {
    if (isCoordinatorError(err, 'NW_CP_NO_NODE')) return;
    if (isCoordinatorError(err, 'NW_CP_NOT_EMPTY') && passes > 1) return removeTree(c, path, passes - 1);
    throw err;
  }
}
