/**
 * What every admin API of ours shares: it binds to loopback only, and every
 * endpoint that reads state or changes it needs `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** True for addresses an admin API may bind to: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export const LOOPBACK_ONLY_MESSAGE = 'admin must bind to a loopback address (127.0.0.0/8, ::1, localhost)';

/** Compares tokens in constant time (hashing first evens out the lengths). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Why a request may not use a protected admin endpoint: 'no-token' when none
 * is configured, 'mismatch' when the request's bearer token is missing or
 * wrong, undefined when it may.
 */
export function bearerTokenProblem(token: string | undefined, req: IncomingMessage): 'no-token' | 'mismatch' | undefined {
  if (token === undefined || token === '') return 'no-token';
  const auth = req.headers.authorization ?? '';
  const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  return given && tokenMatches(given, token) ? undefined : 'mismatch';
}
