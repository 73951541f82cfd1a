import { GatewayError } from '../errors.js';
import { clientHeaderList } from '../proxy/forward-headers.js';
import type { ClientReply, Framing } from './client-reply.js';
import { headWithBody, writeCut } from './head-fields.js';
import { HEAD_CONTINUE, HEAD_REFUSE, HEAD_SKIP_BODY } from './llhttp-binding.js';
import type { BodyReader, RawRequest } from './raw-request.js';
import type { LinkListener, LinkPool, UpstreamLink } from './upstream-links.js';

/** How an upstream call ended without a complete response, for the retry policy and the write accounting. */
export class CallFailure extends Error {
  constructor(
    readonly error: GatewayError,
    /** Bytes of the response went to the client: nothing can be retried or answered any more. */
    readonly started: boolean,
    /** The app may have acted on the request (it was sent, and no answer came). */
    readonly outcomeUnknown: boolean,
    /** The link had carried a response before and failed before this one's answer: the server may have closed it idle. */
    readonly staleLink: boolean,
  ) {
    super(error.message);
  }
}

export interface CallOptions {
  /** From the request's last byte to the response head, and between response bytes (inactivity). */
  readonly headersMs: number;
  readonly idleMs: number;
  /** A write goes on without its client: the call ends when the app has answered (nginx's proxy_ignore_client_abort). */
  readonly keepUpstream: boolean;
  /** Time the upstream's answer (the access log's upstreamMs): two clock reads per request, only when logged. */
  readonly timed: boolean;
  /** Checked before the body's last byte goes out (a write's lease): an error keeps the request from completing at the app. */
  readonly lastByteGuard?: () => GatewayError | undefined;
  /** Called once: nothing when the response completed, the failure when it did not. */
  readonly onSettled: (failure: CallFailure | undefined) => void;
}

/**
 * One request on one upstream link, its response written to the client as it comes: the head
 * rewritten (hop-by-hop dropped, ours added), the body passed through with backpressure both ways
 * (a full client buffer pauses the upstream socket; a full upstream buffer pauses the client).
 * `onSettled` is called once: with nothing when the response completed (its client possibly
 * gone), with a CallFailure when it did not.
 */
export class UpstreamCall implements LinkListener, BodyReader {
  private started = false;
  private answered = false;
  private interim = false;
  private requestSent = false;
  private upstreamKeepAlive = false;
  private clientLeft = false;
  private settled = false;
  private chunkedUp = false;
  private readonly skipBodyFor: boolean;
  private sentAt = 0;
  /** The request head until the first piece of body takes it along (or it goes alone). */
  private requestHead: string | undefined;

  constructor(
    private readonly link: UpstreamLink,
    private readonly pool: LinkPool,
    private readonly req: RawRequest,
    private readonly res: ClientReply,
    /** Headers added to the reply (name, value, ...): who served it; upstream lines of these names are dropped. */
    private readonly extra: readonly string[],
    private readonly opts: CallOptions,
  ) {
    this.skipBodyFor = req.method === 'HEAD';
  }

  /** Sends the head (built by the engine, framing included) and starts the body. */
  start(head: string, chunked: boolean): void {
    this.chunkedUp = chunked;
    if (this.opts.timed) this.sentAt = performance.now();
    this.link.busy(this);
    this.res.onDrain = this.clientDrained;
    this.res.onGone = this.clientGone;
    if (this.res.gone) {
      this.clientGone();
      return;
    }
    // A write without a body is whole with its head: its lease is checked again right before it goes
    // out (a pause or a slow connect since the dispatch may have let it lapse). One with a body is
    // checked before its last byte.
    if (!this.req.hasBody && this.refusedAtLastByte()) return;
    const s = this.link.socket;
    if (!this.req.hasBody) {
      s.write(head, 'latin1');
      this.sent();
      return;
    }
    // The head goes out in one write with the first piece of body: the one already here (read()
    // hands it over now) or one that comes in this same read of the client's socket; if none
    // does, alone, once this read is done. An HTTP/2 body never comes in the turn of its HEADERS
    // (the stream starts flowing when it is read): its head waits for its first DATA, or its end.
    this.requestHead = head;
    this.req.read(this);
    if (this.requestHead !== undefined && this.req.httpVersion !== '2.0') queueMicrotask(this.flushHead);
  }

  /** The request head, if no piece of body has taken it along. */
  private readonly flushHead = (): void => {
    const head = this.requestHead;
    if (head === undefined || this.settled) return;
    this.requestHead = undefined;
    this.link.socket.write(head, 'latin1');
  };

  // --- request body (BodyReader) ---

  data(chunk: Buffer): boolean {
    const req = this.req;
    const last = req.declaredLength !== undefined && req.bodyBytes >= req.declaredLength;
    if (last && this.refusedAtLastByte()) return false;
    const room = this.send(chunk);
    // A Content-Length body is whole at the app with its last byte: the request is sent now, not at
    // end(), which an HTTP/2 stream calls a turn later (or after a drain), when its client may already
    // have reset it (and a write ended then would stop counting while the app commits it).
    if (last) this.sent();
    return room;
  }

  private send(chunk: Buffer): boolean {
    const s = this.link.socket;
    const head = this.requestHead;
    this.requestHead = undefined;
    if (head === undefined && !this.chunkedUp) return s.write(chunk);
    const one = headWithBody(head ?? '', chunk, this.chunkedUp, false);
    if (one !== undefined) return writeCut(s, one);
    s.cork();
    if (head !== undefined) s.write(head, 'latin1');
    if (this.chunkedUp) s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    let room = s.write(chunk);
    if (this.chunkedUp) room = s.write('\r\n', 'latin1');
    s.uncork();
    return room;
  }

  end(): void {
    if (this.settled || this.requestSent) return;
    if (this.chunkedUp) {
      if (this.refusedAtLastByte()) return;
      const head = this.requestHead;
      this.requestHead = undefined;
      this.link.socket.write(head === undefined ? '0\r\n\r\n' : `${head}0\r\n\r\n`, 'latin1');
    } else this.flushHead();
    this.sent();
  }

  private refusedAtLastByte(): boolean {
    const refused = this.opts.lastByteGuard?.();
    if (refused === undefined) return false;
    this.fail(refused);
    return true;
  }

  private sent(): void {
    this.requestSent = true;
    // The final head is due within headersMs of the request's last byte (or of an interim reply):
    // bytes that are not a whole head (one trickling in) do not put the deadline off.
    if (!this.answered) this.link.deadlineIn(this.opts.headersMs);
  }

  // --- response (LinkListener) ---

  head(status: number, raw: readonly string[], keepAlive: boolean): number {
    // This engine sends no Upgrade (such a request is node:http's): a 101 switches the connection to a
    // protocol nobody asked for, whose bytes are no reply to anything (undici refuses it too).
    if (status === 101) {
      this.fail(new GatewayError('NW_GW_UPSTREAM_PROTOCOL', `${this.pool.origin} (101 Switching Protocols, no upgrade was asked for)`));
      return HEAD_REFUSE;
    }
    // 1xx interim replies are not passed on; llhttp completes them as messages of their own.
    if (status < 200) {
      this.interim = true;
      // An interim reply says the app is at work (102 Processing exists for that): the final head
      // is due within headersMs of it, as undici times it.
      if (this.requestSent) this.link.deadlineIn(this.opts.headersMs);
      return HEAD_CONTINUE;
    }
    this.answered = true;
    if (this.opts.timed) this.res.upstreamMs = performance.now() - this.sentAt;
    this.upstreamKeepAlive = keepAlive;
    this.link.inactivityTimeout(this.opts.idleMs);
    const noBody = this.skipBodyFor || status === 204 || status === 304;
    if (!this.clientLeft) {
      let framing: Framing = 'chunked';
      if (noBody) framing = 'none';
      else if (!hasHeader(raw, 'transfer-encoding') && hasHeader(raw, 'content-length')) framing = 'length';
      this.started = true;
      this.res.writeHead(status, clientHeaderList(raw, this.extra), framing);
    }
    return noBody ? HEAD_SKIP_BODY : HEAD_CONTINUE;
  }

  body(chunk: Buffer, lent: boolean): void {
    if (this.clientLeft) return;
    if (!this.res.write(chunk, lent)) this.link.socket.pause();
  }

  complete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.res.onDrain = undefined;
    this.res.onGone = undefined;
    this.link.socket.resume();
    // An app may answer before it has read the whole body (a 413 of its own): the rest is not sent, and
    // the connection, out of step, is closed (the client's too: its reply says connection: close).
    if (!this.requestSent) this.req.detach();
    this.pool.release(this.link, this.upstreamKeepAlive && this.requestSent && this.req.complete);
    if (this.clientLeft) {
      this.opts.onSettled(new CallFailure(this.clientError('the app answered after the client left'), true, false, false));
      return;
    }
    this.res.end();
    this.opts.onSettled(undefined);
  }

  failed(err: GatewayError): void {
    this.fail(err);
  }

  drained(): void {
    // The upstream took the request body so far: read more of it from the client (or, its last byte
    // sent, let an HTTP/2 stream paused on it come to its end).
    if (!this.req.complete) this.req.more();
  }

  timedOut(): void {
    // Before the request went out whole the client is the slow side: its own timeouts govern.
    if (!this.requestSent) return;
    const code = this.answered ? 'NW_GW_UPSTREAM_IDLE_TIMEOUT' : 'NW_GW_UPSTREAM_HEADERS_TIMEOUT';
    this.fail(new GatewayError(code, this.pool.origin));
  }

  private fail(err: GatewayError): void {
    if (this.settled) return;
    this.settled = true;
    this.res.onDrain = undefined;
    this.res.onGone = undefined;
    this.req.detach();
    this.link.listener = undefined;
    this.pool.release(this.link, false);
    if (this.started && !this.clientLeft) this.res.destroy();
    // Sent whole and not answered: the app may still act on it. A body cut short is never a whole request.
    const unknown = this.requestSent && !this.answered;
    this.opts.onSettled(new CallFailure(err, this.started || this.clientLeft, unknown, this.link.reused && !this.answered));
  }

  private readonly clientDrained = (): void => {
    this.link.socket.resume();
  };

  private readonly clientGone = (): void => {
    if (this.settled) return;
    this.clientLeft = true;
    // A write whose request went out whole goes on without its client: the in-flight count (and a
    // fence waiting on it) sees the app finish, not the client leave.
    if (this.opts.keepUpstream && this.requestSent) {
      this.link.socket.resume();
      return;
    }
    this.fail(this.clientError('client left before the response'));
  };

  /** Why the client is gone: it left, or it took nothing of the reply for the send timeout. */
  private clientError(detail: string): GatewayError {
    return this.res.sendStalled
      ? new GatewayError('NW_GW_CLIENT_SEND_TIMEOUT', 'the client took nothing of the reply for the send timeout')
      : new GatewayError('NW_GW_CLIENT_ABORTED', detail);
  }
}

function hasHeader(raw: readonly string[], lower: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) return true;
  return false;
}
