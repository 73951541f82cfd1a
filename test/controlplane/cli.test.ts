import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetStatus } from '../../controlplane/control-plane.js';
import { adminCall, CP_TOKEN, startControlHarness, type ControlHarness } from '../support/control-plane-harness.js';
import { eventually } from '../support/eventually.js';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the real CLI (`northwest ...`); the environment gets no admin token or URL unless given. */
function spawnCli(
  args: readonly string[],
  env: Record<string, string> = {},
): { proc: ChildProcess; out: () => CliResult; exited: Promise<CliResult> } {
  const { NORTHWEST_ADMIN_TOKEN: _t, NORTHWEST_CONTROL_URL: _u, ...base } = process.env;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'controlplane/cli.ts', ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...base, ...env },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const out = (): CliResult => ({ code: proc.exitCode, stdout, stderr });
  const exited = once(proc, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { proc, out, exited };
}

describe('northwest CLI', function () {
  this.timeout(60_000);
  let h: ControlHarness;
  let dir: string;

  before(async () => {
    h = await startControlHarness();
    dir = await mkdtemp(join(tmpdir(), 'nw-cp-cli-'));
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs a client command against the harness's admin API with the token. */
  const cli = (args: readonly string[], env: Record<string, string> = { NORTHWEST_ADMIN_TOKEN: CP_TOKEN }) =>
    spawnCli([...args, '--url', h.url], env).exited;

  async function planFile(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  it('status prints members, apps with acks, and migrations; --json prints the document', async () => {
    const human = await cli(['status']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /leader: cp-test/);
    assert.match(human.stdout, /MEMBER\s+KIND\s+HOST\s+PID\s+APPS/);
    for (const id of ['gw-00', 'gw-01', 'gw-02'])
      assert.match(human.stdout, new RegExp(`${id}\\s+gateway\\s+\\S+\\s+${process.pid}\\s+shop,cart`));
    assert.match(human.stdout, /APP\s+EPOCH\s+MODE\s+LOCK\s+ACKED\s+NOT ACKED/);
    assert.match(human.stdout, /MIGRATION\s+STATUS\s+PHASE/);
    const json = await cli(['status', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as FleetStatus;
    assert.deepEqual(
      s.members.map((m) => m.id),
      ['gw-00', 'gw-01', 'gw-02'],
    );
    assert.equal(s.leader, 'cp-test');
  });

  it('migrate --plan --wait follows the phases and exits 0 when done; status then shows the acks', async () => {
    const file = await planFile('plan.yaml', 'id: m-cli-1\napps: [shop]\nbarrierTimeoutMs: 5000\n');
    const r = await cli(['migrate', '--plan', file, '--wait', '--timeout', '60']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /migration m-cli-1 created \(apps shop\)/);
    for (const phase of ['prepare', 'sync', 'fence', 'proxy', 'redirect', 'dns', 'done']) {
      assert.match(r.stdout, new RegExp(`phase-completed\\s+${phase}\\b`), `timeline shows ${phase}`);
    }
    assert.match(r.stdout, /phase-completed\s+fence\s+\S+\s+barrier ok 3\/3/);
    assert.match(r.stdout, /migration m-cli-1 done/);
    const s = await cli(['status']);
    assert.match(s.stdout, /shop\s+\d+\s+proxy\s+-\s+3\/3\s+-/);
    assert.match(s.stdout, /m-cli-1\s+done\s+done \(completed\)\s+shop/);
  });

  it('watch prints the whole timeline of a finished migration and exits 0', async () => {
    const r = await cli(['watch', 'm-cli-1']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3}\s+created/);
    assert.match(r.stdout, /phase-started\s+prepare/);
    assert.match(lines.at(-1)!, /migration m-cli-1 done/);
  });

  it('migrate --wait exits 1 with the error code when the migration rolls back', async () => {
    const file = await planFile(
      'unhealthy.json',
      JSON.stringify({ id: 'm-cli-2', apps: ['cart'], prepare: { n2HealthUrls: ['http://127.0.0.1:1/healthz'], healthAttempts: 1 } }),
    );
    const r = await cli(['migrate', '--plan', file, '--wait']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /rolled-back/);
    assert.match(r.stderr, /^northwest: NW_CP_N2_UNHEALTHY: /m);
    // status says why it rolled back, under the migrations.
    const s = await cli(['status']);
    assert.match(s.stdout, /\nwhy\n {2}m-cli-2: NW_CP_N2_UNHEALTHY: .*127\.0\.0\.1:1\/healthz/);
    assert.doesNotMatch(s.stdout, /m-cli-1: NW_/, 'a migration that went through has no reason listed');
  });

  it('a malformed plan file exits 2 naming the file and the field, and sends nothing', async () => {
    const file = await planFile('bad-plan.yaml', 'apps: [shop]\nbarrierTimeoutMs: -5\nfence: { maxHoldMs: fast }\n');
    const r = await cli(['migrate', '--plan', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /NW_CP_PLAN_INVALID/);
    assert.ok(r.stderr.includes(`${file}: barrierTimeoutMs: `), r.stderr);
    assert.ok(r.stderr.includes(`${file}: fence.maxHoldMs: `), r.stderr);
    const notYaml = await planFile('not-yaml.yaml', 'apps: [shop\n');
    const r2 = await cli(['migrate', '--plan', notYaml]);
    assert.equal(r2.code, 2);
    assert.ok(r2.stderr.includes(notYaml), r2.stderr);
    assert.deepEqual(
      (await h.proc.controlPlane.status()).migrations.map((m) => m.id),
      ['m-cli-1', 'm-cli-2'],
    );
  });

  it('abort of an unknown migration exits 1 with NW_CP_MIGRATION_NOT_FOUND', async () => {
    const r = await cli(['abort', 'm-does-not-exist', '--reason', 'test']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^northwest: NW_CP_MIGRATION_NOT_FOUND: .*m-does-not-exist/m);
  });

  it('without the token exits 1 with NW_CP_ADMIN_UNAUTHORIZED', async () => {
    for (const args of [['status'], ['pause', 'm-cli-1']]) {
      const r = await cli(args, {});
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^northwest: NW_CP_ADMIN_UNAUTHORIZED: /m);
    }
  });

  it('exits 2 on usage errors and 0 for --help; --url falls back to NORTHWEST_CONTROL_URL', async () => {
    const usage = [
      [],
      ['frobnicate'],
      ['status', '--bogus'],
      ['migrate'],
      ['abort'],
      ['watch', 'a', 'b'],
      ['pause', 'bad id!'],
      ['migrate', '--plan', 'x.yaml', '--timeout', '5'],
    ];
    const results = await Promise.all(usage.map((args) => spawnCli(args).exited));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${usage[i]!.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: northwest/);
    });
    const help = await spawnCli(['--help']).exited;
    assert.equal(help.code, 0);
    assert.match(help.stdout, /npx tsx controlplane\/cli\.ts <command>/);
    const migrateHelp = await spawnCli(['migrate', '--help']).exited;
    assert.equal(migrateHelp.code, 0);
    assert.match(migrateHelp.stdout, /--timeout S/);
    const viaEnv = await spawnCli(['status', '--json'], { NORTHWEST_ADMIN_TOKEN: CP_TOKEN, NORTHWEST_CONTROL_URL: h.url }).exited;
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const unreachable = await spawnCli(['status', '--url', 'http://127.0.0.1:1'], { NORTHWEST_ADMIN_TOKEN: CP_TOKEN }).exited;
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /NW_CP_ADMIN_UNREACHABLE/);
  });

  describe('serve', () => {
    let child: ChildProcess | undefined;
    afterEach(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
      child = undefined;
    });

    it('starts a control plane from a config file, answers /healthz and /status, and exits 0 on SIGTERM', async () => {
      const file = join(dir, 'controlplane.yaml');
      await writeFile(
        file,
        'id: cp-serve-test\ncoordinator:\n  kind: embedded\nadmin:\n  host: 127.0.0.1\n  port: 0\nlog:\n  level: warn\n',
      );
      const run = spawnCli(['serve', '--config', file], { NORTHWEST_ADMIN_TOKEN: 'serve-token' });
      child = run.proc;
      let url: string | undefined;
      await eventually(
        () => {
          if (run.proc.exitCode !== null) throw new Error(`serve exited early (${run.proc.exitCode}): ${run.out().stderr}`);
          url = /admin:\s+(http:\/\/\S+)/.exec(run.out().stderr)?.[1];
          return url !== undefined;
        },
        { timeoutMs: 30_000, message: 'admin URL on stderr' },
      );
      assert.doesNotMatch(url!, /:0$/, 'the real port is printed');
      const health = await adminCall(url!, 'GET', '/healthz', { token: null });
      assert.equal(health.status, 200);
      const status = await adminCall(url!, 'GET', '/status', { token: 'serve-token' });
      assert.equal(status.status, 200);
      assert.equal((status.body as FleetStatus).leader, 'cp-serve-test');
      assert.equal((await adminCall(url!, 'GET', '/status', { token: null })).status, 401);
      run.proc.kill('SIGTERM');
      const done = await run.exited;
      assert.equal(done.code, 0, done.stderr);
    });

    it('exits 2 naming the file and the field for an invalid config', async () => {
      const file = join(dir, 'bad-controlplane.yaml');
      await writeFile(file, 'coordinator:\n  kind: embedded\nadmin:\n  host: 10.1.2.3\n  port: 0\n');
      const run = spawnCli(['serve', '--config', file]);
      child = run.proc;
      const done = await run.exited;
      assert.equal(done.code, 2, done.stderr);
      assert.match(done.stderr, /NW_CP_CONFIG_INVALID/);
      assert.ok(done.stderr.includes(`${file}: admin.host: admin must bind to a loopback address`), done.stderr);
    });
  });
});
