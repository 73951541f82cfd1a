/**
 * `npm run bench:workers` (after `npm run build`): what the primary of a multi-worker gateway costs.
 * Runs the built gateway (dist/) with 1 and with 2 workers in front of an echo upstream, 8 clients,
 * once over keep-alive connections and once with a new connection per request (the primary
 * accepts each connection and passes it to a worker), and prints requests/s and the CPU time per
 * request of the primary and of the workers (from /proc, Linux). The load generator runs on the
 * same machine: on a small or busy host the figures are indicative only (docs/benchmarks.md).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startEchoUpstream } from '../reference-app/echo-upstream.js';

const CLIENTS = 8;
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function workerPids(primary: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === primary && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker-main');
      } catch {
        return false;
      }
    });
}

interface Row {
  readonly workers: number;
  readonly connections: 'keep-alive' | 'one per request';
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly primaryCpuUsPerRequest: number;
  readonly workersCpuUsPerRequest: number;
}

async function measure(workers: number, churn: boolean, requests: number): Promise<Row> {
  const upstream = await startEchoUpstream('a');
  const file = join(mkdtempSync(join(tmpdir(), 'nw-bench-workers-')), 'gateway.json');
  const app = { hosts: ['shop.test'], n1: { servers: [{ url: upstream.url }] }, n2: { servers: [{ url: upstream.url }] } };
  writeFileSync(
    file,
    JSON.stringify({ listeners: [{ host: '127.0.0.1', port: 0 }], log: { level: 'warn' }, workers, apps: { shop: app } }),
  );
  const child = spawn(process.execPath, ['dist/gateway/cli.js', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', () => reject(new Error(`the gateway exited:\n${out}`)));
    const timer = setInterval(() => {
      const m = /traffic:\s+(\S+)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 50);
  });
  const pids = workers > 1 ? workerPids(child.pid!) : [];
  const keepAlive = new Agent({ connections: CLIENTS });
  const once = async (): Promise<void> => {
    const dispatcher = churn ? new Agent({ pipelining: 0 }) : keepAlive;
    const res = await request(`${url}/kv/x`, { headers: { host: 'shop.test' }, dispatcher });
    await res.body.dump();
    if (churn) await dispatcher.close();
  };
  for (let i = 0; i < 200; i++) await once(); // warm-up
  const primary0 = cpuMs(child.pid!);
  const workers0 = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const t0 = performance.now();
  let left = requests;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (left-- > 0) await once();
    }),
  );
  const elapsedMs = performance.now() - t0;
  const primaryUs = (cpuMs(child.pid!) - primary0) * 1000;
  const workersUs = (pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - workers0) * 1000;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await keepAlive.close();
  await upstream.close();
  return {
    workers,
    connections: churn ? 'one per request' : 'keep-alive',
    requests,
    requestsPerSecond: Math.round((requests / elapsedMs) * 1000),
    // With one process, the gateway is its own "primary": all of its CPU is in that column.
    primaryCpuUsPerRequest: Math.round(primaryUs / requests),
    workersCpuUsPerRequest: Math.round(workersUs / requests),
  };
}

const rows: Row[] = [];
for (const churn of [false, true]) for (const workers of [1, 2]) rows.push(await measure(workers, churn, churn ? 3000 : 10_000));
process.stdout.write(
  '| workers | connections | requests/s | primary CPU µs/req | workers CPU µs/req |\n| ---: | --- | ---: | ---: | ---: |\n',
);
for (const r of rows)
  process.stdout.write(
    `| ${r.workers} | ${r.connections} | ${r.requestsPerSecond} | ${r.primaryCpuUsPerRequest} | ${r.workersCpuUsPerRequest} |\n`,
  );
