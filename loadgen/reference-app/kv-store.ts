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
}
