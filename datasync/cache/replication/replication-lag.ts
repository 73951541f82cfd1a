/** One reading of how far a replica is behind its master. */
export interface LagReading {
  /** Bytes of the master's stream the replica has not processed; undefined if unknown (not synced, not readable). */
  readonly bytes: number | undefined;
  /**
   * How long ago the master was where the replica is now (0 when caught up), to the sampling
   * interval; when `msKnown` is false only a lower bound (no sample is that old yet).
   */
  readonly ms: number;
  readonly msKnown: boolean;
  readonly masterOffset: number;
  readonly replicaOffset: number | undefined;
}

/** The plan's lag limit: either bound may be absent, and a reading with unknown bytes is never within it. */
export interface LagLimit {
  readonly maxBytes?: number | undefined;
  readonly maxMs?: number | undefined;
}

export function withinLimit(r: LagReading, limit: LagLimit): boolean {
  if (r.bytes === undefined) return false;
  return (limit.maxBytes === undefined || r.bytes <= limit.maxBytes) && (limit.maxMs === undefined || (r.msKnown && r.ms <= limit.maxMs));
}

/**
 * Lag in bytes is the difference of two offsets; Redis has no lag in time. The meter samples the
 * master's offset at each reading, so when the replica has processed offset R, the newest sample
 * taken at offset <= R says the replica holds everything the master had at that moment: its lag
 * is at most the age of that sample. Before any such sample exists the lag in time is unknown,
 * at least the age of the oldest sample (so a stalled replica is over any limit in time).
 * The resolution is the interval between readings.
 */
export class ReplicationLagMeter {
  private samples: Array<{ readonly at: number; readonly offset: number }> = [];
  private history = '';

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * `replicaOffset` counts in `replicaHistory`; a replica on another history than the master (a
   * full sync under way) has an unknown lag.
   */
  observe(masterHistory: string, masterOffset: number, replicaHistory: string | undefined, replicaOffset: number | undefined): LagReading {
    const at = this.now();
    if (masterHistory !== this.history) {
      this.samples = [];
      this.history = masterHistory;
    }
    this.samples.push({ at, offset: masterOffset });
    const oldest = this.samples[0]!;
    if (replicaOffset === undefined || replicaHistory !== masterHistory) {
      return { bytes: undefined, ms: at - oldest.at, msKnown: false, masterOffset, replicaOffset };
    }
    const bytes = Math.max(0, masterOffset - replicaOffset);
    if (bytes === 0) {
      this.samples = [{ at, offset: masterOffset }];
      return { bytes, ms: 0, msKnown: true, masterOffset, replicaOffset };
    }
    let newestReached = -1;
    for (let i = 0; i < this.samples.length; i++) if (this.samples[i]!.offset <= replicaOffset) newestReached = i;
    if (newestReached < 0) return { bytes, ms: at - oldest.at, msKnown: false, masterOffset, replicaOffset };
    // Older samples can no longer bound anything: the replica's offset only grows on this history.
    this.samples = this.samples.slice(newestReached);
    return { bytes, ms: at - this.samples[0]!.at, msKnown: true, masterOffset, replicaOffset };
  }
}
