import type { FaultKind } from '../fault-kinds.js';
import type { ScheduledFault } from '../fault-schedule.js';
import type { LinkFault } from '../environment/zk-links.js';
import type { StoreService } from '../environment/shared-services.js';

/** The parts of the campaign's environment faults act on (narrow, so tests can pass fakes). */
export interface FaultTargets {
  readonly gateways: {
    kill(slot: number): Promise<void>;
    pause(slot: number): void;
    resume(slot: number): void;
    stop(slot: number): Promise<void>;
    start(slot: number): Promise<void>;
    memberId(slot: number): string;
  };
  readonly zkLinks: { inject(slot: number, fault: LinkFault): Promise<void>; heal(slot: number): Promise<void> };
  readonly controlPlanes: { leader(): Promise<string | undefined>; kill(id: string): Promise<boolean>; ensure(n: number): Promise<void> };
  readonly clients: {
    abortBurst(count: number, maxAfterMs: number): Promise<void>;
    slowBodyBurst(count: number, overMs: number): Promise<void>;
    webSocketBurst(count: number, holdMs: number): Promise<void>;
  };
  readonly apps: { setFault(side: 'n1' | 'n2', status: number | undefined): Promise<void> };
  readonly shared: {
    killZooKeeperLeader(): Promise<string>;
    restoreZooKeeper(): Promise<void>;
    kill(service: StoreService, side: 'n1' | 'n2'): Promise<string>;
    restore(service: StoreService): Promise<void>;
  };
  /** How many control planes the campaign keeps running. */
  readonly controlPlaneCount: number;
}

/** A fault that is in place; `heal` undoes it (or waits for a burst to finish). */
export interface InjectedFault {
  /** What exactly was hit, for the report (member id, server, pid). */
  readonly detail: string;
  heal(): Promise<void>;
}

type FaultAction = (t: FaultTargets, f: ScheduledFault) => Promise<InjectedFault>;

function slotOf(f: ScheduledFault): number {
  const m = /^gw-(\d+)$/.exec(f.target);
  if (!m) throw new RangeError(`${f.kind}: target ${f.target} is not a gateway slot`);
  return Number(m[1]);
}

function side(f: ScheduledFault): 'n1' | 'n2' {
  if (f.target !== 'n1' && f.target !== 'n2') throw new RangeError(`${f.kind}: target ${f.target} is not n1 or n2`);
  return f.target;
}

const linkFault =
  (fault: LinkFault): FaultAction =>
  async (t, f) => {
    const slot = slotOf(f);
    await t.zkLinks.inject(slot, fault);
    return { detail: t.gateways.memberId(slot), heal: () => t.zkLinks.heal(slot) };
  };

/** kill -9 the side's instance (gone once inject resolves); heal: `services.sh up`, and it serves again. */
const storeRestart =
  (service: StoreService): FaultAction =>
  async (t, f) => ({ detail: await t.shared.kill(service, side(f)), heal: () => t.shared.restore(service) });

/** Each kind of the catalogue as inject → heal. */
export const FAULT_ACTIONS: Readonly<Record<FaultKind, FaultAction>> = {
  'gateway-kill': async (t, f) => {
    const slot = slotOf(f);
    const detail = t.gateways.memberId(slot);
    await t.gateways.kill(slot);
    return { detail, heal: () => t.gateways.start(slot) };
  },
  'gateway-pause': async (t, f) => {
    const slot = slotOf(f);
    t.gateways.pause(slot);
    return { detail: t.gateways.memberId(slot), heal: async () => t.gateways.resume(slot) };
  },
  'gateway-restart': async (t, f) => {
    const slot = slotOf(f);
    const detail = t.gateways.memberId(slot);
    await t.gateways.stop(slot);
    return { detail, heal: () => t.gateways.start(slot) };
  },
  'gateway-zk-cut': linkFault('cut'),
  'gateway-zk-blackhole': linkFault('blackhole'),
  'controlplane-leader-kill': async (t) => {
    const leader = await t.controlPlanes.leader();
    const killed = leader !== undefined && (await t.controlPlanes.kill(leader));
    return { detail: killed ? leader : 'no leader to kill', heal: () => t.controlPlanes.ensure(t.controlPlaneCount) };
  },
  'client-abort-burst': async (t, f) => {
    const burst = t.clients.abortBurst(24, f.holdMs);
    return { detail: '24 writes', heal: () => burst };
  },
  'slow-body-burst': async (t, f) => {
    const burst = t.clients.slowBodyBurst(6, f.holdMs);
    return { detail: '6 writes', heal: () => burst };
  },
  'websocket-burst': async (t, f) => {
    const burst = t.clients.webSocketBurst(3, f.holdMs);
    return { detail: '3 sockets', heal: () => burst };
  },
  'n2-errors': async (t) => {
    await t.apps.setFault('n2', 503);
    return { detail: 'n2 answers 503', heal: () => t.apps.setFault('n2', undefined) };
  },
  'zk-leader-kill': async (t) => ({ detail: await t.shared.killZooKeeperLeader(), heal: () => t.shared.restoreZooKeeper() }),
  'cassandra-restart': storeRestart('cassandra'),
  'redis-restart': storeRestart('redis'),
};
