import { isIPv6 } from 'node:net';
import { GatewayError } from './errors.js';
import { HostMemo } from './host-memo.js';

/**
 * host[:port] as RFC 3986 §3.2.2–3.2.3 spell them: a reg-name (unreserved, pct-encoded,
 * sub-delims; IPv4 addresses are reg-names too) or a bracketed IPv6 address, then an optional
 * port of 1–5 digits. No userinfo, path or second colon: `shop.test:1@evil.com` is refused
 * rather than routed by the part before the colon while the app sees the whole.
 */
const HOST_PORT = /^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** Verdicts on the Host values seen last: the check runs once per value, not per request. */
const VERDICTS = new HostMemo(checkHost);

export function isValidHost(value: string): boolean {
  return VERDICTS.get(value);
}

function checkHost(value: string): boolean {
  if (!HOST_PORT.test(value)) return false;
  let portFrom = 0;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (!isIPv6(value.slice(1, close))) return false;
    portFrom = close;
  }
  const colon = value.indexOf(':', portFrom);
  return colon === -1 || Number(value.slice(colon + 1)) <= 65535;
}

/** scheme "://" authority, then the path; only http and https are targets of this gateway. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)/i;

/**
 * The authority of an absolute-form request target (`GET http://shop.test/x HTTP/1.1`). RFC 9112
 * §3.2.2: the server ignores Host and uses the target's authority instead, so the request is
 * routed by it (and it replaces Host upstream): routing by Host while the app, or any other
 * hop, reads the target would let the two disagree on the app. Undefined for origin-form.
 */
function targetAuthority(url: string): string | GatewayError | undefined {
  if (url.charCodeAt(0) === 0x2f /* / */ || url === '*') return undefined;
  const m = ABSOLUTE_FORM.exec(url);
  if (!m) return new GatewayError('NW_GW_BAD_REQUEST', 'request target is neither origin-form nor an http(s) absolute URI');
  const authority = m[1]!;
  // userinfo is refused outright (RFC 9110 §4.2.4): it is how `trusted.test@evil.test` hides a host.
  if (authority.includes('@')) return new GatewayError('NW_GW_INVALID_HOST', 'the request target carries userinfo');
  if (!isValidHost(authority)) return new GatewayError('NW_GW_INVALID_HOST', 'in the request target');
  return authority;
}

/** What requestHost reads of a request (node's IncomingMessage, HTTP/2's compatibility request, or the raw engine's RawRequest). */
export interface RequestHead {
  readonly rawHeaders: readonly string[];
  readonly url?: string | undefined;
  /** `:authority` only over HTTP/2 (an HTTP/1.1 parser refuses the name). */
  readonly headers: { readonly host?: string | undefined; readonly ':authority'?: string | string[] | undefined };
}

/**
 * Host, or over HTTP/2 the `:authority` pseudo-header that stands for it (RFC 9113 §8.3.1: a
 * client may send both; then they must agree, or the request is malformed).
 */
function hostHeader(req: RequestHead): string | undefined | GatewayError {
  const authority = req.headers[':authority'];
  const host = req.headers.host;
  if (authority === undefined) return host;
  if (typeof authority !== 'string') return new GatewayError('NW_GW_BAD_REQUEST', 'more than one :authority');
  if (host !== undefined && host !== authority) return new GatewayError('NW_GW_BAD_REQUEST', 'Host and :authority differ');
  return authority;
}

/**
 * The host a request routes by, or the error to refuse it with: the absolute-form target's
 * authority if it has one, else the one Host header. node keeps only the first of several Host
 * lines; a front proxy may use the last, so several are refused (RFC 9112 §3.2) rather than routed.
 */
export function requestHost(req: RequestHead): string | GatewayError {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i]!.length === 4 && req.rawHeaders[i]!.toLowerCase() === 'host') count += 1;
  if (count > 1) return new GatewayError('NW_GW_BAD_REQUEST', 'more than one Host header');
  const url = req.url ?? '/';
  if (url.charCodeAt(0) !== 0x2f) {
    const authority = targetAuthority(url);
    if (authority !== undefined) return authority;
  }
  const host = hostHeader(req);
  if (typeof host === 'object') return host;
  if (!host) return new GatewayError('NW_GW_MISSING_HOST');
  return isValidHost(host) ? host : new GatewayError('NW_GW_INVALID_HOST');
}
