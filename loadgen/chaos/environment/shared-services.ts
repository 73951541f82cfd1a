import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type ServiceEndpoints, owningServicesScript, requireEndpoint } from './service-endpoints.js';

/** What killing and restarting a shared service takes; tests pass a fake. */
export interface ProcessControl {
  readPid(pidFile: string): number;
  kill(pid: number, signal: NodeJS.Signals): void;
  /** Runs a services script (`bash <script> up <service>`). */
  runScript(script: string, args: readonly string[]): Promise<void>;
  /** A ZooKeeper four-letter command; '' if the server does not answer. */
  fourLetter(host: string, port: number, cmd: string): Promise<string>;
  sleep(ms: number): Promise<void>;
}

const run = promisify(execFile);

export const realProcessControl: ProcessControl = {
  readPid: (pidFile) => Number(readFileSync(pidFile, 'utf8').trim()),
  kill: (pid, signal) => process.kill(pid, signal),
  runScript: async (script, args) => {
    await run('bash', [script, ...args], { timeout: 300_000 });
  },
  fourLetter: (host, port, cmd) =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const s = connect(port, host, () => s.end(cmd));
      s.setTimeout(2000, () => s.destroy());
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      s.on('error', () => resolve(''));
    }),
  sleep: (ms) => sleep(ms),
};

export type StoreService = 'cassandra' | 'redis';

/**
 * Faults on the services scripts/services.sh runs (shared by everyone on the host): kill -9 by
 * pid file, and bring back through the services script of the checkout that started them. The
 * campaign selects these kinds only when asked (--faults).
 */
export class SharedServices {
  constructor(
    private readonly endpoints: ServiceEndpoints,
    private readonly ctl: ProcessControl = realProcessControl,
  ) {}

  /** Kills the ZooKeeper server that is leader now; returns which one. */
  async killZooKeeperLeader(): Promise<string> {
    const zk = requireEndpoint(this.endpoints, 'zookeeper');
    for (const s of zk.servers) {
      if (/Mode: leader/.test(await this.ctl.fourLetter(s.host, s.port, 'srvr'))) {
        const pid = this.ctl.readPid(s.pidFile);
        this.ctl.kill(pid, 'SIGKILL');
        return `zk${s.id} (${s.host}:${s.port}, pid ${pid})`;
      }
    }
    throw new Error('no ZooKeeper server says it is leader');
  }

  /** Restarts dead servers and waits until one leads and every other follows. */
  async restoreZooKeeper(timeoutMs = 90_000): Promise<void> {
    const zk = requireEndpoint(this.endpoints, 'zookeeper');
    await this.ctl.runScript(owningServicesScript(zk.servers[0]!.pidFile), ['up', 'zookeeper']);
    for (let waited = 0; waited < timeoutMs; waited += 250) {
      const modes = await Promise.all(
        zk.servers.map(async (s) => /Mode: (\w+)/.exec(await this.ctl.fourLetter(s.host, s.port, 'srvr'))?.[1]),
      );
      if (modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === zk.servers.length - 1)
        return;
      await this.ctl.sleep(250);
    }
    throw new Error(`ZooKeeper has no full quorum ${timeoutMs} ms after the restart`);
  }

  /** kill -9 one side's Cassandra node or Redis instance; returns which. */
  kill(service: StoreService, side: 'n1' | 'n2'): string {
    const e = requireEndpoint(this.endpoints, service)[side];
    const pid = this.ctl.readPid(e.pidFile);
    this.ctl.kill(pid, 'SIGKILL');
    return `${service} ${side} (pid ${pid})`;
  }

  /** Starts it again through the owning services script (which waits until it serves). */
  async restore(service: StoreService): Promise<void> {
    const e = requireEndpoint(this.endpoints, service);
    await this.ctl.runScript(owningServicesScript(e.n1.pidFile), ['up', service]);
  }
}
