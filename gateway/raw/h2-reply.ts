import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ClientReply, Framing } from './client-reply.js';
import type { RawRequest } from './raw-request.js';
import { SendStall } from './send-stall.js';

/** Reply headers HTTP/2 forbids (RFC 9113 §8.2.2; node:http2 throws on them): never sent on a stream. */
const CONNECTION_SPECIFIC = new Set(['connection', 'http2-settings', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export interface H2ReplyOptions {
  /** A reply the client takes nothing of for this long is cut (its stream reset). */
  readonly sendMs: number;
  /** Gives the stream, untouched (its body unread), to the node engine. */
  readonly handOver: () => void;
}

/**
 * The reply to one HTTP/2 stream the raw engine serves (node:http2's core API: no compatibility
 * request and response objects). The head is sent with the first body bytes, or with the end of
 * the stream when there are none; a stream the client resets is a client gone. A request body the
 * reply did not wait for is read and dropped after it, so the client's flow-control window does
 * not stall the session's other streams.
 */
export class H2Reply implements ClientReply {
  headersSent = false;
  finished = false;
  gone = false;
  status = 0;
  bytesSent = 0;
  upstreamMs: number | undefined = undefined;
  onDrain: (() => void) | undefined = undefined;
  onGone: (() => void) | undefined = undefined;
  onDone: ((res: ClientReply) => void) | undefined = undefined;
  private head: OutgoingHttpHeaders | undefined;
  private noBody = false;
  private stall: SendStall | undefined;
  private handedOver = false;
  /** Writes not yet called back, and whether the stream ends when they have. */
  private writing = 0;
  private endWhenWritten = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    readonly req: RawRequest,
    private readonly opts: H2ReplyOptions,
  ) {
    stream.on('drain', this.drained);
    stream.on('close', this.closed);
    // A reset before the reply ended, whatever its code: node ends the readable side of a stream reset
    // with NO_ERROR as if END_STREAM had come, so a body cut short would look whole (and go upstream so).
    stream.on('aborted', this.aborted);
  }

  get socket(): Socket {
    return this.stream.session?.socket as Socket;
  }

  writeHead(status: number, list: readonly string[], framing: Framing): void {
    if (this.headersSent || this.gone) return;
    this.headersSent = true;
    this.status = status;
    this.noBody = framing === 'none';
    const h: OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name = list[i]!;
      if (CONNECTION_SPECIFIC.has(name)) continue;
      // RFC 9110 §8.6: never on a 204; HTTP/2 clients refuse one that is not 0 (the stream fails).
      if (status === 204 && name === 'content-length') continue;
      const value = list[i + 1]!;
      const prev = h[name];
      // An app's header named as a member of Object.prototype (`constructor`, `__proto__`) is a header
      // like any other: the object keeps its prototype (a prototype-less one is a slow dictionary).
      if (Array.isArray(prev)) prev.push(value);
      else if (prev === undefined || typeof prev === 'function' || typeof prev === 'object') setHeader(h, name, value);
      else setHeader(h, name, [String(prev), value]);
    }
    this.head = h;
  }

  write(chunk: Buffer, lent = false): boolean {
    if (this.gone || chunk.length === 0) return !this.gone;
    this.bytesSent += chunk.length;
    this.respond(false);
    this.writing += 1;
    // The stream keeps what it is given until its session sends it.
    const room = this.stream.write(lent ? Buffer.from(chunk) : chunk, this.written);
    if (!room) this.waitForDrain();
    return room;
  }

  /**
   * A write called back. The stream is ended only once its writes have: node destroys a stream
   * whose request body was read to its end as soon as both sides are closed, and a write still
   * calling back then makes an error with a stack (ERR_STREAM_DESTROYED) for nobody, a few µs of
   * CPU per request.
   */
  private readonly written = (): void => {
    this.writing -= 1;
    if (this.writing > 0 || !this.endWhenWritten) return;
    this.endWhenWritten = false;
    if (!this.stream.destroyed) this.stream.end();
  };

  end(last?: Buffer | string): void {
    if (this.finished || this.gone) return;
    this.finished = true;
    const body = last === undefined || this.noBody ? undefined : typeof last === 'string' ? Buffer.from(last) : last;
    const empty = body === undefined || body.length === 0;
    if (!empty) this.bytesSent += body.length;
    if (this.head !== undefined && empty) this.respond(true);
    else {
      this.respond(false);
      if (!empty) {
        this.writing += 1;
        this.stream.write(body, this.written);
      }
      if (this.writing > 0) this.endWhenWritten = true;
      else this.stream.end();
    }
    this.stopSendTimer();
    // A body nobody read (a refusal, a redirect, an app that answered early) is read and dropped.
    if (!this.req.complete) {
      this.req.detach();
      this.stream.on('data', noop);
      this.stream.resume();
    }
    this.done();
  }

  /** Sends the head if it has not gone yet. */
  private respond(endStream: boolean): void {
    const head = this.head;
    if (head === undefined) return;
    this.head = undefined;
    if (this.stream.destroyed) return;
    try {
      this.stream.respond(head, { endStream });
    } catch {
      // A header node:http2 will not send (llhttp passed it from the app): the client sees a reset, the process goes on.
      this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  destroy(): void {
    if (this.gone || this.stream.destroyed) return;
    this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  /** The body is read when the upstream call asks for it (RawRequest.read): nothing to do here. */
  proceed(): void {}

  handOver(): void {
    this.release();
    this.opts.handOver();
  }

  /** The stream is the node engine's from now on: this reply no longer listens to it. */
  release(): void {
    this.handedOver = true;
    this.stopSendTimer();
    this.stream.off('drain', this.drained);
    this.stream.off('close', this.closed);
    this.stream.off('aborted', this.aborted);
  }

  /**
   * A body over the limit while it streams in: nothing more is taken of it, the request's own
   * handling ends as a client gone, and the client gets `status` now if no reply has started
   * (else its stream is reset).
   */
  refuse(status: number, headers: OutgoingHttpHeaders, body: string): void {
    const started = this.headersSent;
    this.req.detach();
    this.clientGone();
    // A closed stream (reset, even if not yet destroyed) takes no reply: respond() would throw.
    if (this.stream.destroyed || this.stream.closed) return;
    if (started) {
      this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.stream.respond({ ...headers, ':status': status });
    this.stream.end(body);
    this.stream.on('data', noop);
    this.stream.resume();
  }

  private waitForDrain(): void {
    this.stall ??= new SendStall(this.opts.sendMs, () => this.stream.close(constants.NGHTTP2_CANCEL));
    this.stall.arm();
  }

  /** Set when the stream was reset because the client took nothing for the send timeout. */
  get sendStalled(): boolean {
    return this.stall?.stalled === true;
  }

  private stopSendTimer(): void {
    this.stall?.stop();
  }

  private readonly drained = (): void => {
    this.stopSendTimer();
    this.onDrain?.();
  };

  /**
   * node destroys a stream reset with NO_ERROR only once its readable side is read to its end: one
   * paused (its upstream full) would stay, its buffered body with it, until the session ends.
   */
  private readonly aborted = (): void => {
    this.closed();
    if (!this.stream.destroyed) this.stream.resume();
  };

  private readonly closed = (): void => {
    if (!this.finished) this.clientGone();
  };

  private clientGone(): void {
    if (this.gone || this.handedOver) return;
    this.gone = true;
    this.stopSendTimer();
    const f = this.onGone;
    this.onGone = undefined;
    f?.();
    this.done();
  }

  private done(): void {
    const f = this.onDone;
    this.onDone = undefined;
    f?.(this);
  }
}

function noop(): void {}

function setHeader(h: OutgoingHttpHeaders, name: string, value: string | string[]): void {
  if (name === '__proto__') Object.defineProperty(h, name, { value, enumerable: true, writable: true, configurable: true });
  else h[name] = value;
}
