import type { IncomingHttpHeaders } from 'node:http';
import { NW_HEADER_PREFIX } from '../../protocol/response-headers.js';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus legacy ones proxies must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Not forwarded either: `Expect: 100-continue` is answered here (undici refuses to send it, and
 * the body is already on its way when the request goes upstream).
 */
const HANDLED_HERE = 'expect';

/**
 * Forwarding and client-address headers a client could forge (the ones frameworks, CDNs and
 * proxies read the client's address, scheme or host from); only a trusted proxy's values are kept.
 */
const SPOOFABLE = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-protocol',
  'x-forwarded-ssl',
  'x-forwarded',
  'forwarded-for',
  'x-original-forwarded-for',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-envoy-external-address',
  'x-url-scheme',
  'front-end-https',
]);

/**
 * Whether a header name with `_` in it spells a spoofable one (`X_Forwarded_For`, `X-Real_IP`):
 * many frameworks (CGI/WSGI/Rack environ keys, PHP $_SERVER) read `_` and `-` as one, so the app
 * would take it for the real header. Dropped whoever sent it: no proxy sets these spellings.
 */
function spoofableSpelling(name: string): boolean {
  return name.includes('_') && SPOOFABLE.has(name.replaceAll('_', '-'));
}

export const VIA_TOKEN = '1.1 northwest';

export type HeaderMap = Record<string, string | string[]>;

const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  // The usual values name only hop-by-hop options that are dropped anyway.
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return NO_TOKENS;
  const out = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const t = part.trim().toLowerCase();
    if (t) out.add(t);
  }
  return out;
}

/**
 * Removes headers named in Connection (RFC 9110 §7.6.1) from an already filtered set, except Host:
 * a client listing `host` would take the request's authority away from the app (undici then sends
 * the upstream's own address). Go's ReverseProxy keeps Host apart from the header map for the same reason.
 */
function dropNamed(out: HeaderMap, connection: string | string[] | undefined): void {
  for (const t of connectionTokens(connection)) if (t in out && t !== 'host') delete out[t];
}

function appendList(existing: string | string[] | undefined, value: string): string {
  if (existing === undefined) return value;
  const prev = Array.isArray(existing) ? existing.join(', ') : existing;
  return prev ? `${prev}, ${value}` : value;
}

/** The scheme a client used: https for a connection the gateway decrypted (an HTTP/1.1 TLSSocket, or an h2 stream's). */
export function protoOf(socket: object): 'http' | 'https' {
  return 'encrypted' in socket && socket.encrypted === true ? 'https' : 'http';
}

export interface ForwardContext {
  /** The TCP peer's address (not any header). */
  readonly peerIp: string;
  /** Whether the peer is a configured trusted proxy. */
  readonly trustedPeer: boolean;
  readonly proto: 'http' | 'https';
  readonly requestId: string;
  /** Keep Upgrade/Connection for a WebSocket handshake. */
  readonly upgrade?: boolean;
  /** The authority of an absolute-form request target: it replaces Host (RFC 9112 §3.2.2). */
  readonly host?: string;
}

/** Builds the header set sent upstream: hop-by-hop stripped, forwarding headers set by us. */
export function buildUpstreamHeaders(incoming: IncomingHttpHeaders, ctx: ForwardContext): HeaderMap {
  const out: HeaderMap = {};
  const trusted = ctx.trustedPeer;
  // One pass over the headers; this runs for every request.
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    // ':authority', ':path' and the other HTTP/2 pseudo-headers are the request line, not headers.
    if (HOP_BY_HOP.has(name) || name === HANDLED_HERE || name.startsWith(NW_HEADER_PREFIX) || name.charCodeAt(0) === 0x3a) continue;
    if (SPOOFABLE.has(name) ? !trusted : spoofableSpelling(name)) continue;
    out[name] = value;
  }
  if (incoming.connection !== undefined) dropNamed(out, incoming.connection);
  if (ctx.host !== undefined) out.host = ctx.host;
  // From `out`, not `incoming`: what Connection removed is replaced by ours rather than lost.
  out['x-forwarded-for'] = trusted ? appendList(out['x-forwarded-for'], ctx.peerIp) : ctx.peerIp;
  out['x-forwarded-proto'] ??= ctx.proto;
  if (out['x-forwarded-host'] === undefined && out.host !== undefined) out['x-forwarded-host'] = out.host;
  out.via = appendList(out.via, VIA_TOKEN);
  out['x-request-id'] = ctx.requestId;
  if (ctx.upgrade) {
    out.connection = 'upgrade';
    if (incoming.upgrade !== undefined) out.upgrade = incoming.upgrade;
  }
  return out;
}

/**
 * Filters an upstream response's headers (as an object, e.g. from undici's
 * request() or node's IncomingMessage) before they go to the client; `extra`
 * is added last. The same policy as clientHeaderList, which it goes through.
 */
export function buildClientHeaders(upstream: Record<string, string | string[] | undefined>, extra: HeaderMap = {}): HeaderMap {
  const lines: string[] = [];
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) lines.push(name, one);
    else lines.push(name, value);
  }
  return headerMapOf(clientHeaderList(lines, extra));
}

/** A flat name, value, name, value... list as an object; the values of a repeated name become an array, in order. */
export function headerMapOf(list: readonly string[]): HeaderMap {
  const out: HeaderMap = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const prev = out[name];
    if (prev === undefined) out[name] = list[i + 1]!;
    else if (Array.isArray(prev)) prev.push(list[i + 1]!);
    else out[name] = [prev, list[i + 1]!];
  }
  return out;
}

const latin1 = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('latin1'));

/**
 * Filters an upstream response's headers before they go to the client:
 * hop-by-hop and Connection-named headers and our own x-northwest-* markers
 * dropped, Via appended. Straight from undici's raw reply headers (name,
 * value, name, value... as Buffers, or strings) to the flat list
 * `res.writeHead` takes: no intermediate object, several lines of a name
 * (Set-Cookie) kept as they came, values passed through byte for byte
 * (latin1). Names are lowercased; upstream Via lines are folded into one
 * with our token appended; a name that `extra` sets is dropped from the
 * upstream's lines and `extra` is added last (a header map, or a flat list
 * as the raw engine keeps it).
 */
export function clientHeaderList(raw: readonly (Buffer | string)[], extra: HeaderMap | readonly string[]): string[] {
  const extraList = isList(extra) ? extra : flatList(extra);
  const out: string[] = [];
  let connection: string | undefined;
  let via: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]!).toLowerCase();
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = connection === undefined ? latin1(raw[i + 1]!) : `${connection},${latin1(raw[i + 1]!)}`;
      continue;
    }
    if (name.startsWith(NW_HEADER_PREFIX) || namesIn(extraList, name)) continue;
    const value = latin1(raw[i + 1]!);
    if (name === 'via') {
      via = via === undefined ? value : `${via}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (connection !== undefined) {
    const named = connectionTokens(connection);
    if (named.size > 0) {
      let w = 0;
      for (let r = 0; r < out.length; r += 2) {
        if (named.has(out[r]!)) continue;
        out[w] = out[r]!;
        out[w + 1] = out[r + 1]!;
        w += 2;
      }
      out.length = w;
      if (via !== undefined && named.has('via')) via = undefined;
    }
  }
  out.push('via', via ? `${via}, ${VIA_TOKEN}` : VIA_TOKEN);
  for (let i = 0; i < extraList.length; i++) out.push(extraList[i]!);
  return out;
}

function isList(h: HeaderMap | readonly string[]): h is readonly string[] {
  return Array.isArray(h);
}

/** A header map as a flat name, value, name, value... list (an array value as several lines). */
function flatList(headers: HeaderMap): string[] {
  const out: string[] = [];
  for (const k in headers) {
    const v = headers[k]!;
    if (Array.isArray(v)) for (const one of v) out.push(k, one);
    else out.push(k, v);
  }
  return out;
}

/** Whether a flat list names `name` (a few entries: a scan beats a lookup structure). */
function namesIn(list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
  return false;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a well-formed client request id (for tracing across tiers), else undefined. */
export function acceptableRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/** Path and query of a request target, whatever form the client used (origin or absolute). */
export function pathAndQuery(url: string | undefined): string {
  if (!url) return '/';
  // origin-form (RFC 9112 §3.2.1) is kept as sent, empty segments included ('//a' is a path, not a host)
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url, 'http://invalid.invalid');
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}
