// The two-datacenter Cassandra cluster of scripts/cassandra-dc.sh (dc1 on 127.0.0.4, dc2 on
// 127.0.0.5, the link between them through Toxiproxy): started for a suite, stopped after it. Its
// own nodes, never the shared services'.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import cassandra from 'cassandra-driver';
import { eventually } from './eventually.js';
import { REPO_ROOT } from './service-endpoints.js';

const run = promisify(execFile);
export const CASSANDRA_DC_SCRIPT = path.join(REPO_ROOT, 'scripts', 'cassandra-dc.sh');

export type DataCenter = 'dc1' | 'dc2';

export interface DataCenterNode {
  readonly contactPoint: string;
  readonly port: number;
  readonly localDataCenter: DataCenter;
  readonly jmxPort: number;
  readonly pidFile: string;
}

export interface TwoDataCenters {
  readonly dc1: DataCenterNode;
  readonly dc2: DataCenterNode;
  /** nodetool through the script (the shared install has no nodetool binary); `-h HOST -p PORT ARGS` follow. */
  readonly nodetoolCommand: readonly string[];
  /** A driver client local to one datacenter (DC-aware load balancing: it uses that datacenter's nodes only). */
  client(dc: DataCenter): cassandra.Client;
  pid(dc: DataCenter): number;
  /** SIGKILL (a crash), then wait until the process is gone. */
  kill(dc: DataCenter): Promise<void>;
  /** Start a stopped node and wait until it answers CQL. */
  start(dc: DataCenter): Promise<void>;
  /** SIGSTOP / SIGCONT: a node that stops answering without closing a connection. */
  pause(dc: DataCenter): void;
  resume(dc: DataCenter): void;
  /** The Toxiproxy link: its API and proxies (for a script that cuts it itself). */
  readonly link: { readonly apiUrl: string; readonly proxies: readonly string[] };
  /** The datacenter link (both nodes' storage traffic) through Toxiproxy: cut it (connections reset, new ones refused). */
  cutLink(): Promise<void>;
  /** The link back. */
  healLink(): Promise<void>;
  /** A bandwidth limit on the link (KB/s each way; undefined: none), for a rebuild that takes a while. */
  slowLink(kbPerSecond: number | undefined): Promise<void>;
  /** Stops both nodes (data kept: the next start is quicker). */
  stop(): Promise<void>;
}

/** The suites' cluster: its datacenter link through Toxiproxy, so a test can cut it (scripts/cassandra-dc.sh). */
const LINK_ENV = { ...process.env, NW_CASSANDRA_DC_LINK: 'toxiproxy' };

async function script(...args: string[]): Promise<void> {
  await run('bash', [CASSANDRA_DC_SCRIPT, ...args], { cwd: REPO_ROOT, timeout: 300_000, env: LINK_ENV });
}

interface LinkInfo {
  readonly mode: 'direct' | 'toxiproxy';
  readonly apiUrl?: string;
  readonly proxies?: readonly string[];
}

async function setLink(link: LinkInfo, enabled: boolean): Promise<void> {
  if (link.mode !== 'toxiproxy' || !link.apiUrl || !link.proxies)
    throw new Error('the two-datacenter cluster runs without its Toxiproxy link');
  for (const name of link.proxies) {
    const res = await fetch(`${link.apiUrl}/proxies/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enabled }),
    });
    if (!res.ok) throw new Error(`Toxiproxy ${name}: ${res.status} ${await res.text()}`);
  }
}

const SLOW_LINK = 'nw-test-slow-link';

/** A bandwidth limit (KB/s, each direction) on the link, or none (undefined). Idempotent. */
async function limitLink(link: LinkInfo, kbPerSecond: number | undefined): Promise<void> {
  if (link.mode !== 'toxiproxy' || !link.apiUrl || !link.proxies)
    throw new Error('the two-datacenter cluster runs without its Toxiproxy link');
  for (const name of link.proxies) {
    for (const stream of ['upstream', 'downstream'] as const) {
      const toxic = `${SLOW_LINK}-${stream}`;
      await fetch(`${link.apiUrl}/proxies/${name}/toxics/${toxic}`, { method: 'DELETE' });
      if (kbPerSecond === undefined) continue;
      const res = await fetch(`${link.apiUrl}/proxies/${name}/toxics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: toxic, type: 'bandwidth', stream, attributes: { rate: kbPerSecond } }),
      });
      if (!res.ok) throw new Error(`Toxiproxy ${name} ${toxic}: ${res.status} ${await res.text()}`);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function startTwoDataCenters(): Promise<TwoDataCenters> {
  try {
    await script('up');
  } catch (err) {
    // Data made with the direct link (an earlier run, `npm run experiment` without the link): this
    // is the suites' own cluster, so start it afresh with the link.
    if (!/run clean first/.test(String((err as { stderr?: unknown }).stderr ?? ''))) throw err;
    await script('clean');
    await script('up');
  }
  const eps = JSON.parse(readFileSync(path.join(REPO_ROOT, '.services', 'cassandra-dc', 'endpoints.json'), 'utf8')) as Record<
    DataCenter,
    DataCenterNode
  > & { link: LinkInfo };
  // A link a test cut or slowed and did not heal (a crashed run) is healed first.
  await setLink(eps.link, true);
  await limitLink(eps.link, undefined);
  const pid = (dc: DataCenter): number => Number(readFileSync(eps[dc].pidFile, 'utf8').trim());
  return {
    dc1: eps.dc1,
    dc2: eps.dc2,
    nodetoolCommand: ['bash', CASSANDRA_DC_SCRIPT, 'nodetool'],
    client: (dc) =>
      new cassandra.Client({
        contactPoints: [eps[dc].contactPoint],
        localDataCenter: dc,
        protocolOptions: { port: eps[dc].port },
        socketOptions: { connectTimeout: 5000, readTimeout: 12_000 },
        policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(500) },
      }),
    pid,
    async kill(dc) {
      const p = pid(dc);
      process.kill(p, 'SIGKILL');
      await eventually(() => !alive(p), { timeoutMs: 30_000, intervalMs: 100, message: `${dc} (pid ${p}) gone after SIGKILL` });
    },
    start: (dc) => script('up', dc),
    pause: (dc) => process.kill(pid(dc), 'SIGSTOP'),
    resume: (dc) => process.kill(pid(dc), 'SIGCONT'),
    link: { apiUrl: eps.link.apiUrl ?? '', proxies: eps.link.proxies ?? [] },
    cutLink: () => setLink(eps.link, false),
    healLink: () => setLink(eps.link, true),
    slowLink: (kbPerSecond) => limitLink(eps.link, kbPerSecond),
    stop: () => script('down'),
  };
}
