// Load agents and their controller in one process on the embedded coordinator: the whole exchange
// (join, start barrier, load, results, merge, end) and each way it can go wrong — an agent that
// never publishes (missing after the deadline, not a hang), too few agents, a run id in use, an
// agent that sees the start too late, two agents with one id. The same code runs in separate
// processes on ZooKeeper in load-agents.test.ts.
import assert from 'node:assert/strict';
import { runLoadAgent, type LoadAgentOutcome } from '../../loadgen/agents/load-agent.js';
import { runLoadController, type LoadControllerOptions } from '../../loadgen/agents/load-controller.js';
import { encodeDocument } from '../../loadgen/agents/load-run-documents.js';
import { parseLoadSpec } from '../../loadgen/agents/load-spec.js';
import { readResult, resultReady } from '../../loadgen/agents/result-channel.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';

describe('load agents on the embedded coordinator', function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  let upstream: EchoUpstream;
  const open: EmbeddedCoordinator[] = [];
  const session = (): EmbeddedCoordinator => {
    const c = new EmbeddedCoordinator(store);
    open.push(c);
    return c;
  };
  const kvRequests = (): number => upstream.seen.filter((r) => r.path.startsWith('/kv/')).length;
  const agent = (run: string, id: string, waitMs = 10_000): Promise<LoadAgentOutcome> =>
    runLoadAgent({ coordinator: session(), run, agent: id, waitMs, lingerMs: 5_000 });
  const controllerOptions = (run: string, agents: number, over: Partial<LoadControllerOptions> = {}): LoadControllerOptions => ({
    coordinator: session(),
    run,
    agents,
    spec: parseLoadSpec({ targets: [upstream.url], rate: 100, durationS: 1, drainS: 2, workload: { readRatio: 0.5, keys: 20 } }),
    joinTimeoutMs: 10_000,
    leadMs: 300,
    toleranceMs: 200,
    resultGraceMs: 2_000,
    leaveTimeoutMs: 1_000,
    ...over,
  });

  beforeEach(async () => {
    store = new EmbeddedStore();
    upstream = await startEchoUpstream('n1');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await upstream.close();
  });

  it('two agents start together and the controller merges their results; the run is removed afterwards', async () => {
    const agents = [agent('r1', 'a1'), agent('r1', 'a2')];
    const report = await runLoadController(controllerOptions('r1', 2));
    const [o1, o2] = await Promise.all(agents);
    assert.equal(o1!.end.outcome, 'collected');
    assert.equal(o2!.result.outcome, 'completed');
    assert.deepEqual(
      report.agents.map((a) => [a.agent, a.status]),
      [
        ['a1', 'reported'],
        ['a2', 'reported'],
      ],
    );
    assert.equal(report.merged.requests, 100, '1 s at 100/s in all');
    assert.equal(
      report.merged.latencyUs.count,
      report.agents.reduce((n, a) => n + (a.requests ?? 0), 0),
    );
    assert.equal(report.merged.latencyUs.count, kvRequests(), 'what the upstream answered');
    assert.equal(report.merged.unfinished, 0);
    assert.ok(report.starts.withinTolerance && report.ok);
    const probe = session();
    await probe.connect();
    assert.equal(await probe.get(layout.loadRun('r1')), undefined, 'the controller removed the run');
  });

  it('an agent that joined but never publishes is missing once the results deadline passes', async () => {
    const silent = session();
    await silent.connect();
    const real = agent('r2', 'a1');
    const controller = runLoadController(controllerOptions('r2', 2, { resultGraceMs: 500, leaveTimeoutMs: 300 }));
    await eventually(async () => (await silent.get(layout.loadRunAgents('r2'))) !== undefined, {
      timeoutMs: 5_000,
      message: 'run r2 exists',
    });
    await silent.create(
      layout.loadRunAgent('r2', 'zz-silent'),
      encodeDocument({ agent: 'zz-silent', host: 'h', pid: 1, joinedAt: 'now' }),
      'ephemeral',
    );
    const began = performance.now();
    const report = await controller;
    const tookMs = performance.now() - began;
    assert.deepEqual(report.missing, ['zz-silent']);
    const row = report.agents.find((a) => a.agent === 'zz-silent')!;
    assert.equal(row.code, 'NW_LG_AGENT_MISSING');
    assert.match(row.detail!, /no result by the deadline/);
    // Deadline: lead 300 ms + 1 s of load + 2 s drain + 0.5 s grace; then 0.3 s for agents to leave, and slack.
    const deadlineMs = 300 + 1_000 + 2_000 + 500;
    assert.ok(tookMs < deadlineMs + 300 + 2_000, `the controller gave up at its deadline (${Math.round(tookMs)} ms)`);
    assert.equal(report.merged.requests, 50, 'the agent that ran has its half in the figures');
    assert.equal(report.ok, false);
    assert.equal((await real).end.outcome, 'collected');
  });

  it('too few agents: NW_LG_AGENTS_SHORT, and the agent that joined is told (NW_LG_RUN_ABORTED)', async () => {
    const joined = agent('r3', 'a1');
    await assert.rejects(runLoadController(controllerOptions('r3', 2, { joinTimeoutMs: 500 })), {
      code: 'NW_LG_AGENTS_SHORT',
      message: /1 of 2 agents joined run r3 within 500 ms: a1/,
    });
    await assert.rejects(joined, { code: 'NW_LG_RUN_ABORTED', message: /NW_LG_AGENTS_SHORT/ });
    assert.equal(kvRequests(), 0);
  });

  it('a run id in use: NW_LG_RUN_EXISTS, and the existing run is left alone', async () => {
    const other = session();
    await other.connect();
    await other.mkdirp(layout.loadRunAgents('r4'));
    await assert.rejects(runLoadController(controllerOptions('r4', 1)), { code: 'NW_LG_RUN_EXISTS' });
    assert.ok(await other.get(layout.loadRunAgents('r4')));
  });

  it('an agent that sees the start document after the tolerance does not run: it publishes NW_LG_START_MISSED', async () => {
    const cp = session();
    await cp.connect();
    for (const p of [layout.loadRunAgents('r5'), layout.loadRunResult('r5', 'a1')]) await cp.mkdirp(p);
    const late = agent('r5', 'a1');
    await eventually(async () => ((await cp.children(layout.loadRunAgents('r5'))) ?? []).includes('a1'), {
      timeoutMs: 5_000,
      message: 'a1 joined',
    });
    const spec = parseLoadSpec({ targets: [upstream.url], rate: 100, durationS: 1, workload: { readRatio: 1, keys: 1 } });
    const startAtEpochMs = Date.now() - 5_000;
    const start = { run: 'r5', startAtEpochMs, toleranceMs: 100, agents: ['a1'], resultsDeadlineEpochMs: Date.now() + 10_000, spec };
    await cp.create(layout.loadRunStart('r5'), encodeDocument(start));
    await eventually(() => resultReady(cp, 'r5', 'a1'), { timeoutMs: 5_000, message: 'a1 published' });
    const result = await readResult(cp, 'r5', 'a1');
    assert.equal(result.outcome, 'failed');
    assert.equal(result.outcome === 'failed' && result.code, 'NW_LG_START_MISSED');
    await cp.create(layout.loadRunEnd('r5'), encodeDocument({ outcome: 'collected' }));
    assert.equal((await late).result.outcome, 'failed');
    assert.equal(kvRequests(), 0, 'it sent nothing');
  });

  it('two agents with one id: the second gets NW_LG_AGENT_ID_IN_USE', async () => {
    const probe = session();
    await probe.connect();
    const controller = runLoadController(controllerOptions('r6', 2));
    const first = agent('r6', 'a1');
    await eventually(async () => ((await probe.children(layout.loadRunAgents('r6'))) ?? []).includes('a1'), {
      timeoutMs: 5_000,
      message: 'a1 joined',
    });
    await assert.rejects(agent('r6', 'a1'), { code: 'NW_LG_AGENT_ID_IN_USE' });
    const second = agent('r6', 'a2');
    const report = await controller;
    assert.deepEqual(
      report.agents.map((a) => a.agent),
      ['a1', 'a2'],
    );
    await Promise.all([first, second]);
  });
});
