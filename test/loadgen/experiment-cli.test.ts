import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperimentConfig } from '../../loadgen/experiments/experiment-config.js';
import { isExperimentError } from '../../loadgen/experiments/experiment-errors.js';
import { REPO_ROOT } from '../support/service-endpoints.js';

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a loadgen entry point to completion. */
function run(script: string, args: readonly string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('experiment CLI and config', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'nw-exp-cli-'));
  const badConfig = join(dir, 'bad.yaml');
  writeFileSync(
    badConfig,
    [
      'gateways: 0',
      'dns:',
      '  provider: route53',
      '  endpont: http://127.0.0.1:15053',
      'load:',
      '  durationS: 2',
      '  handoverAtS: 3',
      '  ratePerGateway: 0',
      '',
    ].join('\n'),
  );

  it('--help prints the usage and exits 0', async () => {
    const r = await run('loadgen/experiment-cli.ts', ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /usage: npm run experiment -- <command>/);
    assert.match(r.stdout, /switchover/);
    assert.match(r.stdout, /overhead/);
    assert.match(r.stdout, /--config FILE/);
  });

  it('a bad config exits 2 naming the file and every bad field, before anything starts', async () => {
    const r = await run('loadgen/experiment-cli.ts', ['switchover', '--config', badConfig, '--out', join(dir, 'never')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /NW_EXP_CONFIG_INVALID/);
    for (const field of ['gateways', 'dns', 'load.handoverAtS', 'load.ratePerGateway'])
      assert.match(
        r.stderr,
        new RegExp(`${badConfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${field.replace('.', '\\.')}`),
        `${field} in:\n${r.stderr}`,
      );
    assert.match(r.stderr, /endpont/, 'the unknown key is named');
    assert.equal(r.stdout, '');
  });

  it('a missing config file, an unknown command and a bad flag exit 2', async () => {
    const missing = await run('loadgen/experiment-cli.ts', ['switchover', '--config', join(dir, 'missing.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing\.yaml/);
    const unknown = await run('loadgen/experiment-cli.ts', ['switchback']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /NW_EXP_USAGE.*switchback/);
    const trials = await run('loadgen/experiment-cli.ts', ['switchover', '--trials', 'many']);
    assert.equal(trials.code, 2);
    assert.match(trials.stderr, /--trials must be a positive integer/);
    const option = await run('loadgen/experiment-cli.ts', ['switchover', '--trails', '3']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /trails/);
  });

  it('the demo takes the same config and reports a bad one the same way', async () => {
    const help = await run('loadgen/demo.ts', ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--config FILE/);
    const bad = await run('loadgen/demo.ts', ['--config', badConfig]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yaml: gateways/);
  });

  it('an empty config is the embedded system; ZooKeeper needs a lease shorter than the session', () => {
    const c = parseExperimentConfig({});
    assert.deepEqual([c.coordinator.kind, c.dns.provider, c.store.kind, c.trials], ['embedded', 'memory', 'memory', 10]);
    assert.throws(
      () =>
        parseExperimentConfig(
          { coordinator: { kind: 'zookeeper', connectString: '127.0.0.1:21811', sessionTimeoutMs: 2000 }, leaseMs: 3000 },
          'x.yaml',
        ),
      (e: unknown) =>
        isExperimentError(e, 'NW_EXP_CONFIG_INVALID') &&
        /x\.yaml: leaseMs: must be shorter than coordinator\.sessionTimeoutMs/.test(e.message),
    );
    assert.throws(
      () => parseExperimentConfig({ coordinator: { kind: 'zookeeper', connectString: '127.0.0.1:21811/chroot' } }, 'y.yaml'),
      (e: unknown) => isExperimentError(e) && /y\.yaml: coordinator\.connectString/.test(e.message),
    );
    const sync = parseExperimentConfig({ store: { kind: 'memory', sync: { mode: 'none', hooks: ['datastore'] } } }).store.sync;
    assert.deepEqual(sync, { mode: 'none', hooks: ['datastore'] });
  });
});
