import { createHash, randomBytes } from 'node:crypto';

/** The session cookie's name; scoped to `Path=/dashboard`, so the admin API never sees it. */
export const SESSION_COOKIE = 'nw_dashboard';

/** How long a dashboard session lasts after sign-in, unless the config says otherwise. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Sessions held at once; signing in past it ends the oldest (each costs a timer and a few bytes). */
export const MAX_SESSIONS = 256;

/** A signed-in browser: its CSRF token and when the session ends. */
export interface DashboardSession {
  /** Sent back by the page's buttons in `x-northwest-csrf`; a cross-site page can neither read nor guess it. */
  readonly csrf: string;
  readonly expiresAt: number;
}

interface Held extends DashboardSession {
  readonly timer: NodeJS.Timeout;
  /** Called when the session ends (sign-out, expiry, eviction): its event streams close. */
  readonly onEnd: Set<() => void>;
}

/** 256 random bits, URL-safe: a session id or a CSRF token. */
const secret = (): string => randomBytes(32).toString('base64url');

/**
 * Sessions are held by the hash of their id: a lookup cannot leak the ids through timing, and a
 * heap dump does not hold a usable cookie.
 */
const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url');

/**
 * The dashboard's server-side sessions, in memory: a restart of the control plane signs every
 * browser out. Each session has an absolute lifetime (no sliding renewal: a stolen cookie stops
 * working at the latest then) and ends its event streams when it ends.
 */
export class DashboardSessions {
  private readonly held = new Map<string, Held>();

  constructor(private readonly ttlMs: number = DEFAULT_SESSION_TTL_MS) {}

  /** A new session; the id goes into the cookie and is not kept. */
  create(): { readonly id: string; readonly session: DashboardSession } {
    while (this.held.size >= MAX_SESSIONS) {
      const oldest = this.held.keys().next().value;
      if (oldest === undefined) break;
      this.endKey(oldest);
    }
    const id = secret();
    const key = keyOf(id);
    const timer = setTimeout(() => this.endKey(key), this.ttlMs);
    timer.unref();
    this.held.set(key, { csrf: secret(), expiresAt: Date.now() + this.ttlMs, timer, onEnd: new Set() });
    return { id, session: this.held.get(key)! };
  }

  /** The live session of a cookie value, or undefined. */
  find(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const s = this.held.get(keyOf(id));
    if (!s) return undefined;
    if (s.expiresAt > Date.now()) return s;
    this.endKey(keyOf(id));
    return undefined;
  }

  /** Runs `fn` once when the session ends; returns a function that unregisters it. */
  onEnd(id: string, fn: () => void): () => void {
    const s = this.held.get(keyOf(id));
    if (!s) {
      fn();
      return () => undefined;
    }
    s.onEnd.add(fn);
    return () => s.onEnd.delete(fn);
  }

  end(id: string): void {
    this.endKey(keyOf(id));
  }

  /** Ends every session (the admin server is closing). */
  endAll(): void {
    for (const key of [...this.held.keys()]) this.endKey(key);
  }

  get size(): number {
    return this.held.size;
  }

  private endKey(key: string): void {
    const s = this.held.get(key);
    if (!s) return;
    this.held.delete(key);
    clearTimeout(s.timer);
    for (const fn of s.onEnd) fn();
  }
}

/**
 * The value of one cookie in a `Cookie` header. Hand-written: the dashboard reads one cookie of
 * its own, whose value is base64url (no quoting or escapes to undo).
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
