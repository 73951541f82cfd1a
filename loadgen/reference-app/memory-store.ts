import type { KvEntry, KvStore } from './kv-store.js';

/** A KvStore in process memory; versions come from one store-wide counter. */
export class MemoryStore implements KvStore {
  private readonly byKey = new Map<string, KvEntry>();
  private lastVersion = 0;

  async get(key: string): Promise<KvEntry | undefined> {
    return this.byKey.get(key);
  }

  async put(key: string, value: string): Promise<number> {
    this.lastVersion += 1;
    this.byKey.set(key, { value, version: this.lastVersion });
    return this.lastVersion;
  }

  async delete(key: string): Promise<boolean> {
    return this.byKey.delete(key);
  }

  /**
   * Writes the value only if the key is absent, in one synchronous step (so no
   * other write can land between the check and the put); true if it wrote.
   * For the embedded data sync, which must not overwrite newer mirrored writes.
   */
  putIfAbsent(key: string, value: string): boolean {
    if (this.byKey.has(key)) return false;
    this.lastVersion += 1;
    this.byKey.set(key, { value, version: this.lastVersion });
    return true;
  }

  /**
   * Writes the value unless the key already holds it, in one synchronous step; true if it wrote.
   * For a last copy at the fence, when no other write can be in flight.
   */
  putIfDifferent(key: string, value: string): boolean {
    if (this.byKey.get(key)?.value === value) return false;
    this.lastVersion += 1;
    this.byKey.set(key, { value, version: this.lastVersion });
    return true;
  }

  /** The key's current version, read synchronously (undefined if absent). */
  versionOf(key: string): number | undefined {
    return this.byKey.get(key)?.version;
  }

  async entries(prefix: string): Promise<Array<[string, string]>> {
    return this.snapshot().flatMap(([k, e]): Array<[string, string]> => (k.startsWith(prefix) ? [[k, e.value]] : []));
  }

  /** A copy of every entry, safe to iterate while the store changes. */
  snapshot(): Array<[string, KvEntry]> {
    return [...this.byKey];
  }

  /** Number of keys held (for tests and the lost-write checker). */
  get size(): number {
    return this.byKey.size;
  }
}
