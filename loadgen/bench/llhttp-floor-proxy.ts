/**
 * The limit for an HTTP/1.1 engine in Node, between the TCP pipe (no HTTP at all) and the gateway's
 * raw engine: the least a reverse proxy on Node's own llhttp binding (`HTTPParser` from
 * `_http_common`, as node:http and the raw engine use it) does. Each client connection gets its
 * own upstream TCP connection, as in tcp-pipe.ts. Request heads are parsed by llhttp in strict
 * mode (no lenient flags: a malformed head closes the connection and nothing reaches the
 * upstream), rewritten (hop-by-hop headers dropped; X-Forwarded-For, Via, X-Request-Id added) and
 * written upstream; response heads are parsed the same way, hop-by-hop headers dropped, Via and
 * `connection: keep-alive` added, and sent with the first piece of their body in one write.
 * llhttp only ever sees heads: a Content-Length body is counted and piped here, as the raw engine
 * does. No routing, no policy, no metrics, no pool: whatever the raw engine costs above this is
 * the gateway's, and what this costs above nginx is the price of an engine built this way (llhttp
 * through Node's binding, Node's sockets and streams), which cleverer I/O can shave but not undo.
 *
 * Left out, since the bench's workloads never need it:
 * - a chunked request body: answered 501 and the connection closed;
 * - a response without Content-Length (chunked or ended by close): its head goes out with
 *   `connection: close` (a chunked one keeps its Transfer-Encoding), its bytes pass through
 *   unparsed, and the connection closes after it;
 * - headers named in Connection are not removed; an incoming Via or X-Forwarded-For gets a second
 *   line rather than being folded into one.
 *
 * Prints {"ready":true,...} on stdout once listening; exits on SIGTERM / SIGINT.
 *
 *   llhttp-floor-proxy.ts --upstream http://127.0.0.1:PORT
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

/** The binding's headers-complete callback, in its argument order (see lib/_http_common.js). */
type HeadersComplete = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  statusCode: number,
  statusMessage: string | undefined,
) => number;

/** The few members of Node's HTTPParser used here (an internal API: typed locally, not imported from the gateway). */
interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes consumed, or an Error (code HPE_*) when the input is malformed. */
  execute(data: Buffer): number | Error;
  close(): void;
  [slot: number]: unknown;
}

interface HttpCommon {
  readonly HTTPParser: (new () => Parser) & {
    readonly REQUEST: number;
    readonly RESPONSE: number;
    readonly kOnHeaders: number;
    readonly kOnHeadersComplete: number;
    readonly kOnBody: number;
    readonly kOnMessageComplete: number;
    readonly kLenientNone: number;
  };
  readonly methods: readonly string[];
}

const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as HttpCommon;
const HEAD_METHOD = methods.indexOf('HEAD');

/** What headers-complete returns: parse the body (llhttp finds its end), or there is none to parse. */
const PARSE_BODY = 0;
const SKIP_BODY = 1;

/** node:http's default limit for a head. */
const MAX_HEAD_BYTES = 16 * 1024;
const VIA = 'llhttp-floor';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Most names are ruled out by their length alone, without lowercasing them. */
const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((n) => n.length));

function hopByHop(name: string): boolean {
  return HOP_BY_HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase());
}

function named(name: string, lower: string): boolean {
  return name.length === lower.length && name.toLowerCase() === lower;
}

const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;

/**
 * Finds where a head ends (just past its blank line) in a stream of reads, so llhttp is fed the
 * head and never the body behind it. A blank line may be split across two reads: `matched`
 * remembers how much of CR LF CR LF the bytes fed so far ended with.
 */
class HeadEnd {
  private matched = 0;

  /** The index in `chunk` just past the end of the head, or -1 when it does not end in `chunk`. */
  find(chunk: Buffer, from: number): number {
    if (this.matched > 0) {
      let m = this.matched;
      for (let i = from; i < chunk.length && chunk[i] === BLANK_LINE[m]; i++) {
        if (++m === 4) {
          this.matched = 0;
          return i + 1;
        }
      }
    }
    const end = chunk.indexOf(BLANK_LINE, from);
    if (end !== -1) {
      this.matched = 0;
      return end + 4;
    }
    // How much of the blank line the bytes fed so far end with depends on their last 3 bytes alone.
    let m = chunk.length - from >= 3 ? 0 : this.matched;
    for (let i = Math.max(from, chunk.length - 3); i < chunk.length; i++) {
      const b = chunk[i]!;
      m = b === BLANK_LINE[m] ? m + 1 : b === CR ? 1 : 0;
    }
    this.matched = m;
    return -1;
  }
}

/** What llhttp hands over before headers-complete when a head has more than 32 headers. */
class EarlyHeaders {
  headers: string[] = [];
  url = '';

  /** The head's headers, whether llhttp passed them to headers-complete or flushed them here first. */
  take(passed: string[] | undefined): string[] {
    if (passed !== undefined) return passed;
    const h = this.headers;
    this.headers = [];
    return h;
  }
}

/** One client connection and its upstream connection. */
class FloorConnection {
  private readonly request = new HTTPParser();
  private readonly response = new HTTPParser();
  private readonly requestEnd = new HeadEnd();
  private readonly responseEnd = new HeadEnd();
  private readonly forwardedFor: string;
  /** Per request sent upstream and not yet answered: whether it was a HEAD (its reply has no body). */
  private readonly inFlight: boolean[] = [];
  private readonly earlyRequest = new EarlyHeaders();
  private readonly earlyResponse = new EarlyHeaders();
  /** Request body bytes still to pipe upstream. */
  private requestBody = 0;
  /** A request head waiting for the first piece of its body in the same read, to go out in one write with it. */
  private pendingRequestHead = '';
  /** Response body bytes still to pipe to the client. */
  private responseBody = 0;
  /** A response head waiting for the first piece of its body, to go out in one write with it. */
  private pendingHead = '';
  /** The response in progress has no Content-Length: its bytes pass through, and the connection closes after it. */
  private unframed = false;
  private closing = false;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
  ) {
    this.forwardedFor = client.remoteAddress ?? '';
    init(this.request, HTTPParser.REQUEST, this.earlyRequest, this.onRequestHead, () => undefined);
    init(this.response, HTTPParser.RESPONSE, this.earlyResponse, this.onResponseHead, this.onResponseComplete);
    client.on('data', this.onClientData);
    upstream.on('data', this.onUpstreamData);
    // Backpressure: a side that cannot write pauses the side that feeds it until it drains.
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    // Half-closes pass through (both sockets allow them), so a reply still reaches a client that sent FIN.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.once('close', () => {
      upstream.destroy();
      this.request.close();
    });
    upstream.once('close', () => {
      if (!client.writableEnded) client.end();
      this.response.close();
    });
  }

  private toUpstream(data: Buffer | string): void {
    if (!this.upstream.write(data, 'latin1')) this.client.pause();
  }

  private toClient(data: Buffer | string): void {
    if (!this.client.write(data, 'latin1')) this.upstream.pause();
  }

  /** Sends the request head still held back (its body did not come in the same read). */
  private flushRequestHead(): void {
    if (this.pendingRequestHead === '' || this.closing) return;
    const head = this.pendingRequestHead;
    this.pendingRequestHead = '';
    this.toUpstream(head);
  }

  private destroy(): void {
    this.closing = true;
    this.client.destroy();
    this.upstream.destroy();
  }

  private readonly onClientData = (chunk: Buffer): void => {
    let at = 0;
    while (at < chunk.length && !this.closing) {
      if (this.requestBody > 0) {
        const n = Math.min(this.requestBody, chunk.length - at);
        const body = n === chunk.length ? chunk : chunk.subarray(at, at + n);
        this.requestBody -= n;
        at += n;
        if (this.pendingRequestHead === '') this.toUpstream(body);
        else {
          this.toUpstream(headWithBody(this.pendingRequestHead, body));
          this.pendingRequestHead = '';
        }
        continue;
      }
      const end = this.requestEnd.find(chunk, at);
      const piece = at === 0 && (end === -1 || end === chunk.length) ? chunk : chunk.subarray(at, end === -1 ? chunk.length : end);
      if (typeof this.request.execute(piece) !== 'number') {
        this.destroy();
        return;
      }
      at += piece.length;
    }
    // Its body comes in a later read (or only after a 100 Continue): the head goes now.
    this.flushRequestHead();
  };

  private readonly onRequestHead: HeadersComplete = (_major, minor, headers, method, url) => {
    const target = url ?? this.earlyRequest.url;
    this.earlyRequest.url = '';
    const fields = this.earlyRequest.take(headers);
    let head = `${methods[method]} ${target} HTTP/1.1\r\n`;
    let length = 0;
    let chunked = false;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (hopByHop(name)) {
        if (named(name, 'transfer-encoding')) chunked = true;
        continue;
      }
      if (named(name, 'content-length')) length = Number(value);
      head += `${name}: ${value}\r\n`;
    }
    if (chunked) {
      this.refuseChunked();
      return SKIP_BODY;
    }
    head += `x-forwarded-for: ${this.forwardedFor}\r\nvia: 1.${minor} ${VIA}\r\nx-request-id: ${randomUUID()}\r\n\r\n`;
    if (length > 0) this.pendingRequestHead = head;
    else this.toUpstream(head);
    this.inFlight.push(method === HEAD_METHOD);
    this.requestBody = length;
    return SKIP_BODY;
  };

  /** A 501 when no earlier request awaits its reply (it would come first), then close either way. */
  private refuseChunked(): void {
    this.closing = true;
    this.upstream.destroy();
    if (this.inFlight.length === 0)
      this.client.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n', 'latin1');
    else this.client.destroy();
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    let at = 0;
    while (at < chunk.length && !this.closing) {
      if (this.responseBody > 0) {
        const n = Math.min(this.responseBody, chunk.length - at);
        const body = n === chunk.length ? chunk : chunk.subarray(at, at + n);
        this.responseBody -= n;
        at += n;
        if (this.pendingHead === '') this.toClient(body);
        else {
          this.toClient(headWithBody(this.pendingHead, body));
          this.pendingHead = '';
        }
        continue;
      }
      if (this.unframed) {
        // Passed through as it came; llhttp only watches for the end of a chunked body.
        const rest = at === 0 ? chunk : chunk.subarray(at);
        this.toClient(rest);
        if (typeof this.response.execute(rest) !== 'number') this.destroy();
        return;
      }
      const end = this.responseEnd.find(chunk, at);
      const piece = at === 0 && (end === -1 || end === chunk.length) ? chunk : chunk.subarray(at, end === -1 ? chunk.length : end);
      if (typeof this.response.execute(piece) !== 'number') {
        this.destroy();
        return;
      }
      at += piece.length;
    }
  };

  private readonly onResponseHead: HeadersComplete = (_major, minor, headers, _method, _url, status, message) => {
    const fields = this.earlyResponse.take(headers);
    // After a body without Content-Length the connection closes: whatever came behind it is not answered.
    if (this.closing) return SKIP_BODY;
    if (status === 101) {
      // No request asks for an upgrade (Upgrade is hop-by-hop, so it never reaches the upstream).
      this.destroy();
      return SKIP_BODY;
    }
    const informational = status < 200;
    const headRequest = !informational && this.inFlight.shift() === true;
    let head = `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
    let length = -1;
    let transferEncoding = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (hopByHop(name)) {
        if (named(name, 'transfer-encoding')) transferEncoding = transferEncoding === '' ? value : `${transferEncoding}, ${value}`;
        continue;
      }
      if (named(name, 'content-length')) length = Number(value);
      head += `${name}: ${value}\r\n`;
    }
    head += `via: 1.${minor} ${VIA}\r\n`;
    if (informational) {
      this.toClient(`${head}\r\n`);
      return SKIP_BODY;
    }
    if (headRequest || status === 204 || status === 304 || length === 0) {
      this.toClient(`${head}connection: keep-alive\r\n\r\n`);
      return SKIP_BODY;
    }
    if (length > 0) {
      this.pendingHead = `${head}connection: keep-alive\r\n\r\n`;
      this.responseBody = length;
      return SKIP_BODY;
    }
    this.unframed = true;
    const framing = transferEncoding === '' ? '' : `transfer-encoding: ${transferEncoding}\r\n`;
    this.toClient(`${head}${framing}connection: close\r\n\r\n`);
    return PARSE_BODY;
  };

  private readonly onResponseComplete = (): void => {
    if (!this.unframed || this.closing) return;
    // A chunked body ended: the client was told the connection closes after it.
    this.closing = true;
    this.client.end();
    this.upstream.destroy();
  };
}

function init(p: Parser, type: number, early: EarlyHeaders, onHead: HeadersComplete, onComplete: () => void): void {
  p.initialize(type, {}, MAX_HEAD_BYTES, HTTPParser.kLenientNone);
  p[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    for (const h of headers) early.headers.push(h);
    early.url += url;
  };
  p[HTTPParser.kOnHeadersComplete] = onHead;
  p[HTTPParser.kOnBody] = () => undefined;
  p[HTTPParser.kOnMessageComplete] = onComplete;
}

/** The head and the first piece of its body in one buffer: one write, one segment. */
function headWithBody(head: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
if (!values.upstream) throw new Error('llhttp-floor-proxy: --upstream URL is required');
const target = new URL(values.upstream);
const sockets = new Set<Socket>();

const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = connect({ host: target.hostname, port: Number(target.port), noDelay: true, allowHalfOpen: true });
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  }
  new FloorConnection(client, upstream);
});

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${a.port}`, port: a.port })}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
