import { SyncError } from '../../errors.js';
import { attachReplica, promote, type ReplicationLinkOptions, type ReplicationSide } from './replication-commands.js';
import type { ReplicationConnection } from './replication-connection.js';
import { addressText, follows, reached, type ReplicationAddress, type ReplicationInfo } from './replication-info.js';
import { type LagLimit, type LagReading, ReplicationLagMeter, withinLimit } from './replication-lag.js';
import { pollUntil } from './poll-until.js';

/** Milestones and a wait's progress, for the migration log; a wait reports at most this often. */
export type PairNote = (detail: string, data?: Record<string, unknown>) => Promise<void>;
const NOTE_EVERY_MS = 5_000;

export interface RedisPairOptions {
  readonly n1: ReplicationConnection;
  readonly n2: ReplicationConnection;
  /** Where each side's replica connects to it (REPLICAOF host port). */
  readonly address: { readonly n1: ReplicationAddress; readonly n2: ReplicationAddress };
  /** The endpoint port the control plane uses for each side too: how a master's replica line may name it. */
  readonly ports: { readonly n1: number; readonly n2: number };
  readonly link: ReplicationLinkOptions;
  readonly signal: AbortSignal;
  readonly note: PairNote;
}

export const other = (side: ReplicationSide): ReplicationSide => (side === 'n1' ? 'n2' : 'n1');
const upper = (side: ReplicationSide): string => side.toUpperCase();

/**
 * N1's and N2's Redis as the replicate strategy drives them: who follows whom, waiting for a
 * replica's sync, its lag against a limit, and draining it to its master's offset. Every wait
 * re-reads both servers each round; a replica found a master again (restarted: REPLICAOF at run
 * time is not in its config file) is attached again when the caller allows it.
 */
export class RedisPair {
  constructor(private readonly o: RedisPairOptions) {}

  conn(side: ReplicationSide): ReplicationConnection {
    return side === 'n1' ? this.o.n1 : this.o.n2;
  }

  address(side: ReplicationSide): ReplicationAddress {
    return this.o.address[side];
  }

  info(side: ReplicationSide): Promise<ReplicationInfo> {
    return this.conn(side).info();
  }

  /** `replica` follows the other side (idempotent: a replica of it already changes nothing). */
  async attach(replica: ReplicationSide, why: string): Promise<void> {
    const master = this.address(other(replica));
    await attachReplica(await this.conn(replica).redis(), replica, master, this.o.link);
    await this.o.note(`${upper(replica)}'s Redis follows ${upper(other(replica))}'s (REPLICAOF ${addressText(master)}): ${why}`);
  }

  async promote(side: ReplicationSide, why: string): Promise<void> {
    await promote(await this.conn(side).redis(), side);
    await this.o.note(`${upper(side)}'s Redis promoted (REPLICAOF NO ONE): ${why}`);
  }

  /** Whether `info` (of `replica`) follows the other side. */
  followsOther(replica: ReplicationSide, info: ReplicationInfo): boolean {
    return follows(info, this.address(other(replica)));
  }

  topology(detail: string, details: Record<string, unknown> = {}): SyncError {
    return new SyncError('NW_SYNC_CACHE_REPLICATION_TOPOLOGY', detail, { details });
  }

  /**
   * The replica's info if it follows the other side; if it is a master and `reattach`, it is
   * attached again (undefined: not following yet). A replica of a third server is a topology error.
   */
  private async following(replica: ReplicationSide, info: ReplicationInfo, reattach: boolean): Promise<ReplicationInfo | undefined> {
    if (this.followsOther(replica, info)) return info;
    if (info.role === 'replica' || !reattach)
      throw this.topology(`${upper(replica)} is ${describe(info)}, not a replica of ${upper(other(replica))}`, { side: replica });
    await this.attach(replica, 'it was a master again (restarted?)');
    return undefined;
  }

  /** Until `replica` is linked, not loading a full sync, and on its master's history. */
  async waitForSync(
    replica: ReplicationSide,
    timeoutMs: number,
    reattach: boolean,
  ): Promise<{ master: ReplicationInfo; replica: ReplicationInfo }> {
    const master = other(replica);
    let lastNote = 0;
    let last: ReplicationInfo | undefined;
    return pollUntil(
      { timeoutMs, signal: this.o.signal, pollMs: 100 },
      async (elapsed) => {
        const mi = await this.info(master);
        const ri = await this.following(replica, await this.info(replica), reattach);
        last = ri;
        if (ri?.linkUp && !ri.syncInProgress && ri.replid === mi.replid) return { master: mi, replica: ri };
        if (elapsed - lastNote >= NOTE_EVERY_MS) {
          lastNote = elapsed;
          await this.o.note(`waiting for ${upper(replica)}'s sync with ${upper(master)}: ${syncState(ri)}`, {
            elapsedMs: Math.round(elapsed),
          });
        }
        return undefined;
      },
      (elapsed) =>
        new SyncError('NW_SYNC_CACHE_SYNC_TIMEOUT', `${upper(replica)} after ${Math.round(elapsed)} ms: ${syncState(last)}`, {
          details: { side: replica, linkUp: last?.linkUp ?? false, syncInProgress: last?.syncInProgress ?? false },
        }),
    );
  }

  /**
   * Reads the master's offset once, then waits until `replica` has processed it on the master's
   * history: everything the master had executed before this call is then at the replica. Used with
   * writes held, so the offset read here covers every acknowledged write.
   */
  async drain(
    replica: ReplicationSide,
    timeoutMs: number,
    reattach: boolean,
  ): Promise<{ offset: number; replicaOffset: number; drainMs: number }> {
    const master = other(replica);
    const mi = await this.info(master);
    if (mi.role !== 'master')
      throw this.topology(`${upper(master)} is ${describe(mi)}; it must be a master to be drained from`, { side: master });
    const t0 = performance.now();
    let last: ReplicationInfo | undefined;
    const ri = await pollUntil(
      { timeoutMs, signal: this.o.signal, pollMs: 10 },
      async () => {
        // A replica that does not answer (stopped, restarting) is not drained yet: the deadline decides, not a retry.
        const now = await this.conn(replica).tryInfo();
        const info = now === undefined ? undefined : await this.following(replica, now, reattach);
        last = info ?? last;
        return info && reached(info, mi.replid, mi.masterReplOffset) ? info : undefined;
      },
      (elapsed) =>
        new SyncError(
          'NW_SYNC_CACHE_DRAIN_TIMEOUT',
          `${upper(replica)} at offset ${last?.replicaOffset ?? '?'} of ${upper(master)}'s ${mi.masterReplOffset} ` +
            `after ${Math.round(elapsed)} ms (${syncState(last)})`,
          {
            details: {
              side: replica,
              targetOffset: mi.masterReplOffset,
              replicaOffset: last?.replicaOffset ?? null,
              linkUp: last?.linkUp ?? false,
            },
          },
        ),
    );
    return { offset: mi.masterReplOffset, replicaOffset: ri.replicaOffset ?? 0, drainMs: Math.round(performance.now() - t0) };
  }

  /**
   * Until N2's lag behind N1 is within `limit`, for at most `waitMs`; then
   * NW_SYNC_CACHE_LAG_LIMIT. N2's own offset when it answers (and is linked); otherwise what
   * N1 last heard from it (its replica line, acked about once a second), so a stopped or cut-off
   * replica is measured too; neither: unknown, which is over any limit.
   */
  async lagWithin(limit: LagLimit, waitMs: number): Promise<LagReading & { waitedMs: number }> {
    const meter = new ReplicationLagMeter();
    // The first round over the limit is noted at once: why the fence waits is the operator's first question.
    let lastNote = -Infinity;
    let last: LagReading | undefined;
    const t0 = performance.now();
    const reading = await pollUntil(
      { timeoutMs: waitMs, signal: this.o.signal, pollMs: 100 },
      async (elapsed) => {
        const mi = await this.info('n1');
        if (mi.role !== 'master') throw this.topology(`N1 is ${describe(mi)}; it must be a master`, { side: 'n1' });
        const n2 = await this.o.n2.tryInfo();
        const ri = n2 === undefined ? undefined : await this.following('n2', n2, true);
        const line = mi.replicas.find((l) => l.state === 'online' && (l.port === this.address('n2').port || l.port === this.o.ports.n2));
        const [history, offset] = ri?.linkUp ? [ri.replid, ri.replicaOffset] : line ? [mi.replid, line.offset] : [undefined, undefined];
        const r = meter.observe(mi.replid, mi.masterReplOffset, history, offset);
        last = r;
        if (withinLimit(r, limit)) return r;
        if (elapsed - lastNote >= NOTE_EVERY_MS) {
          lastNote = elapsed;
          await this.o.note(`replication lag ${lagText(r)} is over the limit (${limitText(limit)}); the fence waits`, {
            lagBytes: r.bytes ?? null,
            lagMs: Math.round(r.ms),
            waitedMs: Math.round(elapsed),
          });
        }
        return undefined;
      },
      (elapsed) =>
        new SyncError(
          'NW_SYNC_CACHE_LAG_LIMIT',
          `N2 is ${last ? lagText(last) : 'unknown'} behind N1 after waiting ${Math.round(elapsed)} ms (limit ${limitText(limit)})`,
          {
            details: {
              lagBytes: last?.bytes ?? null,
              lagMs: last ? Math.round(last.ms) : null,
              limit: { ...limit },
              waitedMs: Math.round(elapsed),
            },
          },
        ),
    );
    return { ...reading, waitedMs: Math.round(performance.now() - t0) };
  }
}

export function describe(info: ReplicationInfo): string {
  return info.role === 'master' ? 'a master' : `a replica of ${info.masterHost}:${info.masterPort}`;
}

function syncState(info: ReplicationInfo | undefined): string {
  if (!info) return 'not a replica yet';
  if (info.syncInProgress) return `full sync loading (${info.syncReadBytes ?? 0} of ${info.syncTotalBytes ?? '?'} bytes)`;
  return `link ${info.linkUp ? 'up' : 'down'}, offset ${info.replicaOffset ?? '?'}`;
}

function lagText(r: LagReading): string {
  const time = `${r.msKnown ? '' : '>= '}${Math.round(r.ms)} ms`;
  return r.bytes === undefined ? `unknown (for ${time})` : `${r.bytes} bytes / ${time}`;
}

function limitText(l: LagLimit): string {
  return [l.maxBytes === undefined ? '' : `${l.maxBytes} bytes`, l.maxMs === undefined ? '' : `${l.maxMs} ms`].filter(Boolean).join(', ');
}
