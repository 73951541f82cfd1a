import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
import { parseExperimentConfig } from '../../loadgen/experiments/experiment-config.js';
import { runConfiguredSwitchover } from '../../loadgen/experiments/switchover-command.js';
import type { TrialResult } from '../../loadgen/experiments/switchover-trial.js';
import { parseXml } from '../support/xml-well-formed.js';
import { requireService } from '../support/service-endpoints.js';
import { TEST_EXPERIMENT_AUTH as TEST_AUTH, zkAdminClient } from '../support/zk-identities.js';

describe('switchover experiment on the real services (ZooKeeper ensemble, Route 53 on moto)', function () {
  this.timeout(240_000);
  const zk = requireService('zookeeper');
  const r53 = requireService('route53');
  const suffix = randomBytes(3).toString('hex');
  const chroot = `/nw-loadgen-e2e-${suffix}`;
  const zone = `nw-loadgen-${suffix}.test`;

  it(
    '2 trials with 3 gateways: 0 failed requests, 0 lost writes, N2 serves after the handover, ' +
      'DNS INSYNC timed, reports written, nothing left behind',
    async () => {
      const cfg = parseExperimentConfig(
        {
          coordinator: { kind: 'zookeeper', connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000, auth: TEST_AUTH },
          dns: { provider: 'route53', endpoint: r53.endpoint, region: r53.region, zone, credentials: 'mock' },
          gateways: 3,
          load: { connectionsPerGateway: 3, readRatio: 0.5, keys: 300, durationS: 4, handoverAtS: 1 },
          trials: 2,
        },
        'switchover-services.test',
      );
      const out = mkdtempSync(join(tmpdir(), 'nw-exp-services-'));
      const runs: TrialResult[] = [];
      const result = await runConfiguredSwitchover(cfg, { outDir: out, quiet: true, onTrial: (_t, r) => runs.push(r) });

      assert.equal(result.trials.length, 2);
      for (const [i, r] of runs.entries()) {
        const t = r.figures;
        assert.equal(r.log.status, 'done', `trial ${i + 1}: ${JSON.stringify(r.log.error)}`);
        assert.equal(t.failedRequests, 0, `trial ${i + 1}: failed requests`);
        assert.equal(t.lostWrites, 0, `trial ${i + 1}: lost writes ${JSON.stringify(r.run.lostWrites?.lost.slice(0, 5))}`);
        assert.ok(r.run.lostWrites!.checked >= 300, 'every pre-loaded key was read back at N2');
        assert.equal(typeof t.firstN2AfterMs, 'number', `trial ${i + 1}: N2 served after the handover`);
        assert.ok(t.firstN2AfterMs! >= 0);
        const served = new Set(r.run.samples.map((s) => s.servedBy));
        assert.ok(served.has('n1') && served.has('n2'), `trial ${i + 1}: both deployments served`);
        // The DNS phase ran against Route 53 (moto) and the change was polled to INSYNC.
        const dns = r.log.history.find((e) => e.event === 'phase-completed' && e.phase === 'dns')?.data?.dns as
          | { insyncAt?: string; submitToInsyncMs?: number }
          | undefined;
        assert.ok(dns?.insyncAt, `trial ${i + 1}: DNS INSYNC time in the log`);
        assert.equal(typeof t.dnsToInsyncMs, 'number', `trial ${i + 1}: DNS change → INSYNC recorded`);
        assert.equal(typeof t.flipMs, 'number');
        // The gateways were fleet members on the ensemble: the proxy barrier names all three.
        const proxy = r.log.history.find((e) => e.event === 'phase-completed' && e.phase === 'proxy');
        assert.deepEqual([...(proxy?.barrier?.members ?? [])].sort(), ['gw-0', 'gw-1', 'gw-2']);
      }
      assert.notEqual(runs[0]!.log.id, runs[1]!.log.id);

      for (const f of [result.reports.json, result.reports.markdown, result.reports.chart]) assert.ok(existsSync(f), f);
      assert.doesNotThrow(() => parseXml(readFileSync(result.reports.chart, 'utf8')));
      const json = JSON.parse(readFileSync(result.reports.json, 'utf8')) as { title: string; trials: { figures: unknown[] } };
      assert.equal(json.trials.figures.length, 2);
      assert.match(json.title, /ZooKeeper .*Route 53/);
      assert.match(readFileSync(result.reports.markdown, 'utf8'), /DNS change → INSYNC/);

      // Each trial had its own chroot and hosted zone; both are gone.
      const root = zkAdminClient({ connectString: zk.connectString, chroot: '/' });
      await root.connect();
      const left = ((await root.children('/')) ?? []).filter((n) => n.startsWith(chroot.slice(1)));
      await root.close();
      assert.deepEqual(left, [], 'trial chroots removed');
      const admin = new Route53Client({
        endpoint: r53.endpoint,
        region: r53.region,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      const zones = await admin.send(new ListHostedZonesByNameCommand({ DNSName: zone }));
      admin.destroy();
      assert.deepEqual(
        (zones.HostedZones ?? []).filter((z) => z.Name === `${zone}.`),
        [],
        'trial hosted zones deleted',
      );
    },
  );
});
