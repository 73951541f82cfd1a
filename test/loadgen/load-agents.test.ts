// Three load-agent processes (`northwest-loadgen agent`, as an operator starts them on other hosts)
// on the ZooKeeper ensemble, each as the fleet members' identity, against a gateway in front of an
// app server; the controller, as the control plane's identity, starts them on one barrier and
// merges their HDR histograms. Checked against what the app server counted, not only against what
// the agents say: every request the server saw is in the merged histogram, once. An agent killed
// mid-run is reported missing, and the controller does not wait past its deadline for it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoadController, type LoadControllerOptions } from '../../loadgen/agents/load-controller.js';
import { encodeDocument } from '../../loadgen/agents/load-run-documents.js';
import type { LoadRunReport } from '../../loadgen/agents/load-run-merge.js';
import { parseLoadSpec } from '../../loadgen/agents/load-spec.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { spawnUntilReady, stopChild, type ReadyChild } from '../support/spawn-until-ready.js';
import { memberCoordinatorConfig, provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');
const CLI = 'loadgen/agents/loadgen-cli.ts';
/** Short, so a killed agent's session (and its join node) ends within seconds; still 4 ZooKeeper ticks of slack. */
const AGENT_SESSION_MS = 4_000;

describe('load agents: 3 processes on the ZooKeeper ensemble', function () {
  this.timeout(60_000);
  let chroot: string;
  let gw: Harness;
  const children: ReadyChild[] = [];
  const sessions: Coordinator[] = [];
  const where = (): { connectString: string; chroot: string; connectTimeoutMs: number; opTimeoutMs: number } => ({
    connectString: zk.connectString,
    chroot,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 15_000,
  });
  /** Requests the app server behind the gateway answered (its own count, not the agents'). */
  const served = (): number => gw.n1[0]!.seen.filter((r) => r.path.startsWith('/kv/')).length;

  /** Starts `n` agent processes (members' identity) for `run`; resolves once each has joined it. */
  function startAgents(run: string, ids: readonly string[]): Promise<ReadyChild[]> {
    const config = memberCoordinatorConfig({ ...where(), sessionTimeoutMs: AGENT_SESSION_MS });
    return Promise.all(
      ids.map((id) =>
        spawnUntilReady(
          CLI,
          (file) => ['agent', '--coordinator', file, '--run', run, '--id', id, '--wait', '45', '--linger', '20'],
          config,
          /load agent (\S+): joined run/,
          { timeoutMs: 45_000 },
        ).then((c) => {
          children.push(c);
          return c;
        }),
      ),
    );
  }

  const controller = (run: string, over: Partial<LoadControllerOptions> = {}): Promise<LoadRunReport> => {
    const c = zkClient('controlplane', where());
    sessions.push(c);
    return runLoadController({
      coordinator: c,
      run,
      agents: 3,
      spec: parseLoadSpec({
        targets: [gw.url],
        host: 'shop.test',
        rate: 150,
        durationS: 3,
        drainS: 10,
        connections: 4,
        workload: { readRatio: 0.6, deleteRatio: 0.1, keys: 50 },
      }),
      joinTimeoutMs: 45_000,
      leadMs: 1_500,
      toleranceMs: 500,
      resultGraceMs: 8_000,
      leaveTimeoutMs: 5_000,
      ...over,
    });
  };

  beforeEach(async () => {
    chroot = `/nw-loadagents-${randomBytes(4).toString('hex')}`;
    // As on a fleet's chroot: a control plane created the tree before any member connects.
    await provisionTree(where());
    gw = await startGatewayHarness();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => stopChild(c)));
    await Promise.allSettled(sessions.splice(0).map((c) => c.close()));
    await gw.close();
    await removeChroot(zk.connectString, chroot);
  });

  it('starts 3 agents together and merges their histograms: every request the app server answered, once', async () => {
    const report = controller('run-a');
    const agents = await startAgents('run-a', ['agent-1', 'agent-2', 'agent-3']);
    const r = await report;
    const codes = await Promise.all(agents.map((a) => a.exited));
    assert.deepEqual(codes, [0, 0, 0], agents.map((a) => a.output()).join('\n'));

    assert.deepEqual(
      r.agents.map((a) => [a.agent, a.status, a.pid]),
      agents.map((a, i) => [`agent-${i + 1}`, 'reported', a.pid]),
      'the report names each agent process',
    );
    const agentCounts = r.agents.map((a) => a.latencyUs!.count);
    assert.ok(
      agentCounts.every((n) => n > 0),
      `every agent sent its share: ${agentCounts}`,
    );
    assert.equal(r.merged.latencyUs.count, agentCounts[0]! + agentCounts[1]! + agentCounts[2]!, 'merged = sum of the agents');
    assert.equal(r.merged.latencyUs.count, served(), 'merged = what the app server answered');
    assert.equal(r.merged.requests, Math.ceil(3 * 50) * 3, '3 agents × 50/s × 3 s');
    assert.equal(r.merged.unfinished, 0);
    assert.equal(r.merged.latencyUsByServedBy.n1?.count, r.merged.latencyUs.count, 'served by N1, from the gateway’s header');
    assert.equal(
      r.series.reduce((n, p) => n + p.requests, 0),
      r.merged.requests,
      'the per-second series add up to the requests',
    );

    for (const a of r.agents) {
      assert.ok(a.startDelayMs! >= 0 && a.startDelayMs! <= r.toleranceMs, `${a.agent} started ${a.startDelayMs} ms after the start time`);
    }
    assert.ok(r.starts.spreadMs! <= r.toleranceMs, `start spread ${r.starts.spreadMs} ms`);
    assert.ok(r.ok);

    const probe = zkClient('controlplane', where());
    sessions.push(probe);
    await probe.connect();
    assert.equal(await probe.get(layout.loadRun('run-a')), undefined, 'the run is removed once collected');
  });

  it('an agent killed mid-run is reported missing, with the others’ results, instead of a hang', async () => {
    const report = controller('run-b', { resultGraceMs: 8_000 });
    const agents = await startAgents('run-b', ['agent-1', 'agent-2', 'agent-3']);
    await eventually(() => served() >= 60, { timeoutMs: 20_000, message: 'the run is under way' });
    agents[2]!.child.kill('SIGKILL');
    const r = await report;
    const afterStartMs = Date.now() - r.startAtEpochMs;

    assert.deepEqual(r.missing, ['agent-3']);
    const killed = r.agents.find((a) => a.agent === 'agent-3')!;
    assert.equal(killed.status, 'missing');
    assert.equal(killed.code, 'NW_LG_AGENT_MISSING');
    // Its session expired ~4 s after the kill, long before the results deadline (start + 3 + 10 + 8 s): found gone, not waited out.
    assert.match(killed.detail!, /session ended before it published/);
    assert.equal(killed.pid, agents[2]!.pid, 'named with the process it was');
    assert.equal(r.ok, false);
    const reported = r.agents.filter((a) => a.status === 'reported');
    assert.deepEqual(
      reported.map((a) => a.agent),
      ['agent-1', 'agent-2'],
    );
    assert.equal(r.merged.latencyUs.count, reported[0]!.latencyUs!.count + reported[1]!.latencyUs!.count);
    assert.equal(r.merged.requests, 2 * 150, 'the two that finished sent their whole share');
    assert.ok(served() > r.merged.requests, 'the killed agent’s requests reached the server but are in no figure');
    assert.ok(afterStartMs < (3 + 10 + 8) * 1000, `reported ${Math.round(afterStartMs)} ms after the start, before the results deadline`);
    assert.deepEqual(await Promise.all([agents[0]!.exited, agents[1]!.exited]), [0, 0]);
  });

  it('ACLs: an agent (members’ identity) can neither change the run nor remove another agent', async () => {
    const report = controller('run-c', { agents: 5, joinTimeoutMs: 3_000, leaveTimeoutMs: 500 });
    const a = zkClient('member', where());
    const b = zkClient('member', where());
    sessions.push(a, b);
    await Promise.all([a.connect(), b.connect()]);
    await eventually(async () => (await a.get(layout.loadRunAgents('run-c'))) !== undefined, {
      timeoutMs: 10_000,
      message: 'the run exists',
    });
    await a.create(
      layout.loadRunAgent('run-c', 'agent-a'),
      encodeDocument({ agent: 'agent-a', host: 'h', pid: 1, joinedAt: 'now' }),
      'ephemeral',
    );
    await assert.rejects(b.set(layout.loadRun('run-c'), Buffer.from('{}')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(b.remove(layout.loadRunAgent('run-c', 'agent-a')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(b.set(layout.loadRunAgent('run-c', 'agent-a'), Buffer.from('{}')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(b.create(layout.loadRunStart('run-c'), Buffer.from('{}')), { message: /created by the control plane/ });
    await assert.rejects(report, { code: 'NW_LG_AGENTS_SHORT', message: /1 of 5 agents joined run run-c .*: agent-a/ });
  });
});

describe('northwest-loadgen command line', function () {
  this.timeout(30_000);

  it('exits 2 naming the field for an invalid spec, before it connects anywhere', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-loadgen-'));
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ targets: ['http://127.0.0.1:1'], rate: -1, durationS: 1, workload: { readRatio: 1, keys: 1 } }));
    const child = await spawnUntilReady(
      CLI,
      (file) => ['controller', '--coordinator', file, '--agents', '2', '--spec', spec],
      { coordinator: { kind: 'zookeeper', connectString: '127.0.0.1:1', insecure: true } },
      /NW_LG_CONFIG_INVALID/,
    );
    assert.equal(await child.exited, 2);
    assert.match(child.output(), /spec\.json: rate:/);
  });
});
