// The pieces of the load agents that need no coordinator: HDR histograms across processes (encode,
// decode, merge), the chunked result encoding, the load spec and each agent's share of it, the
// recorder's per-second series, the merge into one report, and the ACLs of a load run's nodes.
import assert from 'node:assert/strict';
import type { Histogram } from 'hdr-histogram-js';
import { AgentRecorder } from '../../loadgen/agents/agent-recorder.js';
import { completedResultSchema, type CompletedResult } from '../../loadgen/agents/agent-result.js';
import { decodeHistogram, encodeHistogram, mergeHistograms } from '../../loadgen/agents/histogram-codec.js';
import { startDocumentSchema, type StartDocument } from '../../loadgen/agents/load-run-documents.js';
import { mergeLoadRun } from '../../loadgen/agents/load-run-merge.js';
import { renderLoadRunMarkdown } from '../../loadgen/agents/load-run-report.js';
import { agentShare, parseLoadSpec } from '../../loadgen/agents/load-spec.js';
import { decodeResult, encodeResult } from '../../loadgen/agents/result-chunks.js';
import { newLatencyHistogram, summarizeLatency } from '../../loadgen/bench/latency-histogram.js';
import type { Sample, ServedBy } from '../../loadgen/load-model.js';
import { northwestAclPolicy } from '../../platform/coordinator/northwest-acl.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { mulberry32 } from '../../loadgen/load/prng.js';
import { runFixedRate, Workload } from '../../loadgen/load/index.js';
import { startEchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';

const sample = (latencyMs: number, servedBy: ServedBy = 'n1', status = 200): Sample => ({
  start: 0,
  end: latencyMs,
  latencyMs,
  op: 'read',
  key: 'key-1',
  status,
  servedBy,
  epoch: 1,
});

/**
 * The same percentiles, and the same max to the histogram's precision (3 digits): a decoded or merged
 * histogram reports the top of the max's bucket, as HdrHistogram does after a copy.
 */
function assertSameLatency(actual: Histogram, expected: Histogram): void {
  const { max: a, ...rest } = summarizeLatency(actual);
  const { max: e, ...expectedRest } = summarizeLatency(expected);
  assert.deepEqual(rest, expectedRest);
  assert.ok(Math.abs(a - e) <= e / 1000, `max ${a} vs ${e}`);
}

const SPEC = { targets: ['http://127.0.0.1:8081'], rate: 300, durationS: 3, workload: { readRatio: 0.8, keys: 100 } };

describe('load agents: HDR histograms across processes', () => {
  it('an encoded histogram decodes to the same count and percentiles', () => {
    const h = newLatencyHistogram();
    const random = mulberry32(7);
    for (let i = 0; i < 5000; i++) h.recordValue(1 + Math.floor(random() * 200_000));
    const back = decodeHistogram(encodeHistogram(h), 'test');
    assertSameLatency(back, h);
    assert.equal(back.totalCount, 5000);
  });

  it('merging adds histograms: the count is the sum and the percentiles are those of all values together', () => {
    const random = mulberry32(11);
    const together = newLatencyHistogram();
    const parts = [1000, 2500, 40].map((n, agent) => {
      const h = newLatencyHistogram();
      // Different agents, different latencies: an average of their p99s would be wrong.
      for (let i = 0; i < n; i++) {
        const v = (agent + 1) * 1000 + Math.floor(random() * 50_000 * (agent + 1));
        h.recordValue(v);
        together.recordValue(v);
      }
      return { histogram: encodeHistogram(h), where: `agent ${agent}` };
    });
    const merged = mergeHistograms(parts);
    assert.equal(merged.totalCount, 3540);
    assertSameLatency(merged, together);
  });

  it('a histogram that does not decode is NW_LG_RESULT_INVALID naming where it came from', () => {
    assert.throws(() => decodeHistogram('bm90IGEgaGlzdG9ncmFt', 'agent a9'), { code: 'NW_LG_RESULT_INVALID', message: /agent a9/ });
  });
});

describe('load agents: chunked results', () => {
  const value = { agent: 'a1', series: Array.from({ length: 4000 }, (_, i) => i * 7919) };

  it('round-trips through parts smaller than the whole', () => {
    const { manifest, parts } = encodeResult(value, 1024);
    assert.ok(parts.length > 1, `${parts.length} parts`);
    assert.ok(parts.every((p) => p.length <= 1024));
    assert.equal(manifest.parts, parts.length);
    assert.deepEqual(decodeResult(manifest, parts, 'r'), value);
  });

  it('refuses a changed byte, a missing part and a wrong size', () => {
    const { manifest, parts } = encodeResult(value, 1024);
    const changed = parts.map((p) => Buffer.from(p));
    changed[1]![10] = changed[1]![10]! ^ 0xff;
    assert.throws(() => decodeResult(manifest, changed, 'r'), { code: 'NW_LG_RESULT_INVALID', message: /SHA-256/ });
    assert.throws(() => decodeResult(manifest, parts.slice(1), 'r'), { code: 'NW_LG_RESULT_INVALID', message: /parts/ });
    assert.throws(() => decodeResult({ ...manifest, bytes: manifest.bytes + 1 }, parts, 'r'), {
      code: 'NW_LG_RESULT_INVALID',
      message: /bytes/,
    });
  });
});

describe('load agents: the load spec', () => {
  it('fills in defaults and splits the rate over agents and targets, each agent with its own seed and values', () => {
    const spec = parseLoadSpec({
      ...SPEC,
      targets: ['http://a:1', 'http://b:1'],
      workload: { readRatio: 0.5, keys: 10, runId: 'x'.repeat(32) },
    });
    assert.equal(spec.connections, 10);
    assert.equal(spec.drainS, 15);
    assert.equal(spec.workload.seed, 1);
    const shares = [0, 1, 2].map((i) => agentShare(spec, i, 3));
    for (const s of shares)
      assert.deepEqual(s.streams, [
        { target: 'http://a:1', rate: 50 },
        { target: 'http://b:1', rate: 50 },
      ]);
    assert.deepEqual(
      shares.map((s) => s.workload.seed),
      [1, 2, 3],
    );
    const runIds = shares.map((s) => s.workload.runId!);
    assert.equal(new Set(runIds).size, 3);
    for (const r of runIds) assert.ok(r.length <= 32, r);
  });

  it('refuses a bad spec with NW_LG_CONFIG_INVALID naming each field', () => {
    const bad = (input: unknown, field: RegExp): void =>
      assert.throws(
        () => parseLoadSpec(input, 'spec.yaml'),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'NW_LG_CONFIG_INVALID');
          assert.match(err.message, field);
          return true;
        },
      );
    bad({ ...SPEC, rate: 0 }, /spec\.yaml: rate:/);
    bad({ ...SPEC, targets: [] }, /spec\.yaml: targets:/);
    bad({ ...SPEC, targets: ['ftp://x'] }, /spec\.yaml: targets\.0:/);
    bad({ ...SPEC, workload: undefined }, /spec\.yaml: workload:/);
    bad({ ...SPEC, workload: { readRatio: 0.9, deleteRatio: 0.2, keys: 1 } }, /workload\.deleteRatio/);
    bad({ ...SPEC, rps: 3 }, /spec\.yaml: \(root\): Unrecognized key/);
  });

  it('a start document carries the spec and refuses an unknown field in it', () => {
    const doc = { run: 'r1', startAtEpochMs: 1, toleranceMs: 500, agents: ['a1'], resultsDeadlineEpochMs: 2, spec: parseLoadSpec(SPEC) };
    assert.equal(startDocumentSchema.parse(doc).spec.rate, 300);
    assert.equal(startDocumentSchema.safeParse({ ...doc, spec: { ...doc.spec, extra: 1 } }).success, false);
    assert.equal(startDocumentSchema.safeParse({ ...doc, agents: ['bad/id'] }).success, false);
  });
});

describe('load agents: recording and merging', () => {
  const startAt = 1_000_000;
  const startDoc = (agents: string[]): StartDocument => ({
    run: 'r1',
    startAtEpochMs: startAt,
    toleranceMs: 50,
    agents,
    resultsDeadlineEpochMs: startAt + 60_000,
    spec: parseLoadSpec(SPEC),
  });

  /** A result of `n` requests a second for `seconds` seconds, the first `failed` of each second failing. */
  function recorded(agent: string, n: number, seconds: number, delayMs: number, servedBy: ServedBy = 'n1'): CompletedResult {
    let now = startAt;
    const r = new AgentRecorder(startAt, () => now);
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < n; i++) {
        now = startAt + s * 1000 + i;
        r.record(sample(1 + i, servedBy, i === 0 ? 503 : 200));
      }
    }
    const result = r.result({ agent, host: 'h', pid: 1, startedAtEpochMs: startAt + delayMs, durationMs: seconds * 1000, unfinished: 0 });
    r.destroy();
    return completedResultSchema.parse(result);
  }

  it('the recorder counts per second and per deployment, and its histograms hold every request', () => {
    const r = recorded('a1', 10, 3, 0);
    assert.equal(r.requests, 30);
    assert.equal(r.errors, 3);
    assert.deepEqual(r.byError, { 'HTTP 503': 3 });
    assert.deepEqual(r.series, [{ servedBy: 'n1', requests: [10, 10, 10], errors: [1, 1, 1] }]);
    assert.equal(decodeHistogram(r.latency, 't').totalCount, 30);
    assert.equal(decodeHistogram(r.latencyByServedBy.n1!, 't').totalCount, 30);
  });

  it('the merged report sums the agents, names each, and lists the missing ones', () => {
    const a1 = recorded('a1', 10, 3, 2);
    const a2 = recorded('a2', 4, 2, 7, 'n2');
    const report = mergeLoadRun(startDoc(['a1', 'a2', 'a3']), [
      { agent: 'a1', join: undefined, outcome: { status: 'reported', result: a1 } },
      { agent: 'a2', join: undefined, outcome: { status: 'reported', result: a2 } },
      { agent: 'a3', join: undefined, outcome: { status: 'missing', code: 'NW_LG_AGENT_MISSING', detail: 'gone' } },
    ]);
    assert.deepEqual(
      report.agents.map((a) => [a.agent, a.status, a.requests]),
      [
        ['a1', 'reported', 30],
        ['a2', 'reported', 8],
        ['a3', 'missing', null],
      ],
    );
    assert.equal(report.merged.requests, 38);
    assert.equal(report.merged.latencyUs.count, 38);
    assert.equal(
      report.merged.latencyUs.count,
      report.agents.reduce((n, a) => n + (a.latencyUs?.count ?? 0), 0),
    );
    assert.equal(decodeHistogram(report.merged.histogram, 't').totalCount, 38);
    assert.equal(report.merged.latencyUsByServedBy.n1?.count, 30);
    assert.equal(report.merged.latencyUsByServedBy.n2?.count, 8);
    assert.deepEqual(report.merged.byError, { 'HTTP 503': 5 });
    assert.deepEqual(
      report.series.filter((p) => p.servedBy === 'n2').map((p) => p.requests),
      [4, 4, 0],
    );
    assert.equal(report.starts.spreadMs, 5);
    assert.equal(report.starts.withinTolerance, true);
    assert.deepEqual(report.missing, ['a3']);
    assert.equal(report.ok, false);
    const md = renderLoadRunMarkdown(report);
    for (const name of ['a1', 'a2', 'a3', 'NW_LG_AGENT_MISSING', 'merged (2 of 3)']) assert.ok(md.includes(name), name);
  });

  it('an agent that started later than the tolerance makes the run not ok', () => {
    const report = mergeLoadRun(startDoc(['a1']), [
      { agent: 'a1', join: undefined, outcome: { status: 'reported', result: recorded('a1', 2, 1, 51) } },
    ]);
    assert.equal(report.starts.withinTolerance, false);
    assert.equal(report.ok, false);
  });
});

describe('load agents: the fixed-rate load without kept samples', () => {
  it('hands every sample to onSample and keeps none (an agent runs for hours)', async () => {
    const upstream = await startEchoUpstream('n1');
    try {
      let seen = 0;
      const r = await runFixedRate({
        target: upstream.url,
        rate: 200,
        durationS: 0.25,
        drainS: 5,
        workload: new Workload({ readRatio: 0.5, keys: 5 }),
        onSample: () => void seen++,
        keepSamples: false,
      });
      assert.equal(r.due, 50);
      assert.equal(seen, 50);
      assert.equal(r.samples.length, 0);
      assert.equal(upstream.seen.length, 50);
    } finally {
      await upstream.close();
    }
  });
});

describe('load agents: coordinator ACLs of a load run', () => {
  const member = northwestAclPolicy('member');
  const cp = northwestAclPolicy('controlplane', 'members:digest');
  const refused = (d: unknown): boolean => typeof d === 'object' && d !== null && 'refused' in d;

  it('agents create their join node and result chunks; the run, its start and end documents are the control plane’s', () => {
    for (const p of [layout.loadRunAgent('r1', 'a1'), `${layout.loadRunResult('r1', 'a1')}/part-00000`]) {
      assert.ok(!refused(member(p)), p);
      assert.ok(refused(cp(p)), p);
    }
    for (const p of [
      layout.loadRuns,
      layout.loadRun('r1'),
      layout.loadRunStart('r1'),
      layout.loadRunEnd('r1'),
      layout.loadRunResults('r1'),
    ]) {
      assert.ok(refused(member(p)), p);
      assert.deepEqual(cp(p), [
        { scheme: 'auth', id: '', perms: ['read', 'write', 'create', 'delete', 'admin'] },
        { scheme: 'digest', id: 'members:digest', perms: ['read'] },
      ]);
    }
    for (const p of [layout.loadRunAgents('r1'), layout.loadRunResult('r1', 'a1')]) {
      assert.deepEqual(cp(p)[1 as keyof ReturnType<typeof cp>], { scheme: 'digest', id: 'members:digest', perms: ['read', 'create'] });
    }
  });
});
