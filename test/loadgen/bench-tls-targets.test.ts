// The proxy bench's HTTPS and h2 targets, started as the bench starts them: each one answers the
// bench's workloads intact over TLS 1.3 (h2 where it should), and both load generators speak to
// them. nginx is installed (Debian's package) when it is missing, as the bench does.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { runAutocannon } from '../../loadgen/bench/autocannon-run.js';
import { type BenchCertificate, createBenchCertificate } from '../../loadgen/bench/bench-certificate.js';
import type { TargetId } from '../../loadgen/bench/bench-report.js';
import { smokeCheck, startTargets, startUpstream, type Target } from '../../loadgen/bench/bench-targets.js';
import { WORKLOADS } from '../../loadgen/bench/bench-workloads.js';
import { ChildRegistry } from '../../loadgen/bench/child-processes.js';
import { runH2Load } from '../../loadgen/bench/h2-load.js';
import { ensureNginx, renderNginxConfig } from '../../loadgen/bench/nginx-process.js';

let NGINX = 'nginx';

describe('proxy bench: HTTPS and h2 targets', function () {
  this.timeout(60_000);
  const registry = new ChildRegistry();
  let cert: BenchCertificate;
  let targets: Target[] = [];
  const target = (id: TargetId): Target => targets.find((t) => t.id === id)!;

  before(async () => {
    NGINX = ensureNginx((line) => process.stderr.write(`${line}\n`));
    cert = await createBenchCertificate();
    const upstream = await startUpstream(registry);
    const ids: TargetId[] = ['gateway-raw-tls', 'gateway-h2', 'h2-floor', 'nginx-1w-tls', 'nginx-1w-h2'];
    targets = await startTargets(registry, NGINX, upstream, ids, undefined, cert);
  });
  after(async () => {
    await registry.stopAll();
    cert.remove();
  });

  it('renders nginx with the certificate on an ssl listener, with http2 on it for h2', () => {
    const base = { dir: '/tmp/x', port: 8443, upstreamPort: 8080, workers: 1 } as const;
    const https = renderNginxConfig({ ...base, tls: { certFile: cert.certFile, keyFile: cert.keyFile, http2: false } });
    assert.match(https, /listen 127\.0\.0\.1:8443 ssl;/);
    assert.ok(https.includes(`ssl_certificate ${cert.certFile};`) && https.includes(`ssl_certificate_key ${cert.keyFile};`));
    assert.match(https, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
    assert.match(
      renderNginxConfig({ ...base, tls: { certFile: cert.certFile, keyFile: cert.keyFile, http2: true } }),
      /listen 127\.0\.0\.1:8443 ssl http2;/,
    );
    assert.match(renderNginxConfig(base), /listen 127\.0\.0\.1:8443;/);
  });

  it('nginx -t accepts the HTTPS and h2 configs', () => {
    const nginx = NGINX;
    const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-test-'));
    try {
      for (const http2 of [false, true]) {
        const conf = join(dir, 'nginx.conf');
        const tls = { certFile: cert.certFile, keyFile: cert.keyFile, http2 };
        writeFileSync(conf, renderNginxConfig({ dir, port: 8443, upstreamPort: 8080, workers: 1, tls }));
        const r: SpawnSyncReturns<string> = spawnSync(nginx, ['-t', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
          encoding: 'utf8',
        });
        assert.equal(r.status, 0, r.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every target answers GET 1 KB and POST 4 KB intact over TLS 1.3, h2 where it should', async () => {
    const expected: Partial<Record<TargetId, string>> = {
      'gateway-raw-tls': 'TLSv1.3 http/1.1',
      'gateway-h2': 'TLSv1.3 h2',
      'h2-floor': 'TLSv1.3 h2',
      'nginx-1w-tls': 'TLSv1.3 http/1.1',
      'nginx-1w-h2': 'TLSv1.3 h2',
    };
    for (const t of targets.filter((x) => x.id !== 'direct')) assert.equal(await smokeCheck(t), expected[t.id], t.id);
  });

  it('autocannon loads an HTTPS target, and the h2 loop an h2 one, without a failed request', async () => {
    const post = WORKLOADS.find((w) => w.name === 'post-4k')!;
    const tls = target('gateway-raw-tls');
    const https = await runAutocannon({ baseUrl: tls.url, workload: post, connections: 4, durationS: 0.5, tls: tls.tls! });
    assert.ok(https.completed > 0);
    assert.equal(https.errors + https.non2xx, 0);
    for (const id of ['gateway-h2', 'h2-floor'] as const) {
      const t = target(id);
      const r = await runH2Load({ baseUrl: t.url, workload: post, sessions: 2, streamsPerSession: 2, durationS: 0.5, tls: t.tls! });
      assert.ok(r.completed > 0, id);
      assert.equal(r.errors + r.non2xx, 0, id);
      assert.equal(r.negotiated, 'TLSv1.3 h2');
    }
  });
});
