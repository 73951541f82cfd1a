import assert from 'node:assert/strict';
import { areaOf, summarizeCpuProfile, type CpuProfile, type CpuProfileNode } from '../../loadgen/bench/cpu-profile-summary.js';

function node(id: number, functionName: string, url: string, children: number[] = []): CpuProfileNode {
  return { id, callFrame: { functionName, url, lineNumber: 9, columnNumber: 0 }, children };
}

// root → loader (start-up) | handle (request-handler) → writev (native); plus idle and gc.
const profile: CpuProfile = {
  nodes: [
    node(1, '(root)', '', [2, 3, 5, 6]),
    node(2, 'compile', 'node:internal/modules/cjs/loader'),
    node(3, 'handle', 'file:///work/main/gateway/request-handler.ts', [4]),
    node(4, 'writev', ''),
    node(5, '(idle)', ''),
    node(6, '(garbage collector)', ''),
  ],
  startTime: 0,
  endTime: 100_000,
  // µs. Sample i lasts until sample i+1: compile 10 ms, handle 20, writev 30, idle 10, gc 10, writev 20 (to endTime).
  samples: [2, 3, 4, 5, 6, 4],
  timeDeltas: [0, 10_000, 20_000, 30_000, 10_000, 10_000],
};

describe('cpu-profile-summary', () => {
  it('files frames under areas by URL', () => {
    assert.equal(areaOf('handle', 'file:///work/main/gateway/request-handler.ts'), 'gateway/ (ours)');
    assert.equal(areaOf('onHeadersComplete', 'file:///work/main/node_modules/undici/lib/dispatcher/client-h1.js'), 'undici');
    assert.equal(areaOf('x', 'file:///a/node_modules/@scope/pkg/index.js'), '@scope/pkg');
    assert.equal(areaOf('emit', 'node:events'), 'node core');
    assert.equal(areaOf('writev', ''), 'native');
    assert.equal(areaOf('(garbage collector)', ''), 'gc');
  });

  it('sums self time per function and leaves idle out of the busy share', () => {
    const s = summarizeCpuProfile(profile);
    assert.deepEqual([s.totalMs, s.idleMs, s.busyMs], [100, 10, 90]);
    assert.equal(s.functions[0]!.ms, 50);
    const top = s.functions[0]!;
    assert.equal(top.name, 'writev');
    assert.equal(top.pct, Math.round((50 / 90) * 1000) / 10);
    assert.equal(
      s.functions.find((f) => f.name === '(idle)'),
      undefined,
    );
    assert.equal(s.functions.find((f) => f.name === 'handle')!.location, 'gateway/request-handler.ts:10:1');
  });

  it('can skip start-up until the first sample inside a given file', () => {
    const s = summarizeCpuProfile(profile, { startAtFrameUrl: /request-handler\.ts$/ });
    assert.equal(
      s.functions.find((f) => f.name === 'compile'),
      undefined,
    );
    assert.equal(s.areas.find((a) => a.name === 'native')!.pct, Math.round((50 / 80) * 1000) / 10);
  });
});
