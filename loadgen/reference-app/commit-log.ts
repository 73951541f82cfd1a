/**
 * What an app server applied, in the order it applied it: the ground truth the chaos campaign
 * checks its invariants against (response headers only say what the gateway believed).
 *
 * Times are `process.hrtime.bigint()` nanoseconds: CLOCK_MONOTONIC on Linux, one clock for every
 * process on the host, so the logs of N1 and N2 (separate processes) can be merged by time.
 * They are carried as decimal strings because JSON has no 64-bit integers.
 */
export interface CommitEntry {
  /** 1-based position in this log. */
  readonly seq: number;
  readonly key: string;
  readonly value: string;
  /** The store's version of the key after this write. */
  readonly version: number;
  /** `x-request-id` of the HTTP request (the gateway passes the client's on), or the WebSocket message id. */
  readonly requestId: string | undefined;
  /**
   * How the write arrived: a client request (`http`), a WebSocket message (`ws`), or the data
   * sync's copy of a key this side lacked (`sync`: not a client write).
   */
  readonly via: 'http' | 'ws' | 'sync';
  /** When the request (or message) reached the app. */
  readonly receivedNs: string;
  /** Just before the store was asked to write. */
  readonly beginNs: string;
  /** Just after the store said it had written. */
  readonly endNs: string;
}

export type NewCommit = Omit<CommitEntry, 'seq' | 'endNs'>;

/** Append-only, in memory; read in pages by `after` (a seq) so a long run is fetched incrementally. */
export class CommitLog {
  private readonly entries: CommitEntry[] = [];

  static now(): string {
    return process.hrtime.bigint().toString();
  }

  /** Records a write the store has just applied; `endNs` is taken now. */
  record(c: NewCommit): CommitEntry {
    const entry: CommitEntry = { ...c, seq: this.entries.length + 1, endNs: CommitLog.now() };
    this.entries.push(entry);
    return entry;
  }

  /** Entries with seq > after whose key starts with prefix, at most `limit` of them. */
  read(after = 0, prefix = '', limit = 10_000): CommitEntry[] {
    const out: CommitEntry[] = [];
    for (let i = Math.max(0, after); i < this.entries.length && out.length < limit; i++) {
      const e = this.entries[i]!;
      if (e.key.startsWith(prefix)) out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.entries.length;
  }
}
