// The overhead and switchover commands' --strategy, --n2-rtt and --reads: parsing, the refusals that
// come before any service is touched, and the config's replicate and toxiproxy sections.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { parseExperimentConfig } from '../../loadgen/experiments/experiment-config.js';
import { isExperimentError } from '../../loadgen/experiments/experiment-errors.js';
import { storesOverLinks } from '../../loadgen/experiments/n2-links.js';
import { overheadRunStem, parseLinkFlags } from '../../loadgen/experiments/overhead-options.js';
import { storeFactoryFor } from '../../loadgen/experiments/store-factory.js';
import { REPO_ROOT } from '../support/service-endpoints.js';

const usageError = (re: RegExp) => (err: unknown) => isExperimentError(err) && err.code === 'NW_EXP_USAGE' && re.test(err.message);

const cassandraStore = {
  kind: 'cassandra',
  cassandra: {
    n1: { contactPoints: ['127.0.0.2'], localDataCenter: 'datacenter1' },
    n2: { contactPoints: ['127.0.0.3'], localDataCenter: 'datacenter1' },
  },
  redis: { n1: { host: '127.0.0.1', port: 16379 }, n2: { host: '127.0.0.1', port: 16380 } },
};
const replicateSection = {
  cassandra: { n1: { contactPoints: ['127.0.0.4'], localDataCenter: 'dc1' }, n2: { contactPoints: ['127.0.0.5'], localDataCenter: 'dc2' } },
  n2Nodes: [{ host: '127.0.0.1', jmxPort: 7499 }],
};

describe('experiment --strategy, --n2-rtt and --reads', () => {
  it('defaults: copy-on-write, N2 reached directly, the paper’s read shares', () => {
    assert.deepEqual(parseLinkFlags({}), { strategy: 'copy-on-write', n2RttMs: undefined, readRatiosPercent: [20, 50, 80] });
  });

  it('takes each strategy, a whole RTT in ms (0 included) and a read list', () => {
    assert.deepEqual(parseLinkFlags({ strategy: 'replicate', n2Rtt: '20', reads: '20' }), {
      strategy: 'replicate',
      n2RttMs: 20,
      readRatiosPercent: [20],
    });
    assert.equal(parseLinkFlags({ n2Rtt: '0' }).n2RttMs, 0);
    assert.deepEqual(parseLinkFlags({ reads: '80,20' }).readRatiosPercent, [80, 20]);
  });

  it('refuses an unknown strategy, an RTT that is not a whole non-negative number, and bad read lists', () => {
    assert.throws(() => parseLinkFlags({ strategy: 'snapshot' }), usageError(/--strategy must be one of copy-on-write, replicate/));
    for (const bad of ['-1', '2.5', 'x', '', '10001'])
      assert.throws(() => parseLinkFlags({ n2Rtt: bad }), usageError(/--n2-rtt must be a whole number/), bad);
    for (const bad of ['20,', '101', 'a', '20,20']) assert.throws(() => parseLinkFlags({ reads: bad }), usageError(/--reads/), bad);
  });

  it('names each run’s files after its strategy and RTT (the chart collects them by that)', () => {
    assert.equal(overheadRunStem({ strategy: 'replicate', n2RttMs: 20 }), 'overhead-replicate-rtt20ms');
    assert.equal(overheadRunStem({ strategy: 'copy-on-write', n2RttMs: 0 }), 'overhead-copy-on-write-rtt0ms');
    assert.equal(overheadRunStem({ strategy: 'copy-on-write', n2RttMs: undefined }), 'overhead-copy-on-write-direct');
  });

  it('parses the store’s replicate section and the Toxiproxy API (default the shared one)', () => {
    const cfg = parseExperimentConfig({ store: { ...cassandraStore, replicate: replicateSection } });
    assert.equal(cfg.toxiproxy.apiUrl, 'http://127.0.0.1:8474');
    assert.ok(cfg.store.kind === 'cassandra' && cfg.store.replicate);
    assert.deepEqual(cfg.store.replicate.linkProxies, []);
    assert.deepEqual(cfg.store.replicate.nodetool.command, ['nodetool']);
    assert.throws(
      () => parseExperimentConfig({ store: { ...cassandraStore, replicate: { ...replicateSection, n2Nodes: [] } } }),
      (err: unknown) => isExperimentError(err) && err.code === 'NW_EXP_CONFIG_INVALID' && /n2Nodes/.test(err.message),
    );
  });

  it('refuses replicate without a replicate section, and an RTT without a link to put it on, before touching a service', async () => {
    assert.throws(() => storeFactoryFor(parseExperimentConfig({}).store, 'replicate'), usageError(/--strategy replicate needs/));
    await assert.rejects(
      storesOverLinks(parseExperimentConfig({}), 'copy-on-write', 20),
      usageError(/--n2-rtt needs a store of kind cassandra/),
    );
    const noLinks = parseExperimentConfig({ store: { ...cassandraStore, replicate: replicateSection } });
    await assert.rejects(storesOverLinks(noLinks, 'replicate', 20), usageError(/linkProxies/));
  });

  it('the CLI exits 2 with the usage on a bad --n2-rtt or --strategy', async function () {
    this.timeout(30_000);
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', 'loadgen/experiment-cli.ts', ...args], { cwd: REPO_ROOT }, (err, _o, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr }),
        ),
      );
    const [rtt, strategy] = await Promise.all([
      run(['overhead', '--n2-rtt', 'fast']),
      run(['switchover', '--strategy', 'replicate', '--n2-rtt', '5']),
    ]);
    assert.equal(rtt.code, 2);
    assert.match(rtt.stderr, /NW_EXP_USAGE: .*--n2-rtt must be a whole number/);
    assert.match(rtt.stderr, /--strategy S/, 'the usage lists the new options');
    assert.equal(strategy.code, 2);
    assert.match(strategy.stderr, /NW_EXP_USAGE: .*--strategy replicate needs a store of kind cassandra/);
  });
});
