/**
 * A cache entry that carries the version its store gave it, stored as the
 * string `<version>:<value>` so that a Lua script at the server can compare
 * versions without decoding the value (see cache-scripts.ts).
 */
export interface VersionedValue {
  readonly value: string;
  readonly version: number;
}

const VERSIONED = /^(\d+):/;

export function encodeVersioned(entry: VersionedValue): string {
  if (!Number.isSafeInteger(entry.version) || entry.version < 0) {
    throw new RangeError(`cache entry version must be a non-negative safe integer, got ${entry.version}`);
  }
  return `${entry.version}:${entry.value}`;
}

/** The entry, or undefined if the raw string was not written by encodeVersioned. */
export function decodeVersioned(raw: string): VersionedValue | undefined {
  const m = VERSIONED.exec(raw);
  if (!m || m[1] === undefined) return undefined;
  return { version: Number(m[1]), value: raw.slice(m[0].length) };
}
