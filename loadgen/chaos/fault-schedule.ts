import { mulberry32 } from '../load/index.js';
import { FAULT_KINDS, type FaultKind } from './fault-kinds.js';

/**
 * Phases a fault can be triggered in, and how often each is drawn: the handover itself most.
 * `before`: injected just before the migration is submitted (a gateway already cut off or paused
 * when the migration starts, while its app's state carries no migration tag yet).
 */
export const TRIGGER_PHASES = { before: 2, prepare: 1, sync: 2, fence: 4, proxy: 3, done: 1 } as const;
export type TriggerPhase = keyof typeof TRIGGER_PHASES;

/** Longest wait after the trigger phase started before the fault is injected. */
export const MAX_TRIGGER_DELAY_MS = 400;

/** One fault of one migration, as drawn: reproducible from the seed. */
export interface ScheduledFault {
  readonly kind: FaultKind;
  /** gw-<i>, cp-leader, zk-leader, n2, clients, n1/n2 (Cassandra, Redis). */
  readonly target: string;
  /** Injected `delayMs` after the migration log says this phase started. */
  readonly phase: TriggerPhase;
  readonly delayMs: number;
  /** How long until it is healed. */
  readonly holdMs: number;
  /** A seed of its own for anything random inside the fault (which keys a burst writes, ...). */
  readonly seed: number;
}

export interface MigrationSchedule {
  readonly index: number;
  readonly faults: readonly ScheduledFault[];
}

export interface ScheduleOptions {
  readonly seed: number;
  /** Index of the first migration (default 0). */
  readonly first?: number;
  readonly migrations: number;
  readonly faultsPerMigration: number;
  readonly kinds: readonly FaultKind[];
  readonly gateways: number;
}

/**
 * A 32-bit seed for one stream (`faults`, `load`, ...) of one migration, so that migration i draws
 * the same faults whatever the number of migrations: a short run is a prefix of a long one.
 */
export function streamSeed(seed: number, migration: number, stream: string): number {
  let h = (seed ^ Math.imul(migration + 1, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.min(items.length - 1, Math.floor(rng() * items.length))]!;
}

function weighted<K extends string>(rng: () => number, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  let r = rng() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries.at(-1)![0];
}

function targetOf(kind: FaultKind, rng: () => number, gateways: number): string {
  switch (FAULT_KINDS[kind].target) {
    case 'gateway':
      return `gw-${Math.floor(rng() * gateways)}`;
    case 'control-plane':
      return 'cp-leader';
    case 'zookeeper':
      return 'zk-leader';
    case 'clients':
      return 'clients';
    case 'n2':
      return 'n2';
    case 'cassandra':
    case 'redis':
      return pick(rng, ['n1', 'n2']);
  }
}

/** The faults of every migration of a campaign, drawn from the seed. */
export function scheduleFaults(o: ScheduleOptions): MigrationSchedule[] {
  if (o.kinds.length === 0 && o.faultsPerMigration > 0) throw new RangeError('no fault kinds to draw from');
  return Array.from({ length: o.migrations }, (_, k) => {
    const index = (o.first ?? 0) + k;
    const rng = mulberry32(streamSeed(o.seed, index, 'faults'));
    const faults = Array.from({ length: o.faultsPerMigration }, (): ScheduledFault => {
      const kind = pick(rng, o.kinds);
      const [lo, hi] = FAULT_KINDS[kind].holdMs;
      return {
        kind,
        target: targetOf(kind, rng, o.gateways),
        phase: weighted(rng, TRIGGER_PHASES),
        // skewed towards 0: a fence lasts milliseconds, and most faults should land inside their phase
        delayMs: Math.floor(rng() ** 2 * MAX_TRIGGER_DELAY_MS),
        holdMs: Math.round(lo + rng() * (hi - lo)),
        seed: Math.floor(rng() * 2 ** 32),
      };
    });
    return { index, faults };
  });
}
