import { z } from 'zod';
import type { DataLayerAck } from '../migration/migration-hooks.js';
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
 * if every data layer that acked its switch still acks, in the mode since the switch, with no
 * failed write. Anything else sends the fence to the drain.
 */

/** Recorded with the window's note, read back at the fence (maybe by another leader). */
export interface WindowSwitch {
  /** The switch's epoch per app. */
  readonly epochs: Readonly<Record<string, number>>;
  /** The data layers that acked the switch. */
  readonly dataLayers: readonly { readonly member: string; readonly app: string }[];
}

/** The key of a note's data that carries the switch. */
export const WINDOW_SWITCH_KEY = 'eachQuorumSwitch';

const windowSwitchSchema = z.object({
  epochs: z.record(z.string(), z.number().int().min(0)),
  dataLayers: z.array(z.object({ member: z.string(), app: z.string() })),
});

export function windowSwitch(epochs: Readonly<Record<string, number>>, acks: readonly DataLayerAck[]): WindowSwitch {
  return { epochs: { ...epochs }, dataLayers: acks.map((a) => ({ member: a.member, app: a.app })) };
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
export function windowGap(sw: WindowSwitch | undefined, confirmed: readonly DataLayerAck[]): string | undefined {
  if (!sw) return 'no record of the window';
  if (sw.dataLayers.length === 0) return 'no data layer acked the switch';
  const now = new Map(confirmed.map((a) => [`${a.member}\u0000${a.app}`, a]));
  for (const { member, app } of sw.dataLayers) {
    if (!now.has(`${member}\u0000${app}`)) return `data layer ${member} (${app}) left since the switch`;
  }
  for (const a of confirmed) {
    const r = a.datastore;
    const who = `data layer ${a.member} (${a.app})`;
    if (!r) return `${who} reports nothing on its writes`;
    if (r.mode !== 'each-quorum') return `${who} is in mode ${r.mode}`;
    const switched = sw.epochs[a.app];
    if (switched === undefined) return `${who}: no switch recorded for ${a.app}`;
    if (r.sinceEpoch > switched) return `${who} entered each-quorum at epoch ${r.sinceEpoch}, after the switch (${switched})`;
    if (r.failures > 0) return `${who}: ${r.failures} write(s) at EACH_QUORUM failed`;
  }
  return undefined;
}
