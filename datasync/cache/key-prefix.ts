import type { Redis } from 'ioredis';

/** `s` as a literal in a Redis glob pattern (SCAN MATCH). */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Removes every key under `prefix` (SCAN + UNLINK in batches of about 1000;
 * give a client without keyPrefix). Returns how many were removed. For
 * cleaning up a trial, a bench or a test, never a whole database.
 */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<number> {
  const pattern = `${escapeGlob(prefix)}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
