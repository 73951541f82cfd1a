import { LuaScript } from './lua-script.js';

/**
 * The cache layer's server-side steps, each one atomic at its server.
 * Deletes leave a short-lived tombstone key beside the deleted key; every
 * write that copies or re-fills a value read earlier (copy-on-read, bulk
 * warm-up, cache-aside fill via a versioned set) refuses to write while the
 * tombstone exists, so an old read can never resurrect a key deleted after it.
 */

/** The key that marks `key` as recently deleted (the client's keyPrefix applies to both). */
export function tombstoneKey(key: string): string {
  return `__nw_tomb__:${key}`;
}
export const TOMBSTONE_MARK = '__nw_tomb__:';

/** KEYS: key. Returns nil on a miss, else {value, pttl} read together (pttl -1: no expiry). */
export const readWithTtl = new LuaScript(
  `local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`,
  1,
);

/**
 * KEYS: key, tombstone. ARGV: value, ttlMs (0: no expiry). Writes only if the
 * key is absent and not recently deleted: a copy never overwrites a newer
 * copy-on-write value. Returns 1 if written.
 */
export const fillIfAbsent = new LuaScript(
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ok
if tonumber(ARGV[2]) > 0 then ok = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
else ok = redis.call('SET', KEYS[1], ARGV[1], 'NX') end
if ok then return 1 end
return 0`,
  2,
);

/**
 * KEYS: key, tombstone. ARGV: encoded entry, version, ttlMs (0: no expiry).
 * Writes unless the key was recently deleted or holds the same or a newer
 * version (see versioned-entry.ts for the encoding). Returns 1 if written.
 */
export const setIfNewer = new LuaScript(
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+):'))
  if v and v >= tonumber(ARGV[2]) then return 0 end
end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[1]) end
return 1`,
  2,
);

/** KEYS: key, tombstone. ARGV: tombstone TTL ms. Deletes and marks; returns keys deleted. */
export const deleteWithTombstone = new LuaScript(
  `local n = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return n`,
  2,
);

/** KEYS: key. Returns {DUMP payload, PTTL} read together, or nil if the key is gone. */
export const dumpWithTtl = new LuaScript(
  `local d = redis.call('DUMP', KEYS[1])
if not d then return false end
return {d, redis.call('PTTL', KEYS[1])}`,
  1,
);

/**
 * KEYS: key, tombstone. ARGV: ttlMs (0: no expiry), payload. RESTORE without
 * REPLACE. Returns 0 restored, 1 key exists (BUSYKEY: a newer copy-on-write
 * value), 2 recently deleted. Other errors are raised.
 */
export const restoreIfAbsent = new LuaScript(
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
local r = redis.pcall('RESTORE', KEYS[1], ARGV[1], ARGV[2])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'BUSYKEY') then return 1 end
  return redis.error_reply(r.err)
end
return 0`,
  2,
);
