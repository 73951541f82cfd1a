import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayErrorCode } from '../errors.js';
import { closeLingering } from '../proxy/lingering-close.js';
import type { ClientReply, Framing } from './client-reply.js';
import { SendStall } from './send-stall.js';
import { appendHeaderList, copyOut, headWithBody, requestHeadBytes, writeCut } from './head-fields.js';
import { HEAD_CONTINUE, HEAD_STOP, type HeadersCompleteCallback, type LlhttpBinding, type LlhttpParser } from './llhttp-binding.js';
import { RawRequest } from './raw-request.js';

export interface ClientTimeouts {
  /** From the first byte of a request to the end of its head (slowloris). */
  readonly headersMs: number;
  /** From the end of the head to the end of the body. */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
  /** A reply the client takes nothing of for this long is cut. */
  readonly sendMs: number;
}

/** What a client connection asks of the engine. */
export interface ConnectionServices {
  readonly binding: LlhttpBinding;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly timeouts: ClientTimeouts;
  /** The header lines of a response after which the connection stays open. */
  readonly keepAliveLines: string;
  /**
   * Takes a request whose head was parsed (synchronously, inside the parser's callback): 'raw' it is
   * being served here; 'hold' a fence holds it (its body unread: the parser stops after the head) and
   * the engine calls res.proceed() or res.handOver() when it is let go, or answers it; 'node' it is
   * not ours, and the connection, this request first, goes to node:http.
   */
  begin(req: RawRequest, res: RawResponse): 'raw' | 'hold' | 'node';
  /** `stateful`: handed over for what the app's state asks (a mirror), not for what the client does (pipelining, Upgrade). */
  handOff(socket: Socket, bytes: Buffer, stateful: boolean): void;
  /** A request refused by the parser or the client timeouts (counted and logged by the engine). */
  clientError(code: GatewayErrorCode, detail: string): void;
  shuttingDown(): boolean;
}

const PARSER_CODES: Record<string, GatewayErrorCode> = { HPE_HEADER_OVERFLOW: 'NW_GW_HEADERS_TOO_LARGE' };
const STATUS_OF: Partial<Record<GatewayErrorCode, number>> = {
  NW_GW_HEADERS_TOO_LARGE: 431,
  NW_GW_BODY_TOO_LARGE: 413,
  NW_GW_CLIENT_TIMEOUT: 408,
  NW_GW_BAD_REQUEST: 400,
};

let dateSecond = 0;
let dateValue = '';
/** The Date header, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

function hasDate(list: readonly string[]): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === 'date') return true;
  return false;
}

type TimerKind = 'idle' | 'headers' | 'request' | 'none';

/**
 * One client connection of the raw engine: llhttp (strict) parses what the client sends, one
 * request is served at a time, and the response is written to the socket as bytes. A request the
 * engine does not serve itself (an Upgrade, `Expect`, HTTP/1.0, an app under mirror) and any
 * request pipelined behind another hands the whole connection to node:http: the parser stops right
 * after that request's head, which is written back in front of the unparsed bytes.
 */
export class ClientConnection {
  private readonly parser: LlhttpParser;
  private current: RawResponse | undefined;
  /** A head the parser stopped at, with the bytes after it: the connection goes to node:http with them. */
  private parked: { head: Buffer; rest: Buffer | undefined; stateful: boolean } | undefined;
  private stopped = false;
  /** Bytes after the current request were refused: it is answered, then the connection closes, nothing more is read. */
  private ending = false;
  /** Bytes of the current request's Content-Length body still to come (counted here, not parsed). */
  private bodyLeft = 0;
  /** The held request whose head is being parsed again (proceed). */
  private resumed: RawResponse | undefined;
  private flushedHeaders: string[] = [];
  private flushedUrl = '';
  /**
   * When the current stage (timerKind) started, as the engine's tick first saw it (-1 until then):
   * no clock is read per request, and a timeout never fires early (at most two ticks late).
   */
  private stageSince = -1;
  private timerKind: TimerKind = 'none';
  private closed = false;
  private readonly flow = { pause: () => this.socket.pause(), resume: () => this.resumeReading() };

  constructor(
    readonly socket: Socket,
    private readonly svc: ConnectionServices,
  ) {
    const b = svc.binding;
    const p = b.create();
    p.initialize(b.REQUEST, {}, svc.maxHeaderBytes, b.kLenientNone);
    p[b.kOnHeaders] = this.onHeaders;
    p[b.kOnHeadersComplete] = this.onHeadersComplete;
    p[b.kOnBody] = this.onBody;
    p[b.kOnMessageComplete] = this.onMessageComplete;
    this.parser = p;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', noop);
    socket.on('close', this.onClose);
    this.arm('headers');
  }

  /** Closes the connection when it is between requests (shutdown); one in progress gets `connection: close`. */
  closeIfIdle(): boolean {
    if (this.current !== undefined || this.closed) return false;
    this.socket.destroy();
    return true;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.ending) return;
    if (this.timerKind === 'idle') this.arm('headers');
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft > 0) {
        at += this.passBody(chunk, at);
        continue;
      }
      const piece = at === 0 ? chunk : chunk.subarray(at);
      const r = this.parser.execute(piece);
      if (typeof r !== 'number') {
        this.parseFailed(r.code, r.reason ?? r.message);
        return;
      }
      if (this.stopped) {
        this.stopped = false;
        // Stopped at a head on a connection closing lingering: it reads on and drops what comes.
        if (this.closed) return;
        this.socket.pause();
        const rest = r < piece.length ? piece.subarray(r) : undefined;
        if (this.parked) this.parked.rest = rest;
        if (this.current === undefined) this.handOff();
        return;
      }
      if (this.bodyLeft === 0) return;
      // Stopped after a head whose Content-Length body is counted here: the parser starts afresh
      // for the next request, after the body. Afresh, not just resumed: the binding resumes llhttp
      // as after an upgrade, and a parser left so reports an invalid next message as a pause, not an error.
      const b = this.svc.binding;
      this.parser.initialize(b.REQUEST, {}, this.svc.maxHeaderBytes, b.kLenientNone);
      at += r;
    }
  };

  /** Bytes of a counted (Content-Length) request body from `at` on; returns how many were body. */
  private passBody(chunk: Buffer, at: number): number {
    const n = Math.min(chunk.length - at, this.bodyLeft);
    this.bodyLeft -= n;
    const cur = this.current;
    if (cur !== undefined) {
      cur.req.pushBody(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
      if (cur.req.bodyBytes > this.svc.maxBodyBytes) {
        this.bodyLeft = 0;
        this.svc.clientError('NW_GW_BODY_TOO_LARGE', `over ${this.svc.maxBodyBytes} bytes`);
        this.refuse('NW_GW_BODY_TOO_LARGE');
        return chunk.length - at;
      }
    }
    if (this.bodyLeft === 0) this.messageComplete();
    return n;
  }

  private readonly onHeaders = (headers: string[], url: string): void => {
    // More header lines than the binding passes at once: they come in pieces before the head completes.
    for (const h of headers) this.flushedHeaders.push(h);
    this.flushedUrl += url;
  };

  private readonly onHeadersComplete: HeadersCompleteCallback = (major, minor, headers, method, url, _s, _m, upgrade, keepAlive) => {
    let raw = headers ?? [];
    if (this.flushedHeaders.length > 0) {
      raw = [...this.flushedHeaders, ...raw];
      this.flushedHeaders = [];
    }
    const target = url || this.flushedUrl;
    this.flushedUrl = '';
    const name = this.svc.binding.methods[method] ?? 'GET';
    const resumed = this.resumed;
    if (resumed !== undefined) {
      // The head of a held request, parsed again now that it is let go: its body follows.
      this.resumed = undefined;
      this.arm('request');
      return HEAD_CONTINUE;
    }
    if (this.closed) {
      this.stopped = true;
      return HEAD_STOP;
    }
    const req = new RawRequest(name, target, minor, raw, keepAlive, this.flow);
    // Pipelined behind a request still being served: node:http takes the connection from here.
    if (this.current !== undefined || major !== 1 || minor !== 1 || upgrade) return this.park(name, target, minor, raw);
    const res = new RawResponse(this, req);
    this.current = res;
    const verdict = this.svc.begin(req, res);
    if (verdict === 'node') {
      this.current = undefined;
      const stop = this.park(name, target, minor, raw);
      this.parked!.stateful = true;
      return stop;
    }
    if (verdict === 'hold') {
      res.held = true;
      this.arm('none');
      return this.park(name, target, minor, raw);
    }
    if (this.current !== res) return HEAD_CONTINUE;
    this.arm('request');
    // A Content-Length body on a connection that stays open is counted here, not run through the
    // parser (no copy of it, no callback per piece); the parser has checked the framing headers.
    // After `connection: close` the parser goes on, so that it refuses whatever follows.
    const length = req.declaredLength;
    if (length === undefined || length === 0 || !keepAlive || req.headers['transfer-encoding'] !== undefined) return HEAD_CONTINUE;
    this.bodyLeft = length;
    return HEAD_STOP;
  };

  /** Stops the parser right after this head; the head and the bytes after it are kept as they came. */
  private park(method: string, target: string, minor: number, raw: readonly string[]): number {
    this.parked = { head: requestHeadBytes(method, target, minor, raw), rest: undefined, stateful: false };
    this.stopped = true;
    return HEAD_STOP;
  }

  /** A held request goes on here: its head and what followed are parsed again, the body into the same request. */
  proceed(res: RawResponse): void {
    const parked = this.parked;
    if (this.current !== res || parked === undefined || this.closed) return;
    this.parked = undefined;
    res.held = false;
    const b = this.svc.binding;
    this.parser.initialize(b.REQUEST, {}, this.svc.maxHeaderBytes, b.kLenientNone);
    this.resumed = res;
    // Resumed before the parse, not after: the parse may pause the socket again (a request pipelined
    // behind this one parked, or a body nobody reads yet), and that pause must stand. Reading on past
    // a parked head would parse that request's body as requests of their own.
    this.socket.resume();
    this.onData(parked.rest ? Buffer.concat([parked.head, parked.rest]) : parked.head);
  }

  /** A held request goes to node:http, with its connection. */
  handOver(res: RawResponse): void {
    if (this.current !== res) return;
    this.current = undefined;
    if (this.parked) this.parked.stateful = true;
    this.handOff();
  }

  private readonly onBody = (chunk: Buffer): void => {
    const cur = this.current;
    if (cur === undefined) return;
    cur.req.pushBody(chunk);
    if (cur.req.bodyBytes > this.svc.maxBodyBytes) {
      this.svc.clientError('NW_GW_BODY_TOO_LARGE', `over ${this.svc.maxBodyBytes} bytes`);
      this.refuse('NW_GW_BODY_TOO_LARGE');
    }
  };

  private readonly onMessageComplete = (): void => {
    // llhttp completes a message it was told to stop after (as an upgrade): that one is parked, or
    // its body counted, not done.
    if (this.stopped || this.bodyLeft > 0) return;
    this.messageComplete();
  };

  private messageComplete(): void {
    const cur = this.current;
    if (cur === undefined) return;
    if (this.timerKind === 'request') this.arm('none');
    cur.req.endBody();
  }

  private parseFailed(parserCode: string, reason: string): void {
    const code = PARSER_CODES[parserCode] ?? 'NW_GW_BAD_REQUEST';
    this.svc.clientError(code, `${parserCode}: ${reason}`);
    const cur = this.current;
    // What is refused is what came after a whole request, not that request: it may be a write its
    // app is committing, so it gets its app's answer (a 400 in its place would report it failed), then
    // the connection closes, as after `connection: close`.
    if (cur?.req.complete && !this.closed) {
      this.ending = true;
      this.socket.pause();
      return;
    }
    this.refuse(code);
  }

  /** A 4xx of our own for a request that never reached an app, then the connection closes. */
  private refuse(code: GatewayErrorCode): void {
    const cur = this.current;
    // One request, one response: a reply already on its way gets no second one behind it.
    if (this.closed || cur?.headersSent) {
      this.socket.destroy();
      return;
    }
    this.current = undefined;
    cur?.req.detach();
    cur?.abandon();
    const status = STATUS_OF[code] ?? 400;
    const body = JSON.stringify({ error: { code, message: STATUS_CODES[status] } });
    this.socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ndate: ${httpDate()}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\nx-northwest-error: ${code}\r\n\r\n${body}`,
    );
    this.closeLingering();
  }

  /** Closes after the last reply, lingering (proxy/lingering-close.ts): the parser sees nothing more. */
  private closeLingering(): void {
    const wasClosed = this.closed;
    this.closed = true;
    this.arm('none');
    if (!wasClosed) closeLingering(this.socket);
  }

  private readonly onDrain = (): void => {
    this.current?.drained();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.arm('none');
    const cur = this.current;
    this.current = undefined;
    cur?.clientGone();
    this.parser.close();
  };

  private resumeReading(): void {
    if (!this.closed && !this.ending && this.parked === undefined) this.socket.resume();
  }

  /**
   * Starts the timeout of a stage of the connection. No timer and no clock per request: the engine
   * checks every connection on one interval (as node:http checks its headers and request timeouts),
   * the first check after the stage began stamps its start, so a timeout fires up to two check
   * intervals late, never early.
   */
  private arm(kind: TimerKind): void {
    this.timerKind = this.closed ? 'none' : kind;
    this.stageSince = -1;
  }

  /** From the engine's tick: whether the current stage ran out of time (then it is handled here). */
  checkTimeout(now: number): void {
    const kind = this.timerKind;
    if (kind === 'none') return;
    if (this.stageSince < 0) {
      this.stageSince = now;
      return;
    }
    const t = this.svc.timeouts;
    const ms = kind === 'idle' ? t.keepAliveMs : kind === 'headers' ? t.headersMs : t.requestMs;
    if (now - this.stageSince >= ms) this.timedOut();
  }

  private readonly timedOut = (): void => {
    const kind = this.timerKind;
    this.timerKind = 'none';
    if (kind === 'idle') {
      this.socket.destroy();
      return;
    }
    this.svc.clientError('NW_GW_CLIENT_TIMEOUT', kind === 'headers' ? 'request head too slow' : 'request body too slow');
    this.refuse('NW_GW_CLIENT_TIMEOUT');
  };

  /** The response of the current request finished: the connection reads the next one, or closes. */
  responseFinished(res: RawResponse, keepOpen: boolean): void {
    if (this.current !== res) return;
    this.current = undefined;
    // A held request answered without its body: the parked bytes are its own, not a next request.
    if (res.held) this.parked = undefined;
    if (!keepOpen || this.closed || res.held || this.ending) {
      this.closeLingering();
      return;
    }
    if (this.parked !== undefined) {
      this.handOff();
      return;
    }
    this.arm('idle');
    this.socket.resume();
  }

  private handOff(): void {
    const parked = this.parked;
    if (parked === undefined || this.closed) return;
    this.parked = undefined;
    this.arm('none');
    this.socket.off('data', this.onData);
    this.socket.off('drain', this.onDrain);
    this.socket.off('close', this.onClose);
    this.socket.off('error', noop);
    this.parser.close();
    this.closed = true;
    this.svc.handOff(this.socket, parked.rest ? Buffer.concat([parked.head, parked.rest]) : parked.head, parked.stateful);
  }

  /** The connection closes after the current reply (shutdown, or refused bytes after its request). */
  get closesAfterReply(): boolean {
    return this.ending || this.svc.shuttingDown();
  }

  /** `connection: keep-alive` and `keep-alive: timeout=N` lines (as node:http sends them). */
  get keepAliveLines(): string {
    return this.svc.keepAliveLines;
  }

  get sendTimeoutMs(): number {
    return this.svc.timeouts.sendMs;
  }
}

function noop(): void {}

const EMPTY = Buffer.alloc(0);

/**
 * The reply to one request of a ClientConnection (HTTP/1.1), written as bytes: the head (status line,
 * headers, framing) goes out corked with the first body bytes. `onDrain` and `onGone` are the
 * writer's (an upstream call or a gateway reply).
 */
export class RawResponse implements ClientReply {
  headersSent = false;
  finished = false;
  /** The client connection closed (or was cut) before this response finished. */
  gone = false;
  status = 0;
  /** Called when the client's buffer drained after write() returned false. */
  onDrain: (() => void) | undefined = undefined;
  /** Called once if the client goes away before the response finished. */
  onGone: (() => void) | undefined = undefined;
  /** A fence holds this request; the parser stopped after its head. */
  held = false;
  /** Called once when the response is over: finished, or its client gone. */
  onDone: ((res: ClientReply) => void) | undefined = undefined;
  /** Body bytes written (no head, no chunk framing): the access log's `bytes`. */
  bytesSent = 0;
  /** From the request going upstream to the upstream's response head (set by UpstreamCall): the access log's `upstreamMs`. */
  upstreamMs: number | undefined = undefined;
  private chunked = false;
  private closeAfter = false;
  private head: string | undefined;
  private stall: SendStall | undefined;

  constructor(
    private readonly conn: ClientConnection,
    readonly req: RawRequest,
  ) {}

  get socket(): Socket {
    return this.conn.socket;
  }

  /**
   * The status line and headers (`list`: name, value, ...), sent with the first body bytes or end().
   * With 'length' the list carries content-length; 'chunked' adds transfer-encoding.
   */
  writeHead(status: number, list: readonly string[], framing: Framing): void {
    if (this.headersSent || this.gone) return;
    this.headersSent = true;
    this.status = status;
    const req = this.req;
    // A body the client is still sending that nobody will read desynchronises the connection: close after.
    this.closeAfter = !req.keepAlive || this.conn.closesAfterReply || this.held || (req.hasBody && !req.complete);
    let head = appendHeaderList(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`, list);
    if (framing === 'chunked') {
      this.chunked = true;
      head += 'transfer-encoding: chunked\r\n';
    }
    // As node:http says it: a client then knows how long an idle connection stays.
    head += this.closeAfter ? 'connection: close\r\n' : this.conn.keepAliveLines;
    // The app's Date stands (as node:http keeps a Date set on the response); our replies get one.
    this.head = hasDate(list) ? `${head}\r\n` : `${head}date: ${httpDate()}\r\n\r\n`;
  }

  /** Writes body bytes; false when the client's buffer is full (wait for onDrain). */
  write(chunk: Buffer, lent = false): boolean {
    if (this.gone || chunk.length === 0) return !this.gone;
    this.bytesSent += chunk.length;
    const room = this.send(chunk, false, lent);
    if (!room) this.waitForDrain();
    return room;
  }

  /** Ends the response (with a last piece of body, if given). */
  end(last?: Buffer | string): void {
    if (this.finished || this.gone) return;
    this.finished = true;
    const body = last === undefined ? EMPTY : typeof last === 'string' ? Buffer.from(last) : last;
    this.bytesSent += body.length;
    this.send(body, true);
    this.stopSendTimer();
    this.conn.responseFinished(this, !this.closeAfter);
    this.done();
  }

  /**
   * A piece of body, with the head in front if it has not gone yet and the chunked framing around
   * it: one buffer and one write when the piece is small (no cork, so no writev of strings).
   */
  private send(body: Buffer, last: boolean, lent = false): boolean {
    const s = this.conn.socket;
    const head = this.head;
    this.head = undefined;
    if (head === undefined && !this.chunked) {
      if (body.length === 0) return true;
      return lent ? writeCut(s, copyOut(body)) : s.write(body);
    }
    // Copied into one buffer with the head (lent bytes included), given back once written.
    const one = headWithBody(head ?? '', body, this.chunked, last);
    if (one !== undefined) return writeCut(s, one);
    s.cork();
    if (head !== undefined) s.write(head, 'latin1');
    if (this.chunked) s.write(`${body.length.toString(16)}\r\n`, 'latin1');
    let room = s.write(lent ? Buffer.from(body) : body);
    if (this.chunked) room = s.write(last ? '\r\n0\r\n\r\n' : '\r\n', 'latin1');
    s.uncork();
    return room;
  }

  private done(): void {
    const f = this.onDone;
    this.onDone = undefined;
    f?.(this);
  }

  /** A held request goes on in this engine (see ClientConnection.proceed). */
  proceed(): void {
    this.conn.proceed(this);
  }

  /** A held request goes to node:http with its connection. */
  handOver(): void {
    this.conn.handOver(this);
  }

  /** Cuts the connection: the client sees the response end early. */
  destroy(): void {
    if (this.gone) return;
    this.conn.socket.destroy();
  }

  private waitForDrain(): void {
    this.stall ??= new SendStall(this.conn.sendTimeoutMs, () => this.conn.socket.destroy());
    this.stall.arm();
  }

  /** Set when the connection was cut because the client took nothing for the send timeout. */
  get sendStalled(): boolean {
    return this.stall?.stalled === true;
  }

  private stopSendTimer(): void {
    this.stall?.stop();
  }

  /** From the connection: the client's buffer drained. */
  drained(): void {
    this.stopSendTimer();
    this.onDrain?.();
  }

  /** From the connection: the client went away. */
  clientGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.stopSendTimer();
    const f = this.onGone;
    this.onGone = undefined;
    f?.();
    this.done();
  }

  /** The connection answered this request itself (a parser error after the head): nobody writes here any more. */
  abandon(): void {
    this.clientGone();
  }
}
