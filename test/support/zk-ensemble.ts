import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { eventually } from './eventually.js';
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

/** True when one server leads and every other follows. */
async function fullQuorum(): Promise<boolean> {
  const zk = requireService('zookeeper');
  const modes = await Promise.all(zk.servers.map(serverMode));
  return modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === zk.servers.length - 1;
}

/**
 * Brings every ensemble member back (the services script restarts dead ones) and waits for a quorum.
 * With every member up already, the script is not run at all: a checkout that did not start the
 * ensemble (another worktree sharing these services) must not try to start one of its own.
 */
export async function restoreEnsemble(): Promise<void> {
  if (await fullQuorum()) return;
  await run('bash', ['scripts/services.sh', 'up', 'zookeeper'], { cwd: REPO_ROOT, timeout: 120_000 });
  await eventually(fullQuorum, { timeoutMs: 60_000, intervalMs: 200, message: 'the ZooKeeper ensemble is back to a full quorum' });
}
