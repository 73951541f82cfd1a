// The gateway process (gateway/cli.ts) with `workers`: 1 runs one process as before; 2 runs a primary
// and two worker processes, which SIGHUP reloads and SIGTERM drains, and which do not outlive a
// primary that was killed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { appOn, testConfig } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';

/** The worker processes (gateway/workers/worker-main) whose parent is `pid`, from /proc (tsx's esbuild service is a child too). */
function workerPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // comm (field 2) is in parentheses and may hold spaces: the fields after its ')' start with state, ppid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('worker-main')) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A GET on a connection of its own; the deployment that answered (x-served-by). */
async function servedBy(url: string): Promise<string> {
  const dispatcher = new Agent();
  try {
    const res = await request(`${url}/kv/k`, { headers: { host: 'shop.test' }, dispatcher });
    await res.body.dump();
    return String(res.headers['x-served-by']);
  } finally {
    await dispatcher.close();
  }
}

describe('gateway process with workers', function () {
  this.timeout(60_000);
  const ups: EchoUpstream[] = [];
  let gw: GatewayProcess | undefined;

  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  it('workers: 1 (the default) is one process, with no worker process', async () => {
    const a = await startEchoUpstream('a');
    ups.push(a);
    gw = await spawnGatewayProcess(testConfig({ shop: appOn('shop.test', [a.url]) }));
    assert.equal(await servedBy(gw.url), 'a');
    assert.match(gw.output(), /workers:\s+1 \(one process\)/);
    assert.deepEqual(workerPids(gw.pid), []);
  });

  it('workers: 2: SIGHUP reloads every worker, SIGTERM drains them and the process exits 0 with none left', async () => {
    const [a, b] = [await startEchoUpstream('a'), await startEchoUpstream('b')];
    ups.push(a, b);
    const config = testConfig({ shop: appOn('shop.test', [a.url]) }, { workers: 2 });
    gw = await spawnGatewayProcess(config);
    const workers = workerPids(gw.pid);
    assert.equal(workers.length, 2, gw.output());
    assert.match(gw.output(), new RegExp(`workers:\\s+2 \\(pids ${workers.length === 2 ? '\\d+ \\d+' : ''}; primary ${gw.pid}\\)`));
    assert.deepEqual(new Set(await Promise.all(Array.from({ length: 6 }, () => servedBy(gw!.url)))), new Set(['a']));

    const file = /--config (\S+)/.exec(gw.child.spawnargs.join(' '))![1]!;
    writeFileSync(file, JSON.stringify(testConfig({ shop: appOn('shop.test', [b.url]) }, { workers: 2 })));
    gw.signal('SIGHUP');
    // Each on a connection of its own: round robin takes them to both workers.
    await eventually(async () => (await Promise.all(Array.from({ length: 6 }, () => servedBy(gw!.url)))).every((s) => s === 'b'), {
      timeoutMs: 10_000,
      message: 'every worker serves the reloaded upstream',
    });

    gw.signal('SIGTERM');
    assert.equal(await gw.exited, 0, gw.output());
    await eventually(() => workers.every((pid) => !alive(pid)), { timeoutMs: 5_000, message: 'no worker outlives the primary' });
  });

  it('workers: 2: a primary killed with SIGKILL leaves no worker behind', async () => {
    const a = await startEchoUpstream('a');
    ups.push(a);
    gw = await spawnGatewayProcess(testConfig({ shop: appOn('shop.test', [a.url]) }, { workers: 2 }));
    const workers = workerPids(gw.pid);
    assert.equal(workers.length, 2);
    // Idle keep-alive connections to both workers: a worker must not wait for its clients to leave.
    const clients = Array.from({ length: 4 }, () => new Agent({ keepAliveTimeout: 60_000 }));
    try {
      for (const dispatcher of clients) {
        const res = await request(`${gw.url}/kv/k`, { headers: { host: 'shop.test' }, dispatcher });
        await res.body.dump();
      }
      gw.signal('SIGKILL');
      await gw.exited;
      await eventually(() => workers.every((pid) => !alive(pid)), {
        timeoutMs: 15_000,
        message: 'the workers see their channel close, drain and exit',
      });
    } finally {
      await Promise.all(clients.map((c) => c.destroy()));
    }
  });
});
