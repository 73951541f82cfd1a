// The proxy bench's CPU accounting: a load generator the bench runs as a child to completion
// (wrk) is the bench's own CPU, not "others", though no live process tree holds it afterwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'mocha';
import { benchCpuMs, reapedChildrenCpuMs } from '../../loadgen/bench/cpu-accounting.js';

/** Runs a child that burns about `ms` of CPU and is reaped before this returns; its own count of CPU ms. */
function burnInChild(ms: number): number {
  const code = `const t0 = process.cpuUsage(); let u; do { u = process.cpuUsage(t0); } while (u.user + u.system < ${ms * 1000});
    const all = process.cpuUsage(); process.stdout.write(String((all.user + all.system) / 1000));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

describe('cpu-accounting', () => {
  it("counts a child's CPU once it has exited and been reaped as the bench's own", function () {
    if (reapedChildrenCpuMs() === undefined) this.skip(); // no /proc
    const before = benchCpuMs([]);
    const reaped0 = reapedChildrenCpuMs()!;
    const childMs = burnInChild(300);
    const grown = benchCpuMs([])! - before!;
    // /proc counts in 10 ms ticks; the child's own count is exact.
    assert.ok(reapedChildrenCpuMs()! - reaped0 >= childMs - 20, `reaped ${reapedChildrenCpuMs()! - reaped0} ms, child ${childMs} ms`);
    assert.ok(grown >= childMs - 20, `bench CPU grew ${grown} ms while a reaped child used ${childMs} ms`);
  });
});
