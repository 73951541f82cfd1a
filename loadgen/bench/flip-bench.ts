import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import type { ZooKeeperCoordinator } from '../../platform/index.js';
import { benchCoordinator } from './bench-coordinator.js';
import { waitForFleet, writeAppStates, type DesiredAppState } from '../../fleet/index.js';
import { startEchoUpstream } from '../reference-app/echo-upstream.js';
import { FloorDriver, prepareFloor } from './flip-floor.js';
import { startSpreadFleet, type SpreadFleet } from './flip-processes.js';
import { LatencyRecorder, type LatencySummary } from './latency-histogram.js';

const USAGE = `usage: npm run bench:flip -- [--sizes 16,64,256] [--flips 30] [--handovers 20] [--writers 16] [--out results]

Measures, on the real ZooKeeper ensemble (scripts/services.sh up zookeeper is run first), with the
members of each size spread over child processes (at most 64 per process):
  floor               bare ZooKeeper clients doing a flip's round trips (set the state, every member reads
                      it and writes an ack, one reader sees every ack), none of our code: commit → last ack
  commit → last ack   time from the state write's commit to the last gateway's ack (barrier), per flip
  fence window        time from the fence state's commit to every gateway acking proxy (bounds any hold)
  held write latency  client-side latency of writes issued while the fence was up`;

interface SizeResult {
  readonly gateways: number;
  readonly processes: number;
  readonly flips: number;
  /** The floor: bare ZooKeeper clients, same round trips, same process spread. */
  readonly floorCommitToLastAckMs: LatencySummary;
  readonly commitToLastAckMs: LatencySummary;
  readonly writeToLastAckMs: LatencySummary;
  readonly handovers: number;
  readonly fenceWindowMs: LatencySummary;
  readonly heldWriteLatencyMs: LatencySummary;
  /** How long each held write was held at its gateway (fence until released), exact. */
  readonly writeHoldMs: LatencySummary;
  readonly writesDuringRun: number;
  readonly failedWrites: number;
}

const ms = (s: LatencySummary): LatencySummary => ({
  ...s,
  mean: s.mean / 1000,
  p50: s.p50 / 1000,
  p90: s.p90 / 1000,
  p99: s.p99 / 1000,
  p999: s.p999 / 1000,
  max: s.max / 1000,
});

async function flip(c: ZooKeeperCoordinator, state: DesiredAppState): Promise<{ t0: number; t1: number; t2: number }> {
  const t0 = performance.now();
  const targets = await writeAppStates(c, { shop: state });
  const t1 = performance.now();
  const report = await waitForFleet(c, targets, { timeoutMs: 30_000, pollMs: 5_000 });
  const t2 = performance.now();
  if (!report.ok) throw new Error(`barrier failed: ${JSON.stringify(report.missing.slice(0, 5))}`);
  return { t0, t1, t2 };
}

async function runSize(
  size: number,
  connectString: string,
  opts: { flips: number; handovers: number; writers: number },
): Promise<SizeResult> {
  const chroot = `/nw-bench-flip-${randomBytes(3).toString('hex')}`;
  const coordinator = benchCoordinator(connectString, chroot);
  await coordinator.provision();
  const c = coordinator.controlPlane();
  await c.connect();
  // The floor's bare clients have no credentials: they run in a chroot of their own, with open ACLs.
  const floor = await measureFloor(size, connectString, `${chroot}-floor`, opts.flips);
  const holdTimes = new LatencyRecorder();
  const n1 = await startEchoUpstream('n1');
  const n2 = await startEchoUpstream('n2');
  const fleet: SpreadFleet = await startSpreadFleet({
    kind: 'gateway',
    size,
    coordinator: coordinator.memberConfig,
    upstreams: { n1: n1.url, n2: n2.url },
    onHold: (heldMs) => holdTimes.recordMs(heldMs),
  });
  try {
    const commit = new LatencyRecorder();
    const total = new LatencyRecorder();
    // warm-up flip
    await flip(c, { mode: 'serve' });
    for (let i = 0; i < opts.flips; i++) {
      const state: DesiredAppState =
        i % 2 === 0 ? { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false } : { mode: 'serve' };
      const t = await flip(c, state);
      commit.recordMs(t.t2 - t.t1);
      total.recordMs(t.t2 - t.t0);
    }
    // Handovers under write load: serve → fence → proxy → fence → serve.
    const fenceWindow = new LatencyRecorder();
    const held = new LatencyRecorder();
    const windows: Array<[number, number]> = [];
    let stop = false;
    let writes = 0;
    let failed = 0;
    const writers = Array.from({ length: opts.writers }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const url = fleet.urls[(w * 7 + i) % fleet.urls.length]!;
        const start = performance.now();
        const res = await request(`${url}/kv/w${w}-${i}`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v' });
        await res.body.dump();
        const end = performance.now();
        writes += 1;
        if (res.statusCode !== 200) failed += 1;
        if (windows.some(([a, b]) => start >= a && start <= b)) held.recordMs(end - start);
      }
    });
    for (let h = 0; h < opts.handovers; h++) {
      const fence = await flip(c, { mode: 'fence', readFrom: 'n1' });
      const window: [number, number] = [fence.t1, Infinity];
      windows.push(window);
      const proxy = await flip(c, { mode: 'proxy', mirrorWritesToN1: false });
      window[1] = proxy.t2;
      fenceWindow.recordMs(proxy.t2 - fence.t1);
      await flip(c, { mode: 'fence', readFrom: 'n1' });
      await flip(c, { mode: 'serve' });
    }
    stop = true;
    await Promise.all(writers);
    return {
      gateways: size,
      processes: fleet.processes,
      flips: opts.flips,
      floorCommitToLastAckMs: ms(floor.summary()),
      commitToLastAckMs: ms(commit.summary()),
      writeToLastAckMs: ms(total.summary()),
      handovers: opts.handovers,
      fenceWindowMs: ms(fenceWindow.summary()),
      heldWriteLatencyMs: ms(held.summary()),
      writeHoldMs: ms(holdTimes.summary()),
      writesDuringRun: writes,
      failedWrites: failed,
    };
  } finally {
    await fleet.close();
    await Promise.all([n1.close(), n2.close()]);
    await c.close();
  }
}

/** The floor at one size: bare clients spread like the gateways, a warm-up flip, then `flips` measured ones. */
async function measureFloor(size: number, connectString: string, chroot: string, flips: number): Promise<LatencyRecorder> {
  await prepareFloor(connectString, chroot);
  const members = await startSpreadFleet({ kind: 'floor', size, floor: { connectString, chroot } });
  const driver = await FloorDriver.connect(connectString, chroot, size);
  const recorder = new LatencyRecorder();
  try {
    await driver.flip();
    for (let i = 0; i < flips; i++) recorder.recordMs(await driver.flip());
  } finally {
    driver.close();
    await members.close();
  }
  return recorder;
}

const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');

function ratio(r: SizeResult): string {
  const x = r.commitToLastAckMs.p99 / r.floorCommitToLastAckMs.p99;
  return Number.isFinite(x) ? `${x.toFixed(2)} ${x <= 2 ? '✓' : '✗'}` : '—';
}

const pair = (s: LatencySummary): string => `${f(s.p50)} / ${f(s.p99)}`;

/** The table's columns: heading and cell. */
const COLUMNS: ReadonlyArray<readonly [string, (r: SizeResult) => string]> = [
  ['gateways (processes)', (r) => `${r.gateways} (${r.processes})`],
  ['flips', (r) => String(r.flips)],
  ['floor: commit → last ack p50 / p99 ms', (r) => pair(r.floorCommitToLastAckMs)],
  ['commit → last ack p50 / p99 ms', (r) => pair(r.commitToLastAckMs)],
  ['p99 / floor p99 (goal ≤ 2)', ratio],
  ['write → last ack p50 / p99 ms', (r) => pair(r.writeToLastAckMs)],
  ['handovers', (r) => String(r.handovers)],
  ['write hold p50 / p99 ms (goal p99 ≤ 100 for 16)', (r) => pair(r.writeHoldMs)],
  ['held writes', (r) => String(r.writeHoldMs.count)],
  ['fence window p50 / p99 ms', (r) => pair(r.fenceWindowMs)],
  ['client latency of writes sent during the fence p50 / p99 ms', (r) => pair(r.heldWriteLatencyMs)],
  ['writes / failed', (r) => `${r.writesDuringRun} / ${r.failedWrites}`],
];

function table(results: readonly SizeResult[]): string {
  const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    row(COLUMNS.map(([heading]) => heading)),
    row(COLUMNS.map(() => '---:')),
    ...results.map((r) => row(COLUMNS.map(([, cell]) => cell(r)))),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '16,64,256' },
      flips: { type: 'string', default: '30' },
      handovers: { type: 'string', default: '20' },
      writers: { type: 'string', default: '16' },
      out: { type: 'string', default: 'results' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sizes = values.sizes.split(',').map(Number);
  const opts = { flips: Number(values.flips), handovers: Number(values.handovers), writers: Number(values.writers) };
  if (sizes.some((s) => !Number.isInteger(s) || s < 1) || !(opts.flips >= 20) || !(opts.handovers >= 1) || !(opts.writers >= 1)) {
    throw new Error(`bench:flip: sizes must be positive integers and flips >= 20\n${USAGE}`);
  }
  execFileSync('bash', ['scripts/services.sh', 'up', 'zookeeper'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const endpoints = JSON.parse(readFileSync('.services/endpoints.json', 'utf8')) as { zookeeper: { connectString: string } };
  const results: SizeResult[] = [];
  for (const size of sizes) {
    process.stderr.write(`bench:flip: ${size} gateways…\n`);
    results.push(await runSize(size, endpoints.zookeeper.connectString, opts));
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(values.out, { recursive: true });
  const doc = {
    kind: 'bench-flip',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    params: { sizes, ...opts },
    results,
    paper: { dnsSwitchoverSeconds: 46.4 },
  };
  for (const name of [`bench-flip-${stamp}.json`, 'bench-flip-latest.json'])
    writeFileSync(join(values.out, name), `${JSON.stringify(doc, null, 2)}\n`);
  const when = doc.at.slice(0, 16).replace('T', ' ');
  const host = `${doc.machine.cpus} × ${doc.machine.cpu}, node ${process.version}, 3-server ZooKeeper on loopback`;
  const paper = "For comparison, the paper's DNS-driven switchover took 46.4 s.";
  const md = `### Fleet flip bench ${when} UTC (${host})\n\n${table(results)}\n\n${paper}\n`;
  writeFileSync(join(values.out, 'bench-flip-latest.md'), md);
  process.stdout.write(`${md}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:flip: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
