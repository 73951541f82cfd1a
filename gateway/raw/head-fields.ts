import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { HeaderMap } from '../proxy/forward-headers.js';

/** Header names of which node:http keeps the first line and drops the rest (IncomingMessage's rules). */
const FIRST_WINS = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'referer',
  'host',
  'authorization',
  'proxy-authorization',
  'if-modified-since',
  'if-unmodified-since',
  'from',
  'location',
  'max-forwards',
  'retry-after',
  'etag',
  'last-modified',
  'server',
  'age',
  'expires',
]);

/**
 * A raw header list (name, value, name, value...) as the header object node:http would make of
 * it, so the forwarding policy (forward-headers.ts) sees the same thing from both engines.
 */
export function headerObject(raw: readonly string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = out[name];
    // `constructor` (a member of Object.prototype) is a header like any other, as in node:http; a
    // string assigned to `__proto__` is ignored, so that one is dropped, as node:http drops it.
    if (prev === undefined || typeof prev === 'function') out[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (FIRST_WINS.has(name)) continue;
    else out[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out as IncomingHttpHeaders;
}

/** Appends `name: value` lines for a header map (arrays as several lines). */
export function appendHeaderLines(out: string, headers: HeaderMap): string {
  let s = out;
  for (const name in headers) {
    const v = headers[name]!;
    if (typeof v === 'string') s += `${name}: ${v}\r\n`;
    else for (const one of v) s += `${name}: ${one}\r\n`;
  }
  return s;
}

/** Appends `name: value` lines for a flat list (name, value, name, value...). */
export function appendHeaderList(out: string, list: readonly string[]): string {
  let s = out;
  for (let i = 0; i + 1 < list.length; i += 2) s += `${list[i]}: ${list[i + 1]}\r\n`;
  return s;
}

/** The request head as it came (for handing a connection to node:http): request line and raw header lines. */
export function requestHeadBytes(method: string, url: string, minor: number, raw: readonly string[]): Buffer {
  return Buffer.from(`${appendHeaderList(`${method} ${url} HTTP/1.${minor}\r\n`, raw)}\r\n`, 'latin1');
}

/** A body piece up to this size goes out in one buffer with what comes before it: one write, no cork, no writev of strings. */
const COALESCE_MAX_BYTES = 16 * 1024;

/**
 * The buffers of headWithBody and copyOut are cut from slabs of this size, as Buffer.allocUnsafe
 * cuts small ones from its pool, but up to COALESCE_MAX_BYTES: one backing store per slab, not one
 * per request. What was cut stays as it was while a socket may still hold it; the last cut is
 * given back (reclaim, writeCut) once a socket has written it whole, so in the usual case (the
 * kernel takes each write at once) one slab serves every request. Each new slab is external
 * memory the garbage collector accounts for: at a new 128 KB slab every ~30 POSTs of 4 KB, V8 ran
 * a full mark-compact every ~200 ms for external memory alone.
 */
const SLAB_BYTES = 128 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/** Larger cuts get a buffer of their own: a head can outgrow a slab (see cut). */
const CUT_MAX_BYTES = SLAB_BYTES / 4;

/**
 * `size` bytes, from the slab when small. A head is bounded only by what llhttp counts (names and
 * values, not separators), so a head of many short lines comes out of the rewrite several times
 * larger than its limit, and larger than a slab.
 */
function cut(size: number): Buffer {
  if (size > CUT_MAX_BYTES) return Buffer.allocUnsafeSlow(size);
  if (slabUsed + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  // 8-byte aligned, as Buffer's own pool cuts.
  slabUsed = (slabUsed + size + 7) & ~7;
  return out;
}

/**
 * Gives `buf` back to its slab if it is the last cut made from it (otherwise nothing happens): for
 * a buffer nothing refers to any more, such as one a socket has written whole.
 */
export function reclaim(buf: Buffer): void {
  if (buf.buffer !== slab.buffer) return;
  const start = buf.byteOffset - slab.byteOffset;
  if (((start + buf.length + 7) & ~7) === slabUsed) slabUsed = start;
}

/**
 * Writes a buffer from cut/copyOut/headWithBody to a plain TCP socket and gives it back to its
 * slab when the socket wrote it whole at once (nothing left in its write queue: no write request
 * refers to the bytes any more). A TLS socket keeps its own rules about what it holds: not given back.
 */
export function writeCut(socket: Socket, buf: Buffer): boolean {
  const room = socket.write(buf);
  if (socket.writableLength === 0 && !(socket as { encrypted?: boolean }).encrypted) reclaim(buf);
  return room;
}

/** A copy of bytes that are only lent (a socket's read buffer, reused by its next read): from a slab when small. */
export function copyOut(lent: Buffer): Buffer {
  if (lent.length > COALESCE_MAX_BYTES) return Buffer.from(lent);
  const out = cut(lent.length);
  lent.copy(out);
  return out;
}

/**
 * `head` (latin1: status or request line and header lines, or nothing) and a body piece as one
 * buffer, with chunked framing around the piece when `chunked` (and the last-chunk line when
 * `last`); undefined when the piece is too large to copy.
 */
export function headWithBody(head: string, body: Buffer, chunked: boolean, last: boolean): Buffer | undefined {
  if (body.length > COALESCE_MAX_BYTES) return undefined;
  const prefix = chunked && body.length > 0 ? `${head}${body.length.toString(16)}\r\n` : head;
  const suffix = chunked ? (body.length > 0 ? '\r\n' : '') + (last ? '0\r\n\r\n' : '') : '';
  const out = cut(prefix.length + body.length + suffix.length);
  out.write(prefix, 0, 'latin1');
  body.copy(out, prefix.length);
  if (suffix.length > 0) out.write(suffix, prefix.length + body.length, 'latin1');
  return out;
}
