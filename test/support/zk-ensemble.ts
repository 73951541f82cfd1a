import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { REPO_ROOT, requireService, type ZooKeeperServerEndpoint } from './service-endpoints.js';

const run = promisify(execFile);

/** Sends a four-letter command to one ZooKeeper server and returns its reply ('' if unreachable). */
export function fourLetter(host: string, port: number, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, host, () => s.end(cmd));
    s.setTimeout(timeoutMs, () => s.destroy());
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', () => resolve(''));
  });
}

export async function serverMode(s: ZooKeeperServerEndpoint): Promise<'leader' | 'follower' | 'standalone' | 'down'> {
  const out = await fourLetter(s.host, s.port, 'srvr');
  const m = /Mode: (\w+)/.exec(out);
  return (m?.[1] as 'leader' | 'follower' | 'standalone' | undefined) ?? 'down';
}

export async function findLeader(): Promise<ZooKeeperServerEndpoint | undefined> {
  const zk = requireService('zookeeper');
  for (const s of zk.servers) if ((await serverMode(s)) === 'leader') return s;
  return undefined;
}

/** SIGKILLs one ZooKeeper server (by its pid file). */
export function killServer(s: ZooKeeperServerEndpoint): number {
  const pid = Number(readFileSync(s.pidFile, 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Brings every ensemble member back (the services script restarts dead ones) and waits for a quorum. */
export async function restoreEnsemble(): Promise<void> {
  await run('bash', ['scripts/services.sh', 'up', 'zookeeper'], { cwd: REPO_ROOT, timeout: 120_000 });
  const zk = requireService('zookeeper');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const modes = await Promise.all(zk.servers.map(serverMode));
    if (modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === zk.servers.length - 1) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('ZooKeeper ensemble did not recover a full quorum in 60 s');
}
