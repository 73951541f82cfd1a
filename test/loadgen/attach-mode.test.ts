// Attach mode end to end: a fleet of two gateway processes (the gateway CLI with a config file, as
// docs/operations.md tells an operator to start them) on the ZooKeeper ensemble, a control-plane
// process, N1 and N2 reference apps; then northwest-loadtest as a child process with a config
// file, which finds the gateways in the coordinator, starts the plan and writes the report.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import type { AttachConfigInput } from '../../loadgen/attach/attach-config.js';
import { MemoryStore } from '../../loadgen/reference-app/memory-store.js';
import { startReferenceApp, type ReferenceApp } from '../../loadgen/reference-app/reference-app.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { REPO_ROOT, requireService } from '../support/service-endpoints.js';
import { eventually } from '../support/eventually.js';
import { spawnUntilReady, stopChild, type ReadyChild } from '../support/spawn-until-ready.js';
import { controlPlaneCoordinatorConfig, memberCoordinatorConfig, removeChroot } from '../support/zk-identities.js';

const TOKEN = 'attach-test-token';
const KEYS = 60;
/** Two apps, one per test: a migrated app is done, and a second run needs one that is not. */
const APPS = ['shop', 'cart'] as const;
type App = (typeof APPS)[number];
const hostOf = (app: App): string => `${app}.test`;

interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** northwest-loadtest from the sources, as `npm run loadtest` runs it. */
const LOADTEST = ['--import', 'tsx', 'loadgen/loadtest-cli.ts'];
const childEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...process.env, NODE_OPTIONS: '', ...env });

/** northwest-loadtest from the sources, as `npm run loadtest` runs it. */
function loadtest(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...LOADTEST, ...args], { cwd: REPO_ROOT, timeout: 90_000, env: childEnv(env) }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The same, with its stderr readable while it runs. */
function startLoadtest(args: readonly string[], env: NodeJS.ProcessEnv): { stderr: () => string; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [...LOADTEST, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { stderr: () => stderr, exited };
}

interface Report {
  title: string;
  startedAt: string;
  marks: Array<{ t: number; label: string }>;
  switchover: {
    failedTotal: number;
    firstN2: { servedBy: string; epoch: number | null } | null;
    lastN1: { servedBy: string; epoch: number | null } | null;
    flipMs: number | null;
    byOperation: Record<string, { total: number; n1: number; n2: number }>;
    byMode: Array<{ mode: string; total: number; failed: number; n1: number; n2: number; epochs: { min: number; max: number } | null }>;
    writeSafety: { ok: boolean };
  };
  lostWrites: { checked: number; lost: unknown[] };
}

/** The marks attach mode must have taken from the event log: one per phase start and per status change. */
function expectedMarks(history: readonly LogEvent[], startedAt: string): Array<{ t: number; label: string }> {
  const t0 = Date.parse(startedAt);
  return history
    .filter((e) => e.event === 'phase-started' || e.event === 'done')
    .map((e) => ({ t: Date.parse(e.at) - t0, label: e.event === 'done' ? 'done' : e.phase! }));
}

describe('attach mode (northwest-loadtest against a separately started fleet)', function () {
  this.timeout(120_000);
  const zk = requireService('zookeeper');
  const chroot = `/nw-attach-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'nw-attach-'));
  let n1: ReferenceApp;
  let n2: ReferenceApp;
  let n2Store: MemoryStore;
  let controlPlane: ReadyChild | undefined;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    // The app servers: in-process, so the test reads what N2 committed from its store.
    n1 = await startReferenceApp({ deployment: 'n1', admin: true });
    n2Store = new MemoryStore();
    n2 = await startReferenceApp({ deployment: 'n2', admin: true, store: n2Store });
    // The control plane first: it creates the tree the gateways join. Its process is `northwest
    // serve` plus the in-memory stand-in for the data sync (copy-n1-to-n2, the chaos campaign's).
    controlPlane = await spawnUntilReady(
      'loadgen/chaos/control-plane-main.ts',
      (file) => ['--config', file, '--n1', n1.url, '--n2', n2.url],
      {
        id: 'cp-attach',
        coordinator: controlPlaneCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000 }),
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
      },
      /admin:\s+(http:\/\/\S+)/,
      { env: { ...process.env, NORTHWEST_ADMIN_TOKEN: TOKEN } },
    );
    for (const name of ['gw-a', 'gw-b']) {
      gateways.push(
        await spawnGatewayProcess({
          name,
          listeners: [{ host: '127.0.0.1', port: 0 }],
          admin: { host: '127.0.0.1', port: 0 },
          log: { level: 'warn' },
          fleet: {
            coordinator: memberCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000 }),
            memberId: name,
            leaseMs: 3000,
          },
          apps: Object.fromEntries(
            APPS.map((app) => [
              app,
              {
                hosts: [hostOf(app)],
                n1: { servers: [{ url: n1.url }] },
                n2: { servers: [{ url: n2.url }], publicOrigin: `http://${app}-n2.test` },
              },
            ]),
          ),
        }),
      );
    }
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    if (controlPlane) await stopChild(controlPlane);
    await Promise.all([n1?.close(), n2?.close()]);
    await removeChroot(zk.connectString, chroot);
  });

  const attachConfig = (app: App, out: string, migration: AttachConfigInput['migration']): AttachConfigInput => ({
    app,
    target: {
      host: hostOf(app),
      fleet: { coordinator: memberCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000 }) },
    },
    api: {
      read: { method: 'GET', path: `/kv/${app}.{key}` },
      write: { method: 'PUT', path: `/kv/${app}.{key}`, body: '{value}', headers: { 'content-type': 'text/plain' } },
      readBack: { path: `/kv/${app}.{key}`, value: { json: '/value' }, n2Url: n2.url, n1Url: n1.url },
    },
    load: { connectionsPerGateway: 2, keys: KEYS, durationS: 3, tailS: 0.5 },
    controlPlane: { url: controlPlane!.ready },
    migration,
    out,
  });
  /** The plan both tests run (the copy hook copies keys under `<app>.`). */
  const planFor = (app: App): Record<string, unknown> => ({
    apps: [app],
    barrierTimeoutMs: 10_000,
    sync: { mode: 'mirror', hooks: ['copy-n1-to-n2'] },
  });
  const migrationLog = async (id: string): Promise<MigrationLog> =>
    (await (
      await request(`${controlPlane!.ready}/migrations/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).body.json()) as MigrationLog;

  /** What every attach report must show: the log's phases, nothing failed or lost, both sides served, N2 holds every key. */
  async function checkReport(app: App, out: string, log: MigrationLog): Promise<Report> {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    // Phases and their times are the control plane's, from the migration's event log.
    const fromLog = expectedMarks(log.history, report.startedAt);
    const labels = fromLog.map((m) => m.label);
    assert.deepEqual(
      ['prepare', 'sync', 'fence', 'proxy'].map((p) => labels.indexOf(p)),
      [0, 1, 2, 3],
      labels.join(' '),
    );
    assert.equal(labels.at(-1), 'done');
    assert.deepEqual(
      report.marks.filter((m) => m.label !== 'migrate command'),
      fromLog,
    );
    assert.equal(typeof report.switchover.flipMs, 'number', 'the proxy barrier from the log');

    assert.equal(report.switchover.failedTotal, 0);
    assert.ok(report.switchover.writeSafety.ok);
    // Served by both deployments, attributed from the gateways' response headers (deployment, epoch).
    const ops = Object.values(report.switchover.byOperation);
    assert.ok(
      ops.reduce((n, o) => n + o.n1, 0) > 0 && ops.reduce((n, o) => n + o.n2, 0) > 0,
      JSON.stringify(report.switchover.byOperation),
    );
    assert.equal(report.switchover.firstN2?.servedBy, 'n2');
    assert.equal(report.switchover.lastN1?.servedBy, 'n1');
    assert.ok(report.switchover.firstN2.epoch! > report.switchover.lastN1.epoch!, 'N2 answered at a later epoch than N1');
    // The gateways' modes: N1 answered under mirror (the sync), N2 under proxy and later, at higher epochs.
    const byMode = new Map(report.switchover.byMode.map((m) => [m.mode, m]));
    assert.ok((byMode.get('mirror')?.n1 ?? 0) > 0, JSON.stringify(report.switchover.byMode));
    assert.ok((byMode.get('proxy')?.n2 ?? 0) > 0, JSON.stringify(report.switchover.byMode));
    assert.equal(byMode.get('proxy')?.n1, 0, 'nothing answered by N1 under proxy');
    assert.ok(byMode.get('proxy')!.epochs!.min > byMode.get('mirror')!.epochs!.max);

    // Every key the run wrote was read back at N2's app server, and N2 committed every one of them.
    assert.equal(report.lostWrites.lost.length, 0, JSON.stringify(report.lostWrites.lost));
    assert.equal(report.lostWrites.checked, KEYS);
    const committed = new Map(await n2Store.entries(`${app}.`));
    assert.equal(committed.size, KEYS, 'N2 holds every key');
    for (const [key, value] of committed) assert.match(value, /^(init-|[0-9a-f]{6}g\d-)/, key);
    assert.match(readFileSync(join(out, 'chart.svg'), 'utf8'), /<svg[^>]*>/);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), new RegExp(`\\| lost writes \\| 0 of ${KEYS} keys \\|`));
    return report;
  }

  it('runs the plan against the fleet found in the coordinator: phases from the event log, 0 failed, 0 lost, both served', async () => {
    writeFileSync(join(dir, 'plan.yaml'), stringify(planFor('shop')));
    const file = join(dir, 'attach.yaml');
    const out = join(dir, 'report-plan');
    writeFileSync(file, stringify(attachConfig('shop', out, { plan: 'plan.yaml', startAfterS: 1 })));
    const r = await loadtest(['--config', file], { NORTHWEST_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /attached to 2 live gateways of ZooKeeper \S+ \/nw-attach-/);
    for (const g of gateways) assert.ok(r.stderr.includes(g.url), `${g.url} is loaded:\n${r.stderr}`);
    const id = /started migration (\S+)/.exec(r.stderr)?.[1];
    assert.ok(id, r.stderr);
    const report = await checkReport('shop', out, await migrationLog(id));
    assert.match(report.title, new RegExp(`migration ${id} done`));
    assert.ok(report.marks.some((m) => m.label === 'migrate command'));
  });

  it('with wait: true measures the migration an operator starts', async () => {
    const file = join(dir, 'attach-wait.yaml');
    const out = join(dir, 'report-wait');
    writeFileSync(file, stringify(attachConfig('cart', out, { wait: true, waitTimeoutS: 60 })));
    const run = startLoadtest(['--config', file], { NORTHWEST_ADMIN_TOKEN: TOKEN });
    await eventually(() => assert.match(run.stderr(), /waiting for a migration of cart/), {
      timeoutMs: 30_000,
      message: 'the load test waits for the migration',
    });
    // The operator's command (northwest migrate sends the same request).
    const res = await request(`${controlPlane!.ready}/migrations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(planFor('cart')),
    });
    assert.equal(res.statusCode, 201);
    const { id } = (await res.body.json()) as { id: string };
    const r = await run.exited;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`following migration ${id}`), r.stderr);
    const report = await checkReport('cart', out, await migrationLog(id));
    assert.ok(!report.marks.some((m) => m.label === 'migrate command'), 'nobody here sent the migrate command');
  });

  it('fails with NW_ATTACH_NO_GATEWAYS (exit 1) when no live gateway of the fleet serves the app', async () => {
    const file = join(dir, 'no-gateways.yaml');
    writeFileSync(file, stringify({ ...attachConfig('shop', join(dir, 'never'), { wait: true }), app: 'tea' }));
    const r = await loadtest(['--config', file], { NORTHWEST_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /northwest-loadtest: NW_ATTACH_NO_GATEWAYS: .*no live gateway serving tea under \/members of ZooKeeper/);
  });

  it('refuses a config with a bad field, naming the file and the field (exit 2), before it sends anything', async () => {
    const file = join(dir, 'bad.yaml');
    const cfg = attachConfig('shop', join(dir, 'never'), { plan: 'plan.yaml' });
    writeFileSync(file, stringify({ ...cfg, load: { ...cfg.load, readRatio: 1.5 } }));
    const r = await loadtest(['--config', file], { NORTHWEST_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`${file}: load.readRatio:`), r.stderr);
    assert.match(r.stderr, /NW_EXP_CONFIG_INVALID/);
  });
});
