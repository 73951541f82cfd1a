import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { GatewayError } from '../errors.js';
import { upstreamTlsOptions, type UpstreamTls } from '../tls/upstream-tls.js';
import {
  HEAD_CONTINUE,
  HEAD_SKIP_BODY,
  HEAD_STOP,
  type HeadersCompleteCallback,
  type LlhttpBinding,
  type LlhttpParser,
} from './llhttp-binding.js';

/** What an upstream link reports to the call that owns it for one exchange. */
export interface LinkListener {
  /** A response head (1xx included); the return value is what llhttp is told (skip the body of a reply to HEAD). */
  head(status: number, raw: readonly string[], keepAlive: boolean): number;
  /** Body bytes; `lent`: valid during this call only (the pool's read buffer), copied by whoever keeps them. */
  body(chunk: Buffer, lent: boolean): void;
  complete(): void;
  /** The connection failed or closed before the response completed; `err` says how. */
  failed(err: GatewayError): void;
  /** The socket drained after a write returned false. */
  drained(): void;
  /** Nothing came from the server for the socket's timeout (set by the call). */
  timedOut(): void;
}

export interface LinkOptions {
  readonly connectTimeoutMs: number;
  /** An idle kept-alive connection is closed after this; shorter than the usual app keep-alive (node: 5 s). */
  readonly keepAliveMs: number;
  /** How often sweep() runs: a link is closed up to two of these after its idle limit (default 0). */
  readonly sweepMs?: number;
  readonly connections: number;
  /** How long a call may wait for a free connection when all are busy. */
  readonly queueTimeoutMs: number;
  /** Set for an https:// server: connections are TLS, checked with this CA and name. */
  readonly tls?: UpstreamTls | undefined;
}

/**
 * One kept-alive connection to an app server, with the llhttp response parser that finds where
 * each response ends. Its listeners are fixed for its life and pass events to the current call.
 */
export class UpstreamLink {
  listener: LinkListener | undefined;
  /** Whether this connection already carried a response: a reset on it may be the server closing an idle connection. */
  reused = false;
  /**
   * How long the server said it keeps this connection idle (`Keep-Alive: timeout=N` on its last
   * reply, less a second for the request on its way), in ms; undefined when it did not say.
   */
  serverKeepAliveMs: number | undefined;
  private readonly parser: LlhttpParser;
  /**
   * When it went back to the pool, as the pool's sweep first saw it idle (-1 until then): the
   * sweep closes it after keepAliveMs. No clock is read per request.
   */
  idleSince = -1;
  /** The inactivity timeout of the current exchange (0: none); checked by the pool's sweep, no timer per socket. */
  private timeoutMs = 0;
  /** Something came from the server (or the timeout was set) since the last sweep. */
  private active = false;
  /** When the sweep last saw activity (or first saw the deadline). */
  private activeAt = 0;
  /** The timeout is a deadline (deadlineIn), not refreshed by activity. */
  private deadline = false;
  /** The deadline was set and no sweep has stamped its start yet. */
  private deadlinePending = false;

  /** Header lines of the head being parsed that the binding passed before the head completed. */
  private flushedHeaders: string[] = [];
  /** Bytes of the current response's Content-Length body still to come (passed on without the parser). */
  private bodyLeft = 0;
  /**
   * The parser's last byte ended a message (or it was just initialized): the next bytes start a
   * head, so the parser can be given that head alone (up to its blank line) and told to skip the
   * body, with no initialize per response. Cleared by any other execute: after one that did not end
   * exactly at a message's end the parser's place is not known here, and it is initialized when
   * the next exchange's first bytes come (fresh).
   */
  private atStart = true;
  /** The parser is being given one head alone (see atStart). */
  private headOnly = false;
  /** Bytes follow that head in the same read (the final reply of a 1xx, or bytes nobody asked for). */
  private bytesAfterHead = false;
  /** The status of the last head parsed: a 1xx is followed by the final reply. */
  private status = 0;
  /** A message completed in the current execute. */
  private completed = false;
  /** A call took the link and no byte of its response came yet. */
  private fresh = false;

  /**
   * `lentReads`: the socket reads into a buffer of the pool's (net's `onread`) and the pool calls
   * read() with each piece: no buffer and no stream event per read, but the bytes are only lent,
   * so a body piece is copied before it is passed on. Otherwise the link listens to 'data'.
   */
  constructor(
    readonly socket: Socket,
    private readonly binding: LlhttpBinding,
    private readonly pool: LinkPool,
    private readonly lentReads = false,
  ) {
    const p = binding.create();
    p.initialize(binding.RESPONSE, {}, MAX_RESPONSE_HEAD_BYTES, binding.kLenientNone);
    p[binding.kOnHeaders] = this.onHeaders;
    p[binding.kOnHeadersComplete] = this.onHead;
    p[binding.kOnBody] = this.onBody;
    p[binding.kOnMessageComplete] = this.onComplete;
    this.parser = p;
    if (!lentReads) socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  /**
   * From the pool's sweep: whether the server sent nothing for the timeout (then the call is told).
   * Activity is stamped with the time of the first sweep after it, so a timeout never fires early,
   * and at most two sweeps late.
   */
  checkTimeout(now: number): void {
    if (this.listener === undefined || this.timeoutMs === 0) return;
    if (this.active) {
      this.active = false;
      // A deadline is stamped once, when set; an inactivity timeout by every activity.
      if (!this.deadline || this.deadlinePending) {
        this.deadlinePending = false;
        this.activeAt = now;
        return;
      }
    }
    if (now - this.activeAt < this.timeoutMs) return;
    this.activeAt = now;
    this.listener.timedOut();
  }

  private readonly onHeaders = (headers: string[]): void => {
    // More header lines than the binding passes at once (32): they come in pieces before the head completes.
    for (const h of headers) this.flushedHeaders.push(h);
  };

  private readonly onHead: HeadersCompleteCallback = (_maj, _min, headers, _m, _u, status, _sm, _up, keepAlive) => {
    let raw = headers ?? [];
    if (this.flushedHeaders.length > 0) {
      raw = [...this.flushedHeaders, ...raw];
      this.flushedHeaders = [];
    }
    this.status = status;
    const l = this.listener;
    if (l === undefined) return HEAD_CONTINUE;
    if (status >= 200) this.serverKeepAliveMs = keepAliveHintMs(raw);
    const verdict = l.head(status, raw, keepAlive);
    if (verdict !== HEAD_CONTINUE || status < 200) return verdict;
    const length = contentLengthOf(raw);
    if (length === undefined || length === 0) return verdict;
    // A Content-Length body is passed on as the bytes that come, counted here: the parser stops
    // after the head (it has checked the framing headers) and is not run over the body, so no copy
    // of it is made and no callback per piece is called.
    this.bodyLeft = length;
    // Given the head alone, the parser completes the message here and waits for the next head;
    // otherwise it stops (as after an upgrade) and is initialized before the body is counted.
    return this.headOnly ? HEAD_SKIP_BODY : HEAD_STOP;
  };

  private readonly onBody = (chunk: Buffer): void => {
    // The binding hands over a copy of each piece it reports.
    this.listener?.body(chunk, false);
  };

  private readonly onComplete = (): void => {
    this.completed = true;
    // llhttp completes a message it stopped after, or skipped the body of: the counted body is still to come.
    if (this.bodyLeft > 0) return;
    // A final reply that ended with its head, with bytes after it in the same read: nobody asked for them.
    // The connection is closed before the call hears of the end, so the pool gives it to no one (a call
    // waiting for it would write its request on a closing connection, and fail with an unknown outcome).
    if (this.headOnly && this.bytesAfterHead && this.status >= 200) this.socket.destroy();
    this.listener?.complete();
  };

  /** A piece the socket read into the pool's buffer (lent: valid during this call only). */
  read(chunk: Buffer): void {
    this.onData(chunk);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.active = true;
    if (this.listener === undefined) {
      // Bytes nobody asked for: the connection is out of step with its server.
      this.socket.destroy();
      return;
    }
    if (this.fresh) {
      // The first bytes of an exchange. Where the last one left the parser is not known after a
      // chunked or close-delimited body or a head split across reads: it starts afresh then. (Not
      // in busy(): that may run in a parser callback, while the parser executes.)
      this.fresh = false;
      if (!this.atStart) this.initialize();
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLeft > 0) {
        this.passBody(chunk, at);
        return;
      }
      // A head that is all here, read from a message's start, goes to the parser alone (up to its
      // blank line: a valid head has no earlier one); anything else as it came.
      const end = this.atStart ? chunk.indexOf(HEAD_END, at) : -1;
      const headOnly = end !== -1;
      const piece = headOnly ? chunk.subarray(at, end + HEAD_END.length) : at === 0 ? chunk : chunk.subarray(at);
      this.headOnly = headOnly;
      this.bytesAfterHead = headOnly && at + piece.length < chunk.length;
      this.atStart = false;
      this.completed = false;
      const l: LinkListener | undefined = this.listener;
      const r = this.parser.execute(piece);
      this.headOnly = false;
      if (typeof r !== 'number') {
        this.fail(new GatewayError('NW_GW_UPSTREAM_PROTOCOL', `${this.pool.origin} (${r.code})`));
        return;
      }
      if (headOnly && this.listener !== l) {
        // The exchange is over (the link went back to its pool, or on to another call); if bytes followed
        // its response, onComplete closed the connection before that.
        this.atStart = this.completed && r === piece.length;
        return;
      }
      if (this.listener === undefined) return;
      if (headOnly) {
        // The message ended with the head (no body, a skipped one, a 1xx): the next bytes start one.
        this.atStart = this.completed && r === piece.length;
        at += r;
        continue;
      }
      if (this.bodyLeft > 0) {
        // Stopped after a head: the parser starts afresh for the next response (a parser only resumed,
        // as the binding leaves it, takes an invalid next reply for a pause); the rest is body.
        this.initialize();
        this.passBody(chunk, at + r);
      }
      return;
    }
  };

  private initialize(): void {
    this.parser.initialize(this.binding.RESPONSE, {}, MAX_RESPONSE_HEAD_BYTES, this.binding.kLenientNone);
    this.atStart = true;
  }

  /** Bytes of a counted (Content-Length) body from `from` on; the response completes with its last byte. */
  private passBody(chunk: Buffer, from: number): void {
    const available = chunk.length - from;
    if (available <= 0) return;
    const n = Math.min(available, this.bodyLeft);
    this.bodyLeft -= n;
    const l = this.listener!;
    const piece = from === 0 && n === chunk.length ? chunk : chunk.subarray(from, from + n);
    l.body(piece, this.lentReads);
    if (this.bodyLeft > 0) return;
    // Bytes after the body that nobody asked for: the connection is out of step with its server.
    if (n < available) this.socket.destroy();
    if (this.listener === l) l.complete();
  }

  private readonly onEnd = (): void => {
    // The server closed an idle connection: closed now, not at its 'close' (a turn or more later),
    // so no call is given a connection whose server has gone.
    if (this.listener === undefined) {
      this.socket.destroy();
      return;
    }
    // A close-delimited body ends here; any other message is cut short.
    if (this.bodyLeft > 0) {
      this.fail(new GatewayError('NW_GW_UPSTREAM_RESET', `${this.pool.origin} (body cut short)`));
      return;
    }
    const r = this.parser.finish();
    if (r !== undefined && typeof r !== 'number') this.fail(new GatewayError('NW_GW_UPSTREAM_RESET', `${this.pool.origin} (${r.code})`));
  };

  private readonly onDrain = (): void => {
    this.listener?.drained();
  };

  private lastError: (Error & { code?: string }) | undefined;
  private readonly onError = (err: Error & { code?: string }): void => {
    this.lastError = err;
  };

  private readonly onClose = (): void => {
    this.parser.close();
    this.pool.closed(this);
    const code = this.lastError?.code ?? 'closed';
    this.fail(new GatewayError('NW_GW_UPSTREAM_RESET', `${this.pool.origin} (${code})`));
  };

  private fail(err: GatewayError): void {
    const l = this.listener;
    this.listener = undefined;
    this.bodyLeft = 0;
    this.socket.destroy();
    l?.failed(err);
  }

  /** Back in the pool: closed if it idles longer than keepAliveMs. */
  idle(): void {
    this.listener = undefined;
    this.bodyLeft = 0;
    this.flushedHeaders = [];
    this.reused = true;
    this.idleSince = -1;
    this.timeoutMs = 0;
  }

  busy(listener: LinkListener): void {
    this.listener = listener;
    this.fresh = true;
  }

  /** The inactivity timeout from now on: nothing from the server for `ms` tells the call (timedOut). */
  inactivityTimeout(ms: number): void {
    this.timeoutMs = ms;
    this.active = true;
    this.deadline = false;
  }

  /**
   * A deadline from now on: the call is told (timedOut) `ms` after this whatever the server sends
   * meanwhile (a head trickling in, 1xx after 1xx), until another timeout replaces it.
   */
  deadlineIn(ms: number): void {
    this.timeoutMs = ms;
    this.active = true;
    this.deadline = true;
    this.deadlinePending = true;
  }
}

interface Waiter {
  resolve: (link: UpstreamLink) => void;
  reject: (err: GatewayError) => void;
  timer: NodeJS.Timeout;
}

/**
 * The kept-alive connections to one app server: at most `connections` open, the most recently
 * used idle one first, calls waiting (bounded in time) when all are busy.
 */
export class LinkPool {
  private readonly idleLinks: UpstreamLink[] = [];
  /** Every connected link, idle or busy (for the sweep). */
  private readonly links = new Set<UpstreamLink>();
  private open = 0;
  private readonly waiters: Waiter[] = [];
  private shut = false;
  /**
   * What the pool's plain TCP links read into, one read at a time (the event loop runs one read
   * callback at a time, and each piece is parsed, or copied, before it returns).
   */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly origin: string,
    private readonly binding: LlhttpBinding,
    private readonly opts: LinkOptions,
  ) {
    const u = new URL(origin);
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  }

  /**
   * An idle connection, now: the exchange starts in the same turn as its request head, so the
   * body that came with the head goes straight upstream instead of waiting (socket paused) a turn.
   */
  takeIdle(): UpstreamLink | undefined {
    return this.shut ? undefined : this.popIdle();
  }

  /**
   * The most recently used idle link that can still carry a request: one closed (its server's
   * FIN, stray bytes, the sweep) stays on the list until its socket's 'close', and is skipped.
   */
  private popIdle(): UpstreamLink | undefined {
    for (let link = this.idleLinks.pop(); link !== undefined; link = this.idleLinks.pop()) {
      if (!link.socket.destroyed && link.socket.writable) return link;
    }
    return undefined;
  }

  /** A connection for one exchange: an idle one, a new one, or the next one freed. */
  acquire(): Promise<UpstreamLink> {
    if (this.shut) return Promise.reject(new GatewayError('NW_GW_SHUTTING_DOWN'));
    const idle = this.popIdle();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.open < this.opts.connections) return this.connect();
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new GatewayError('NW_GW_UPSTREAM_QUEUE_FULL', `${this.origin}: no connection free in time`, { retryAfterSeconds: 1 }));
        }, this.opts.queueTimeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** The exchange is over: a link that can carry another goes to a waiter or the idle list; else it is closed. */
  release(link: UpstreamLink, reusable: boolean): void {
    // A server that keeps an idle connection a second or less would close it under the next request.
    if (!reusable || this.shut || link.socket.destroyed || this.idleLimitMs(link) <= 0) {
      link.listener = undefined;
      link.socket.destroy();
      return;
    }
    link.idle();
    const w = this.waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.resolve(link);
      return;
    }
    this.idleLinks.push(link);
  }

  /**
   * How long `link` may stay idle: the pool's keep-alive, shorter when its server said it keeps
   * connections less long, less the sweep's lateness. Zero or less: not kept at all (a server that
   * closes idle connections that soon would close it under the next request).
   */
  private idleLimitMs(link: UpstreamLink): number {
    const hinted = link.serverKeepAliveMs;
    return hinted === undefined ? this.opts.keepAliveMs : Math.min(this.opts.keepAliveMs, hinted - 2 * (this.opts.sweepMs ?? 0));
  }

  /** From a link: its socket closed. */
  closed(link: UpstreamLink): void {
    this.links.delete(link);
    const i = this.idleLinks.indexOf(link);
    if (i >= 0) this.idleLinks.splice(i, 1);
    this.freed();
  }

  /** A connection slot is free (a link closed, or a connect failed): the next waiting call gets a connect of its own. */
  private freed(): void {
    this.open -= 1;
    const w = this.waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      this.connect().then(w.resolve, w.reject);
    }
  }

  private connect(): Promise<UpstreamLink> {
    this.open += 1;
    return new Promise((resolve, reject) => {
      const reader: { link: UpstreamLink | undefined } = { link: undefined };
      const socket = this.dial(reader);
      const ready = this.opts.tls === undefined ? 'connect' : 'secureConnect';
      const timer = setTimeout(() => {
        socket.destroy();
        settle(new GatewayError('NW_GW_UPSTREAM_CONNECT_TIMEOUT', this.origin));
      }, this.opts.connectTimeoutMs);
      let done = false;
      const settle = (err: GatewayError | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off(ready, onConnect);
        if (err !== undefined) {
          // A call waiting for a connection would otherwise wait out its queue timeout with no connection
          // open or opening for it, and be refused (503) where its own connect failing is retried elsewhere.
          reject(err);
          this.freed();
          return;
        }
        const link = new UpstreamLink(socket, this.binding, this, this.opts.tls === undefined);
        reader.link = link;
        this.links.add(link);
        resolve(link);
      };
      const onError = (e: Error & { code?: string }): void =>
        settle(new GatewayError('NW_GW_UPSTREAM_CONNECT_FAILED', `${this.origin} (${e.code ?? e.message})`, { cause: e }));
      const onConnect = (): void => settle(undefined);
      socket.once('error', onError);
      socket.once(ready, onConnect);
    });
  }

  /** A new connection: TCP (reading into the pool's buffer, for `reader.link`), or TLS for an https:// server. */
  private dial(reader: { link: UpstreamLink | undefined }): Socket {
    const tls = this.opts.tls;
    if (tls === undefined) {
      const socket: Socket = connect({
        host: this.host,
        port: this.port,
        noDelay: true,
        onread: {
          buffer: this.readBuffer,
          callback: (n: number): boolean => {
            const link = reader.link;
            // Bytes before any request: the server is out of step (as UpstreamLink.onData).
            if (link === undefined) socket.destroy();
            else link.read(this.readBuffer.subarray(0, n));
            return true;
          },
        },
      });
      return socket;
    }
    const socket = connectTls({ host: this.host, port: this.port, ...upstreamTlsOptions(this.host, tls) });
    socket.setNoDelay(true);
    return socket;
  }

  /**
   * From the engine's tick (no timer per request): closes links idle for longer than keepAliveMs
   * (idle since the first sweep that saw them idle), and tells busy ones' calls of a server silent
   * for their timeout.
   */
  sweep(now: number): void {
    for (let i = this.idleLinks.length - 1; i >= 0; i--) {
      const link = this.idleLinks[i]!;
      if (link.idleSince < 0) link.idleSince = now;
      else if (link.idleSince <= now - this.idleLimitMs(link)) {
        // Off the list now: its 'close' comes after this turn's reads, which could take it.
        this.idleLinks.splice(i, 1);
        link.socket.destroy();
      }
    }
    for (const link of this.links) link.checkTimeout(now);
  }

  /** No connection open or being opened. */
  get empty(): boolean {
    return this.open === 0;
  }

  close(): void {
    this.shut = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new GatewayError('NW_GW_SHUTTING_DOWN'));
    }
    for (const l of this.idleLinks.splice(0)) l.socket.destroy();
  }
}

const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/** The blank line that ends a head. */
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** As net's own read buffers (libuv suggests 64 KB). */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * `Keep-Alive: timeout=N` of a reply (RFC 9112 appendix C.2.2, as node:http and most servers send
 * it): N seconds less one, in ms (undici keeps the same margin for the request on its way and the
 * sweep's lateness); undefined without one.
 */
function keepAliveHintMs(raw: readonly string[]): number | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || (name !== 'Keep-Alive' && name !== 'keep-alive' && name.toLowerCase() !== 'keep-alive')) continue;
    return keepAliveValueMs(raw[i + 1]!);
  }
  return undefined;
}

/** The last Keep-Alive value read and what it says: an app sends the same one on every reply. */
let lastKeepAlive = '';
let lastKeepAliveMs: number | undefined;

function keepAliveValueMs(value: string): number | undefined {
  if (value === lastKeepAlive) return lastKeepAliveMs;
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})(?:$|[,;\s])/i.exec(value);
  lastKeepAlive = value;
  lastKeepAliveMs = m ? Number(m[1]) * 1000 - 1000 : undefined;
  return lastKeepAliveMs;
}

/** The Content-Length of a response head llhttp accepted (one value, digits only; none with Transfer-Encoding). */
function contentLengthOf(raw: readonly string[]): number | undefined {
  let length: number | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return undefined;
    if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(raw[i + 1]);
  }
  return length !== undefined && Number.isSafeInteger(length) ? length : undefined;
}
