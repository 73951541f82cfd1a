/** One stored value and the version the store gave it when it was written. */
export interface KvEntry {
  readonly value: string;
  readonly version: number;
}

/**
 * The reference app's storage. Kept minimal and async so that Cassandra or
 * Redis backends can implement it later. Versions only ever increase for a
 * key, also across a delete and re-create, so a later write always carries a
 * larger version than an earlier one.
 */
export interface KvStore {
  get(key: string): Promise<KvEntry | undefined>;
  /** Stores the value and returns its new version. */
  put(key: string, value: string): Promise<number>;
  /** True if the key existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Every key starting with `prefix` and its value, as the store of record holds them (a cache
   * in front is skipped): what the chaos campaign reads back at the end. Optional: a store that
   * cannot list its keys leaves it out, and the app's /_admin/snapshot is then off.
   */
  entries?(prefix: string): Promise<Array<[string, string]>>;
}

/**
 * A put the store of record committed, after which a later step of the same put failed (the
 * cache update of a cache-aside store). The write is there: an app records it as committed, and
 * answers an error, since the step it promised did not happen.
 */
export class CommittedWriteError extends Error {
  constructor(
    /** The version the store of record gave the write. */
    readonly version: number,
    cause: unknown,
  ) {
    super(`the write committed (version ${version}), then: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'CommittedWriteError';
  }
}
