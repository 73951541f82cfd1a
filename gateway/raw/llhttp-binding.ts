import { createRequire } from 'node:module';

/**
 * Node's own binding to llhttp, the parser behind node:http (`HTTPParser` from the internal
 * module `_http_common`). Not a public API: it is loaded once, checked by a self-test that parses
 * a known request, a known response and a smuggling attempt, and when it is missing or answers
 * differently the gateway falls back to the node engine (see raw-engine-support.ts).
 *
 * The parser runs in strict mode (no lenient flags), with the same smuggling defences as node:http.
 */

/** Arguments of the headers-complete callback, in the binding's order. */
export type HeadersCompleteCallback = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  statusCode: number,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number | undefined;

/** Returned by execute/finish: bytes consumed, or an Error with the llhttp code (HPE_*) and `bytesParsed`. */
export type ParseResult = number | ParseError;

export interface ParseError extends Error {
  readonly code: string;
  readonly reason?: string;
  readonly bytesParsed: number;
}

export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): ParseResult;
  finish(): ParseResult | undefined;
  close(): void;
  free(): void;
  remove(): void;
  [slot: number]: unknown;
}

export interface LlhttpBinding {
  readonly create: () => LlhttpParser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
  /** Method names by the binding's method index. */
  readonly methods: readonly string[];
}

/**
 * What onHeadersComplete may return: 0 go on; 1 the message has no body (a reply to HEAD); 2 stop right
 * after this head; -1 refuse it (execute fails with HPE_CB_HEADERS_COMPLETE).
 */
export const HEAD_CONTINUE = 0;
export const HEAD_SKIP_BODY = 1;
export const HEAD_STOP = 2;
export const HEAD_REFUSE = -1;

interface HttpCommon {
  HTTPParser: (new () => LlhttpParser) & Record<string, unknown>;
  methods: string[];
}

function slot(ctor: Record<string, unknown>, name: string): number {
  const v = ctor[name];
  if (typeof v !== 'number') throw new Error(`HTTPParser.${name} is missing`);
  return v;
}

function load(): LlhttpBinding {
  const common = createRequire(import.meta.url)('_http_common') as HttpCommon;
  const P = common.HTTPParser;
  if (typeof P !== 'function' || !Array.isArray(common.methods)) throw new Error('_http_common has no HTTPParser');
  return {
    create: () => new P(),
    REQUEST: slot(P, 'REQUEST'),
    RESPONSE: slot(P, 'RESPONSE'),
    kOnHeaders: slot(P, 'kOnHeaders'),
    kOnHeadersComplete: slot(P, 'kOnHeadersComplete'),
    kOnBody: slot(P, 'kOnBody'),
    kOnMessageComplete: slot(P, 'kOnMessageComplete'),
    kLenientNone: slot(P, 'kLenientNone'),
    methods: common.methods,
  };
}

interface Seen {
  heads: Array<{ method: string; url: string; status: number; headers: string[]; keepAlive: boolean }>;
  body: string;
  complete: number;
}

function parseAll(b: LlhttpBinding, type: number, input: string, onHead = HEAD_CONTINUE): { seen: Seen; result: ParseResult } {
  const p = b.create();
  const seen: Seen = { heads: [], body: '', complete: 0 };
  p.initialize(type, {}, 16 * 1024, b.kLenientNone);
  p[b.kOnHeaders] = () => undefined;
  p[b.kOnHeadersComplete] = ((_maj, _min, headers, method, url, status, _msg, _up, keepAlive) => {
    seen.heads.push({ method: b.methods[method] ?? '', url: url ?? '', status, headers: headers ?? [], keepAlive });
    return onHead;
  }) satisfies HeadersCompleteCallback;
  p[b.kOnBody] = (chunk: Buffer) => {
    seen.body += chunk.toString('latin1');
  };
  p[b.kOnMessageComplete] = () => {
    seen.complete += 1;
  };
  const result = p.execute(Buffer.from(input, 'latin1'));
  p.close();
  p.free();
  return { seen, result };
}

/** Parses what node:http itself would; any difference means this binding is not the one the engine was written for. */
function selfTest(b: LlhttpBinding): string | undefined {
  const req = 'POST /a?b=1 HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  const r = parseAll(b, b.REQUEST, req);
  const h = r.seen.heads[0];
  if (r.result !== req.length || h?.method !== 'POST' || h.url !== '/a?b=1' || r.seen.body !== 'abc' || r.seen.complete !== 1)
    return 'a chunked POST did not parse as expected';
  if (h.headers.join('|') !== 'Host|shop.test|Transfer-Encoding|chunked' || !h.keepAlive) return 'request headers differ';
  const res = 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
  const s = parseAll(b, b.RESPONSE, res);
  if (s.result !== res.length || s.seen.heads[0]?.status !== 201 || s.seen.body !== 'ok' || s.seen.complete !== 1)
    return 'a response did not parse as expected';
  // The upstream link stops after a head and counts a Content-Length body itself: execute must say where the head ended.
  const stopped = parseAll(b, b.RESPONSE, res, HEAD_STOP);
  if (stopped.result !== res.length - 2 || stopped.seen.body !== '') return 'a response stopped after its head did not say where';
  const smuggle = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
  const m = parseAll(b, b.REQUEST, smuggle);
  if (!(m.result instanceof Error)) return 'Content-Length with Transfer-Encoding was accepted (lenient parser?)';
  return undefined;
}

export type BindingVerdict = { readonly ok: true; readonly binding: LlhttpBinding } | { readonly ok: false; readonly reason: string };

let verdict: BindingVerdict | undefined;

/** The binding if it loads and passes the self-test (once per process), else why not. */
export function llhttpBinding(): BindingVerdict {
  if (verdict) return verdict;
  try {
    const binding = load();
    const failed = selfTest(binding);
    verdict = failed === undefined ? { ok: true, binding } : { ok: false, reason: `llhttp self-test failed: ${failed}` };
  } catch (err) {
    verdict = { ok: false, reason: `llhttp binding unavailable: ${(err as Error).message}` };
  }
  return verdict;
}
