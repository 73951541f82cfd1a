// The gateway CLI's operator commands, from the TypeScript sources: `--check-config` (like nginx -t),
// `reload` (through the admin API, with an exit code that says whether it worked) and SIGHUP.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { appOn, startFileGateway, testConfig, type FileGateway } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN, call } from '../support/gateway-harness.js';
import { spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { REPO_ROOT } from '../support/service-endpoints.js';

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function gatewayCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'gateway/cli.ts', ...args],
      { cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, NORTHWEST_ADMIN_TOKEN: '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nw-gw-cli-')), name);
  writeFileSync(file, text);
  return file;
}

describe('gateway cli', function () {
  this.timeout(60_000);
  const ups: EchoUpstream[] = [];
  let g: FileGateway | undefined;
  let proc: GatewayProcess | undefined;

  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
    await g?.close();
    g = undefined;
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  it('--check-config exits 0 for a valid file and 2 for an invalid one, naming the file and each bad field', async () => {
    const ok = await gatewayCli(['--check-config', 'configs/single-node.yaml']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /configs\/single-node\.yaml: ok \(1 app: shop; engine raw\)/);

    const bad = tempFile(
      'bad.yaml',
      'listeners:\n  - port: 99999\napps:\n  shop:\n    hosts: [shop.test]\n    n1: { servers: [{ url: "http://127.0.0.1:1" }] }\n' +
        '    n2: { servers: [{ url: "http://127.0.0.1:2" }] }\n    colour: blue\n',
    );
    const invalid = await gatewayCli(['--check-config', bad]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /NW_GW_CONFIG_INVALID/);
    assert.ok(invalid.stderr.includes(`${bad}: listeners.0.port:`), invalid.stderr);
    assert.ok(invalid.stderr.includes(`${bad}: apps.shop:`) && invalid.stderr.includes('colour'), invalid.stderr);

    const missing = await gatewayCli(['--check-config', join(tmpdir(), 'no-such-northwest-config.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
  });

  it('reload exits 0 when the gateway applied the file, 2 when the file is invalid, 1 when it needs a restart', async () => {
    const [a, b] = [await startEchoUpstream('a'), await startEchoUpstream('b')];
    ups.push(a, b);
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a.url]) }));
    const reload = (env: NodeJS.ProcessEnv = { NORTHWEST_ADMIN_TOKEN: ADMIN_TOKEN }) =>
      gatewayCli(['reload', '--config', g!.file, '--admin', g!.adminUrl], env);

    g.write(testConfig({ shop: appOn('shop.test', [a.url]), blog: appOn('blog.test', [b.url]) }));
    const applied = await reload();
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /added blog; changed -; removed -/);
    assert.equal((await call(g.url, '/kv/k', { host: 'blog.test' })).headers['x-served-by'], 'b');

    g.write(testConfig({ shop: { ...appOn('shop.test', [a.url]), hosts: [] } }));
    const invalid = await reload();
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /NW_GW_RELOAD_INVALID/);
    assert.ok(invalid.stderr.includes(`${g.file}: apps.shop.hosts:`), invalid.stderr);
    assert.equal((await call(g.url, '/kv/k', { host: 'blog.test' })).headers['x-served-by'], 'b', 'nothing changed');

    g.write(testConfig({ shop: appOn('shop.test', [a.url]) }, { engine: g.gw.engine === 'raw' ? 'node' : 'raw' }));
    const refused = await reload();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NW_GW_RELOAD_REFUSED/);
    assert.ok(refused.stderr.includes(`${g.file}: engine: cannot change on reload`), refused.stderr);

    const noToken = await reload({});
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /NORTHWEST_ADMIN_TOKEN is not set/);
    const noAdmin = await gatewayCli(['reload', '--config', g.file], { NORTHWEST_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(noAdmin.code, 2, 'admin port 0: only --admin says where the gateway is');
    assert.match(noAdmin.stderr, /no admin section with a fixed port/);
  });

  it('SIGHUP reloads the running process; an invalid file is logged with the file and field and changes nothing', async () => {
    const [a, b] = [await startEchoUpstream('a'), await startEchoUpstream('b')];
    ups.push(a, b);
    const config = (apps: Parameters<typeof testConfig>[0]) => ({ ...testConfig(apps), log: { level: 'info' } });
    proc = await spawnGatewayProcess(config({ shop: appOn('shop.test', [a.url]) }));
    const file = /reload: {3}kill -HUP \d+ {2}\(re-reads (\S+)\)/.exec(proc.output())?.[1];
    assert.ok(file, proc.output());
    assert.equal((await call(proc.url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'], 'a');

    writeFileSync(file, JSON.stringify(config({ shop: appOn('shop.test', [b.url]) })));
    proc.signal('SIGHUP');
    await eventually(async () => (await call(proc!.url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'] === 'b', {
      timeoutMs: 10_000,
      message: 'the reload moved shop to b',
    });
    assert.match(proc.output(), /"event":"gateway\.reload\.applied"/);

    writeFileSync(file, JSON.stringify(config({ shop: { ...appOn('shop.test', [a.url]), fence: { maxHoldMs: -1 } } })));
    proc.signal('SIGHUP');
    await eventually(() => /"event":"gateway\.reload\.failed"/.test(proc!.output()), {
      timeoutMs: 10_000,
      message: 'the failure is logged',
    });
    const failed = proc
      .output()
      .split('\n')
      .find((l) => l.includes('gateway.reload.failed'))!;
    assert.ok(failed.includes('NW_GW_RELOAD_INVALID') && failed.includes('apps.shop.fence.maxHoldMs'), failed);
    assert.ok(failed.includes(file), failed);
    assert.equal((await call(proc.url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'], 'b', 'nothing changed');
  });
});
