import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { type GatewayConfigInput, parseGatewayConfig } from '../../../gateway/index.js';
import type { GatewayAppState } from '../invariants/evidence.js';
import { type CampaignChild, spawnCampaignChild } from './child-process.js';
import { type CoordinatorSettings, coordinatorSection } from './campaign-coordinator.js';
import { freePort } from './free-port.js';
import type { ZkLinks } from './zk-links.js';

export interface GatewayFleetOptions {
  readonly slots: number;
  /** Worker processes per gateway (1: none, the gateway serves in its one process). */
  readonly workers: number;
  readonly coordinator: CoordinatorSettings;
  readonly links: ZkLinks;
  readonly n1Url: string;
  readonly n2Url: string;
  readonly leaseMs: number;
  /** Each process's output goes to `<logDir>/<member id>.log`. */
  readonly logDir: string;
}

interface Slot {
  readonly trafficPort: number;
  readonly adminPort: number;
  incarnation: number;
  child: CampaignChild | undefined;
  paused: boolean;
  /** The slot's operations, one after the other: two faults on one slot must not start two processes. */
  queue: Promise<void>;
}

/** The host an app is reached by through the gateways. */
export const appHost = (app: string): string => `${app}.test`;

/**
 * The gateways: one process each (gateway/cli.ts), each in a slot with fixed traffic and admin
 * ports (clients keep their list across restarts, as behind a load balancer) and its own links to
 * ZooKeeper through Toxiproxy. Every start is a new incarnation with a member id of its own
 * (`gw-<slot>.<n>`), so a restart never races the old session's ephemeral nodes.
 */
export class GatewayFleet {
  private apps: readonly string[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'nw-chaos-gw-'));

  private constructor(
    private readonly o: GatewayFleetOptions,
    private readonly slots: Slot[],
  ) {}

  static async create(o: GatewayFleetOptions): Promise<GatewayFleet> {
    const slots: Slot[] = [];
    for (let i = 0; i < o.slots; i++)
      slots.push({
        trafficPort: await freePort(),
        adminPort: await freePort(),
        incarnation: 0,
        child: undefined,
        paused: false,
        queue: Promise.resolve(),
      });
    return new GatewayFleet(o, slots);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Traffic URL of every slot, running or not. */
  urls(): string[] {
    return this.slots.map((s) => `http://127.0.0.1:${s.trafficPort}`);
  }

  memberId(slot: number): string {
    return `gw-${slot}.${this.slot(slot).incarnation}`;
  }

  running(slot: number): boolean {
    return this.slot(slot).child?.running() ?? false;
  }

  /** Member ids of the gateway processes that run (paused ones included: they still hold a session until it expires). */
  liveMembers(): string[] {
    return this.slots.flatMap((s, i) => (s.child?.running() ? [this.memberId(i)] : []));
  }

  /** Restarts every gateway (gracefully) with these apps; the next round of migrations uses them. */
  async useApps(apps: readonly string[]): Promise<void> {
    this.apps = apps;
    await Promise.all(this.slots.map((_, i) => this.stop(i)));
    await Promise.all(this.slots.map((_, i) => this.start(i)));
  }

  config(slot: number): GatewayConfigInput {
    const s = this.slot(slot);
    return {
      name: `gw-${slot}`,
      listeners: [{ host: '127.0.0.1', port: s.trafficPort }],
      admin: { host: '127.0.0.1', port: s.adminPort },
      // the campaign's clients are trusted like a load balancer: the gateway keeps their request
      // ids, so a commit log entry names the client request it came from
      trustedProxies: ['127.0.0.1'],
      // info: every state applied, with its epoch, for the traces of a violation
      log: { level: 'info' },
      ...(this.o.workers > 1 ? { workers: this.o.workers } : {}),
      fleet: {
        coordinator: coordinatorSection(this.o.coordinator, 'member', this.o.links.connectString(slot)),
        memberId: this.memberId(slot),
        leaseMs: this.o.leaseMs,
      },
      apps: Object.fromEntries(
        this.apps.map((app) => [
          app,
          {
            hosts: [appHost(app)],
            n1: { servers: [{ url: this.o.n1Url }] },
            n2: { servers: [{ url: this.o.n2Url }], publicOrigin: `http://${app}-n2.test` },
          },
        ]),
      ),
    };
  }

  /** Starts a new incarnation in the slot (a no-op if one runs) and waits until it has read the states and listens. */
  start(slot: number): Promise<void> {
    return this.serially(slot, () => this.startNow(slot));
  }

  private async startNow(slot: number): Promise<void> {
    const s = this.slot(slot);
    if (s.child?.running()) return;
    s.incarnation += 1;
    s.paused = false;
    const config = this.config(slot);
    parseGatewayConfig(config, `gateway slot ${slot}`);
    const file = join(this.dir, `gw-${slot}.${s.incarnation}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    s.child = await spawnCampaignChild({
      name: this.memberId(slot),
      script: 'gateway/cli.ts',
      args: ['--config', file],
      readyPatterns: [/traffic:\s+(http:\/\/\S+)/],
      logFile: join(this.o.logDir, `${this.memberId(slot)}.log`),
    });
  }

  /** SIGKILL; resolves once the process is gone. */
  kill(slot: number): Promise<void> {
    return this.serially(slot, async () => {
      const child = this.slot(slot).child;
      child?.signal('SIGKILL');
      await child?.exited;
    });
  }

  /** SIGSTOP, at once (a pause must land while the process is busy, not after whatever the slot does). */
  pause(slot: number): void {
    this.slot(slot).child?.signal('SIGSTOP');
    this.slot(slot).paused = true;
  }

  resume(slot: number): void {
    this.slot(slot).child?.signal('SIGCONT');
    this.slot(slot).paused = false;
  }

  stop(slot: number): Promise<void> {
    return this.serially(slot, async () => {
      const s = this.slot(slot);
      await s.child?.stop();
      s.paused = false;
    });
  }

  /** Restarts what is not running and resumes what is paused: the fleet as a migration starts. */
  async restore(): Promise<void> {
    for (let i = 0; i < this.slots.length; i++) {
      if (this.slot(i).paused) this.resume(i);
      if (!this.running(i)) await this.start(i);
    }
  }

  /** The app's state as each running gateway's admin /state reports it. */
  async states(app: string): Promise<GatewayAppState[]> {
    return Promise.all(
      this.slots.flatMap((s, i) =>
        s.child?.running()
          ? [
              (async (): Promise<GatewayAppState> => {
                const gateway = this.memberId(i);
                try {
                  const res = await request(`http://127.0.0.1:${s.adminPort}/state`, { headersTimeout: 5000, bodyTimeout: 5000 });
                  const body = (await res.body.json()) as { apps: Record<string, { epoch?: number; mode?: string }> };
                  const st = body.apps[app];
                  return { gateway, epoch: st?.epoch, mode: st?.mode };
                } catch (err) {
                  return { gateway, epoch: undefined, mode: undefined, error: (err as Error).message };
                }
              })(),
            ]
          : [],
      ),
    );
  }

  /** Output of a slot's current process (for traces when it misbehaves). */
  output(slot: number): string {
    return this.slot(slot).child?.output() ?? '';
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.slots.map((_, i) => this.stop(i)));
  }

  private serially(slot: number, op: () => Promise<void>): Promise<void> {
    const s = this.slot(slot);
    const next = s.queue.then(op);
    s.queue = next.catch(() => undefined);
    return next;
  }

  private slot(i: number): Slot {
    const s = this.slots[i];
    if (!s) throw new RangeError(`no gateway slot ${i}`);
    return s;
  }
}
