import { z } from 'zod';
import type { DataLayerAck, DataLayerBarrier } from '../migration/migration-hooks.js';
import type { MigrationLog } from '../migration/migration-log.js';

/**
 * What the `each-quorum` window proves, and when it may stand for the drain at the fence
 * (docs/architecture.md, "Replicate: no acknowledged write missing at N2").
 *
 * The window's digests cover every write made before its switch; from the switch on, a write is
 * acknowledged only once N2's datacenter holds it. Two things no digest can see are left to the
 * data layers, which report them with their acks: where "before the switch" ends (the last write
 * timestamp each handed out before it entered the mode: the exact cutoff), and a write at
 * EACH_QUORUM that failed (it may have reached N1's datacenter only, over a value N2's datacenter
 * never got, and a digest leaves such a cell out as written after the cutoff). At the fence the
 * data layers ack once more after every write through the fleet finished; the window stands only
 * if the fleet's members did not change since the switch (no data layer joined, left or came back:
 * one that did may have taken its failed writes with it), every data layer of the switch acks
 * again, in the mode since the switch, with no failed write and none still running. Anything else
 * sends the fence to the drain.
 */

/** Recorded with the window's note, read back at the fence (maybe by another leader). */
export interface WindowSwitch {
  /** The switch's epoch per app. */
  readonly epochs: Readonly<Record<string, number>>;
  /** The data layers that acked the switch. */
  readonly dataLayers: readonly { readonly member: string; readonly app: string }[];
  /** The member list's changes so far, read after the switch's barrier (DataLayerBarrier.membersChanges). */
  readonly membersChanges?: number;
}

/** The key of a note's data that carries the switch. */
export const WINDOW_SWITCH_KEY = 'eachQuorumSwitch';

const windowSwitchSchema = z.object({
  epochs: z.record(z.string(), z.number().int().min(0)),
  dataLayers: z.array(z.object({ member: z.string(), app: z.string() })),
  membersChanges: z.number().int().min(0).optional(),
});

export function windowSwitch(switched: Pick<DataLayerBarrier, 'epochs' | 'dataLayers' | 'membersChanges'>): WindowSwitch {
  return {
    epochs: { ...switched.epochs },
    dataLayers: switched.dataLayers.map((a) => ({ member: a.member, app: a.app })),
    ...(switched.membersChanges === undefined ? {} : { membersChanges: switched.membersChanges }),
  };
}

/** The switch of the newest window that held, from the log's notes; undefined if none (or unreadable). */
export function lastWindowSwitch(log: Pick<MigrationLog, 'history'>): WindowSwitch | undefined {
  for (let i = log.history.length - 1; i >= 0; i--) {
    const raw = log.history[i]?.data?.[WINDOW_SWITCH_KEY];
    if (raw === undefined) continue;
    const parsed = windowSwitchSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }
  return undefined;
}

/**
 * Rows written at or after the cutoff (µs) are the window's: the highest timestamp any data layer
 * handed out before it entered the mode, plus one, and never below `floorUs` (the control plane's
 * clock plus the plan's skew: it covers writers that left before the switch and so report nothing).
 */
export function windowCutoffUs(acks: readonly DataLayerAck[], floorUs: number): number {
  let cutoff = floorUs;
  for (const a of acks) if (a.datastore) cutoff = Math.max(cutoff, a.datastore.writesThroughUs + 1);
  return cutoff;
}

/** Why the window cannot stand for the drain at the fence (undefined: it can). */
export function windowGap(
  sw: WindowSwitch | undefined,
  confirmed: Pick<DataLayerBarrier, 'dataLayers' | 'membersChanges'>,
): string | undefined {
  if (!sw) return 'no record of the window';
  if (sw.dataLayers.length === 0) return 'no data layer acked the switch';
  if (sw.membersChanges === undefined || confirmed.membersChanges === undefined)
    return 'the coordinator does not say whether the members changed';
  if (confirmed.membersChanges !== sw.membersChanges) return 'members joined, left or came back since the switch';
  const key = (a: { member: string; app: string }): string => `${a.member}\u0000${a.app}`;
  const before = new Set(sw.dataLayers.map(key));
  const now = new Set(confirmed.dataLayers.map(key));
  for (const a of sw.dataLayers) if (!now.has(key(a))) return `data layer ${a.member} (${a.app}) did not ack again`;
  for (const a of confirmed.dataLayers) {
    const r = a.datastore;
    const who = `data layer ${a.member} (${a.app})`;
    if (!before.has(key(a))) return `${who} did not ack the switch`;
    // A member with no datastore layer for the app (cache only) writes no datastore through Northwest.
    if (!r && a.datastoreTargets === 0) continue;
    if (!r) return `${who} reports nothing on its writes`;
    if (r.mode !== 'each-quorum') return `${who} is in mode ${r.mode}`;
    const switched = Object.hasOwn(sw.epochs, a.app) ? sw.epochs[a.app] : undefined;
    if (switched === undefined) return `${who}: no switch recorded for ${a.app}`;
    if (r.sinceEpoch > switched) return `${who} entered each-quorum at epoch ${r.sinceEpoch}, after the switch (${switched})`;
    if (r.failures > 0) return `${who}: ${r.failures} write(s) at EACH_QUORUM failed`;
    if (r.inFlight > 0) return `${who}: ${r.inFlight} write(s) at EACH_QUORUM still running`;
  }
  return undefined;
}
