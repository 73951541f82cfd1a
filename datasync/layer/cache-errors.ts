import { SyncError } from '../errors.js';

/** n1: the app server's own (local) cache; n2: the target deployment's cache. */
export type CacheSide = 'n1' | 'n2';

const CONNECTION_FAILURES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'connect ETIMEDOUT',
  'Reached the max retries per request limit',
];

/** True if the client could not reach the server (as opposed to the server refusing the command). */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return CONNECTION_FAILURES.some((m) => err.message.includes(m));
}

/**
 * Maps an ioredis failure to the catalogue: unreachable server →
 * NW_SYNC_CACHE_UNAVAILABLE; a write the server refused →
 * NW_SYNC_CACHE_WRITE_FAILED; a read the server refused → UNAVAILABLE too
 * (the cache cannot serve it).
 */
export function cacheError(kind: 'read' | 'write', side: CacheSide, op: string, key: string, err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  const code = kind === 'write' && !isConnectionFailure(err) ? 'NW_SYNC_CACHE_WRITE_FAILED' : 'NW_SYNC_CACHE_UNAVAILABLE';
  return new SyncError(code, `${side} ${op} ${key}: ${reason}`, { cause: err, details: { side, op, key } });
}
