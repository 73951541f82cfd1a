// The product build: `npm run build` (scripts/build.sh) compiles to dist/, and the package's bin
// entries run there on plain Node, without tsx: check a config, run a gateway, reload it, stop it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { parseGatewayConfig } from '../../gateway/index.js';
import { appOn, testConfig } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN, call } from '../support/gateway-harness.js';
import { REPO_ROOT } from '../support/service-endpoints.js';
import { signIn } from '../support/dashboard-client.js';
import { request } from 'undici';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

describe('product build', function () {
  this.timeout(180_000);
  const ups: EchoUpstream[] = [];

  before(async () => {
    const build = await run('bash', ['scripts/build.sh']);
    assert.equal(build.code, 0, build.stdout + build.stderr);
  });
  after(async () => {
    await Promise.all(ups.map((u) => u.close()));
  });

  it('has bin entries northwest, northwest-gateway, northwest-loadgen, northwest-loadtest: executables with a node shebang', () => {
    assert.deepEqual(pkg.bin, {
      northwest: 'dist/controlplane/cli.js',
      'northwest-gateway': 'dist/gateway/cli.js',
      'northwest-loadgen': 'dist/loadgen/agents/loadgen-cli.js',
      'northwest-loadtest': 'dist/loadgen/loadtest-cli.js',
    });
    for (const file of Object.values(pkg.bin)) {
      const path = join(REPO_ROOT, file);
      accessSync(path, constants.X_OK);
      assert.ok(readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node\n'), `${file} has a shebang`);
    }
  });

  it('northwest-gateway --check-config exits 0 for a valid file and 2, naming the field, for an invalid one', async () => {
    const gateway = join(REPO_ROOT, pkg.bin['northwest-gateway']!);
    const ok = await run(process.execPath, [gateway, '--check-config', 'configs/single-node.yaml']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /single-node\.yaml: ok/);
    const bad = join(mkdtempSync(join(tmpdir(), 'nw-build-')), 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...testConfig({ shop: appOn('shop.test', ['http://127.0.0.1:1']) }), engine: 'fast' }));
    const invalid = await run(process.execPath, [gateway, '--check-config', bad]);
    assert.equal(invalid.code, 2);
    assert.ok(invalid.stderr.includes(`${bad}: engine:`), invalid.stderr);
    const help = await run(process.execPath, [join(REPO_ROOT, pkg.bin.northwest!), '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /usage: northwest <command>/);
    const loadgen = await run(process.execPath, [join(REPO_ROOT, pkg.bin['northwest-loadgen']!), '--help']);
    assert.equal(loadgen.code, 0, loadgen.stderr);
    assert.match(loadgen.stdout, /usage: northwest-loadgen <command>/);
  });

  it('northwest-loadtest runs from dist/: --check-config exits 0 for the example and 2, naming the field, for a bad config', async () => {
    const loadtest = join(REPO_ROOT, pkg.bin['northwest-loadtest']!);
    const env = { NORTHWEST_ADMIN_TOKEN: 'token', NW_ZK_MEMBER_PASSWORD: 'pw' };
    const ok = await run(process.execPath, [loadtest, '--check-config', 'configs/loadtest.attach.yaml'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /loadtest\.attach\.yaml: ok/);
    const bad = join(mkdtempSync(join(tmpdir(), 'nw-build-')), 'attach.json');
    writeFileSync(bad, JSON.stringify({ app: 'shop' }));
    const invalid = await run(process.execPath, [loadtest, '--check-config', bad], env);
    assert.equal(invalid.code, 2);
    assert.ok(invalid.stderr.includes(`${bad}: target:`), invalid.stderr);
  });

  it('runs a gateway from dist/ that serves, reloads with northwest-gateway reload, and stops on SIGTERM', async () => {
    const [a, b] = [await startEchoUpstream('a'), await startEchoUpstream('b')];
    ups.push(a, b);
    const file = join(mkdtempSync(join(tmpdir(), 'nw-build-')), 'gateway.json');
    writeFileSync(file, JSON.stringify(testConfig({ shop: appOn('shop.test', [a.url]) })));
    const gateway = join(REPO_ROOT, pkg.bin['northwest-gateway']!);
    const child = spawn(process.execPath, [gateway, '--config', file], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', NORTHWEST_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const [url, admin] = await eventually(
        () => {
          const m = /traffic:\s+(http:\/\/\S+)[\s\S]*admin:\s+(http:\/\/\S+)/.exec(out);
          assert.ok(m, out);
          return [m[1]!, m[2]!] as const;
        },
        { timeoutMs: 30_000, message: 'the gateway from dist/ is up' },
      );
      assert.equal((await call(url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'], 'a');
      writeFileSync(file, JSON.stringify(testConfig({ shop: appOn('shop.test', [b.url]) })));
      const reload = await run(process.execPath, [gateway, 'reload', '--config', file, '--admin', admin], {
        NORTHWEST_ADMIN_TOKEN: ADMIN_TOKEN,
      });
      assert.equal(reload.code, 0, reload.stderr);
      assert.equal((await call(url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'], 'b');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('runs a control plane from dist/ whose admin listener serves the dashboard: sign-in form, then the page and its script', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nw-build-')), 'controlplane.json');
    writeFileSync(file, JSON.stringify({ id: 'cp-dist', coordinator: { kind: 'embedded' }, admin: { host: '127.0.0.1', port: 0 } }));
    const child = spawn(process.execPath, [join(REPO_ROOT, pkg.bin.northwest!), 'serve', '--config', file], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', NORTHWEST_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const admin = await eventually(() => /"admin":"(http:\/\/[^"]+)"/.exec(out)?.[1] ?? assert.fail(out), {
        timeoutMs: 30_000,
        message: 'the control plane from dist/ is up',
      });
      const form = await request(`${admin}/dashboard`);
      assert.equal(form.statusCode, 401);
      assert.match(await form.body.text(), /action="\/dashboard\/session"/);
      const session = await signIn(admin, ADMIN_TOKEN);
      const js = await request(`${admin}/dashboard/dashboard.js`, { headers: { cookie: session.cookie } });
      assert.equal(js.statusCode, 200);
      assert.equal(await js.body.text(), readFileSync(join(REPO_ROOT, 'controlplane/admin/dashboard/assets/dashboard.js'), 'utf8'));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('runs a gateway of 2 worker processes from dist/ (the workers run dist/gateway/workers/worker-main.js on plain Node)', async () => {
    const a = await startEchoUpstream('a');
    ups.push(a);
    const file = join(mkdtempSync(join(tmpdir(), 'nw-build-')), 'gateway.json');
    writeFileSync(file, JSON.stringify(testConfig({ shop: appOn('shop.test', [a.url]) }, { workers: 2 })));
    const child = spawn(process.execPath, [join(REPO_ROOT, pkg.bin['northwest-gateway']!), '--config', file], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await eventually(
        () => {
          const m = /traffic:\s+(http:\/\/\S+)[\s\S]*workers:\s+2 \(pids \d+ \d+;/.exec(out);
          assert.ok(m, out);
          return m[1]!;
        },
        { timeoutMs: 30_000, message: 'the gateway and its 2 workers from dist/ are up' },
      );
      assert.equal((await call(url, '/kv/k', { host: 'shop.test' })).headers['x-served-by'], 'a');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  it('the example systemd unit runs the bin, reloads with SIGHUP and stops with SIGTERM, waiting longer than the drain', () => {
    const unit = readFileSync(join(REPO_ROOT, 'configs/northwest-gateway.service'), 'utf8');
    const setting = (key: string): string => {
      const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
      assert.ok(m, `${key} is set`);
      return m[1]!;
    };
    assert.match(setting('ExecStart'), new RegExp(`/${pkg.bin['northwest-gateway']!.replaceAll('.', '\\.')} --config `));
    assert.match(setting('ExecStartPre'), /cli\.js --check-config /);
    assert.equal(setting('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(setting('KillSignal'), 'SIGTERM');
    assert.equal(setting('KillMode'), 'mixed');
    assert.equal(setting('RestartPreventExitStatus'), '2');
    const { timeouts } = parseGatewayConfig(testConfig({ shop: appOn('shop.test', ['http://127.0.0.1:1']) }));
    const drainMs = timeouts.shutdownMs + timeouts.unknownWriteOutcomeMs + 1000;
    assert.ok(Number(setting('TimeoutStopSec')) * 1000 > drainMs, `TimeoutStopSec above ${drainMs} ms`);
  });
});
