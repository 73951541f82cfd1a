import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/service-endpoints.js';

const run = promisify(execFile);
const PROBE = join(REPO_ROOT, 'test', 'support', 'pretenuring-probe.ts');

/** What V8 decided for the probe's allocation site, from its --trace-pretenuring-statistics lines. */
async function probe(args: string[]): Promise<{ tenured: boolean; output: string }> {
  const { stdout, stderr } = await run(process.execPath, ['--trace-pretenuring-statistics', '--import', 'tsx', PROBE, ...args], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const output = stdout + stderr;
  assert.match(output, /kept 1000000/, output.slice(-2000));
  return { tenured: /=> tenure/.test(output), output };
}

describe('V8 allocation-site pretenuring', function () {
  this.timeout(60_000);

  it('tenures a site whose objects all survive scavenges, in a process without a gateway (the probe can tell)', async () => {
    const { tenured, output } = await probe([]);
    assert.ok(tenured, `V8 tenured nothing: the probe no longer shows the pattern\n${output.slice(-2000)}`);
  });

  it('is off in a process that started a raw-engine gateway: request objects stay in the young generation', async () => {
    const { tenured, output } = await probe(['--gateway']);
    assert.ok(!tenured, `a site was tenured after the raw engine started\n${output.slice(-2000)}`);
  });
});
