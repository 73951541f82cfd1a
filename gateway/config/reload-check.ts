import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from './config-schema.js';

/**
 * What a reload applies: `apps` whole (hosts, upstreams, fences, ...) and the access log switch and
 * format. Everything else (listeners, admin, engine, limits, timeouts, trustedProxies, log.level,
 * waitForState, name, fleet) is built into listeners, servers, parsers, the logger and the fleet
 * session at start, so a file that changes it is refused whole: restart the gateway to apply it.
 */
const LIVE_LOG_FIELDS: ReadonlySet<string> = new Set(['access', 'accessFormat']);

/** A fleet member always waits for its states (gateway-member.ts starts it so): compare what is in force. */
function restartOnly(c: GatewayConfig): Record<string, unknown> {
  const { apps: _apps, log, ...rest } = c;
  const logRest = Object.fromEntries(Object.entries(log).filter(([k]) => !LIVE_LOG_FIELDS.has(k)));
  return { ...rest, waitForState: c.waitForState || c.fleet !== undefined, log: logRest };
}

/** The paths (a.b.0.c) at which two config values differ, leaves first found; at most `limit`. */
function differingPaths(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit || isDeepStrictEqual(a, b)) return;
  const objects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (!objects) {
    out.push(path);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) {
    out.push(path);
    return;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    differingPaths(ra[k], rb[k], path === '' ? k : `${path}.${k}`, out, limit);
  }
}

/** One line per field the new config changes that only a restart applies ("file: field: ..."); empty when it can be reloaded. */
export function reloadRefusals(current: GatewayConfig, next: GatewayConfig, source: string): string[] {
  const paths: string[] = [];
  differingPaths(restartOnly(current), restartOnly(next), '', paths, 20);
  return paths.map((p) => `${source}: ${p}: cannot change on reload; restart the gateway to apply it`);
}
