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
  /** Whether the process runs (one that exited but is not reaped yet, a zombie, does not). */
  alive(pid: number): boolean;
  /** A ZooKeeper four-letter command; '' if the server does not answer. */
  fourLetter(host: string, port: number, cmd: string): Promise<string>;
  /** Whether the service serves requests at host:port (Redis answers PING, Cassandra a CQL OPTIONS). */
  serves(service: StoreService, host: string, port: number): Promise<boolean>;
  sleep(ms: number): Promise<void>;
}

/** Sends `request` and resolves with what came back before the server closed or 2 s passed ('' on an error). */
function exchange(host: string, port: number, request: string | Buffer, enough: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, host, () => s.write(request));
    const done = (): void => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    s.setTimeout(2000, done);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (enough(Buffer.concat(chunks))) done();
    });
    s.on('close', done);
    s.on('error', done);
  });
}

/** A CQL native protocol v4 OPTIONS request; a live node answers SUPPORTED (opcode 6), as services.sh checks. */
const CQL_OPTIONS = Buffer.from([0x04, 0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00]);

const run = promisify(execFile);

export const realProcessControl: ProcessControl = {
  readPid: (pidFile) => Number(readFileSync(pidFile, 'utf8').trim()),
  kill: (pid, signal) => process.kill(pid, signal),
  alive: (pid) => {
    try {
      process.kill(pid, 0);
      return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  },
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
  serves: async (service, host, port) => {
    if (service === 'redis') return (await exchange(host, port, 'PING\r\n', (b) => b.includes('\r\n'))).toString().startsWith('+PONG');
    const reply = await exchange(host, port, CQL_OPTIONS, (b) => b.length >= 5);
    return reply.length >= 5 && reply[0] === 0x84 && reply[4] === 0x06;
  },
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

  /**
   * kill -9 one side's Cassandra node or Redis instance, and waits until the process is gone (as
   * test/support/cassandra-restart.ts does: a services script run while it is still there would
   * find it running); returns which.
   */
  async kill(service: StoreService, side: 'n1' | 'n2', timeoutMs = 30_000): Promise<string> {
    const e = requireEndpoint(this.endpoints, service)[side];
    const pid = this.ctl.readPid(e.pidFile);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`bad pid ${pid} in ${e.pidFile}`);
    this.ctl.kill(pid, 'SIGKILL');
    for (let waited = 0; this.ctl.alive(pid); waited += 50) {
      if (waited >= timeoutMs) throw new Error(`${service} ${side} (pid ${pid}) still there ${timeoutMs} ms after SIGKILL`);
      await this.ctl.sleep(50);
    }
    return `${service} ${side} (pid ${pid})`;
  }

  /**
   * Starts what is not running again through the owning services script (`up <service>`, which
   * waits until it is ready), then waits until both instances serve requests from here.
   */
  async restore(service: StoreService, timeoutMs = 60_000): Promise<void> {
    const e = requireEndpoint(this.endpoints, service);
    await this.ctl.runScript(owningServicesScript(e.n1.pidFile), ['up', service]);
    const at = (side: 'n1' | 'n2'): [string, number] => {
      if (service === 'cassandra') {
        const n = requireEndpoint(this.endpoints, 'cassandra')[side];
        return [n.contactPoint, n.port];
      }
      const r = requireEndpoint(this.endpoints, 'redis')[side];
      return [r.host, r.port];
    };
    for (let waited = 0; ; waited += 250) {
      const serving = await Promise.all((['n1', 'n2'] as const).map((side) => this.ctl.serves(service, ...at(side))));
      if (serving.every(Boolean)) return;
      if (waited >= timeoutMs) throw new Error(`${service} does not serve ${timeoutMs} ms after \`services.sh up ${service}\``);
      await this.ctl.sleep(250);
    }
  }
}
