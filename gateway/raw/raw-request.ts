import type { IncomingHttpHeaders } from 'node:http';
import { headerObject } from './head-fields.js';

/** Where a request body goes once someone reads it; `data` returns false when its buffer is full. */
export interface BodyReader {
  data(chunk: Buffer): boolean;
  end(): void;
}

/** Pauses and resumes the client socket (or HTTP/2 stream) the body comes from. */
export interface BodyFlow {
  pause(): void;
  resume(): void;
}

/** What an HTTP/2 stream's HEADERS say of its request, in place of an HTTP/1.1 head's header lines. */
export interface Http2Head {
  /** node:http2's header object (pseudo-headers included: `:authority` stands for Host). */
  readonly headers: IncomingHttpHeaders;
  /** DATA frames follow (the HEADERS frame did not end the stream). */
  readonly bodyFollows: boolean;
}

/**
 * One request as the raw engine parsed it: the head, and the body as llhttp delivers it (bytes of a
 * Content-Length body as they came; a chunked body validated and de-chunked). Until a reader is
 * attached, what arrived is kept and the client socket is paused, so at most one socket read of a
 * body waits here: a write held by a fence is parked before its body is read.
 */
export class RawRequest {
  readonly headers: IncomingHttpHeaders;
  /** llhttp found a body (Content-Length above 0, or Transfer-Encoding); over HTTP/2, DATA frames follow. */
  readonly hasBody: boolean;
  readonly declaredLength: number | undefined;
  /** The body's length is not known up front: it goes upstream chunked. */
  readonly chunkedBody: boolean;
  /** As the access log says it: 1.1, 1.0 or 2.0 (node:http2's spelling, so both engines log an h2 stream alike). */
  readonly httpVersion: string;
  /** The whole message, body included, was parsed. */
  complete = false;
  bodyBytes = 0;
  private pending: Buffer[] | undefined;
  private reader: BodyReader | undefined;
  private dropped = false;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly minor: number,
    readonly rawHeaders: readonly string[],
    /** The client may send another request on this connection after this one (llhttp's verdict). */
    readonly keepAlive: boolean,
    private readonly flow: BodyFlow,
    h2?: Http2Head,
  ) {
    this.headers = h2 === undefined ? headerObject(rawHeaders) : h2.headers;
    const cl = this.headers['content-length'];
    this.declaredLength = cl === undefined ? undefined : Number(cl);
    if (h2 === undefined) {
      this.chunkedBody = this.headers['transfer-encoding'] !== undefined;
      this.hasBody = this.chunkedBody || (this.declaredLength ?? 0) > 0;
      this.httpVersion = `1.${minor}`;
    } else {
      // HTTP/2 has no Transfer-Encoding: DATA frames without a Content-Length go upstream chunked.
      this.hasBody = h2.bodyFollows;
      this.chunkedBody = h2.bodyFollows && cl === undefined;
      this.httpVersion = '2.0';
      this.complete = !h2.bodyFollows;
    }
  }

  /** From the parser: the next piece of the body. */
  pushBody(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    if (this.dropped) return;
    if (this.reader) {
      if (!this.reader.data(chunk)) this.flow.pause();
      return;
    }
    if (this.pending === undefined) this.pending = [chunk];
    else this.pending.push(chunk);
    this.flow.pause();
  }

  /** From the parser: the message is complete. */
  endBody(): void {
    this.complete = true;
    this.reader?.end();
  }

  /** Delivers the body to `reader`: what arrived so far at once, the rest as it comes. */
  read(reader: BodyReader): void {
    this.reader = reader;
    const pending = this.pending;
    this.pending = undefined;
    let room = true;
    if (pending) for (const c of pending) room = reader.data(c) && room;
    if (this.complete) reader.end();
    else if (room) this.flow.resume();
  }

  /** The reader's buffer drained: let the client send more. */
  more(): void {
    if (!this.complete) this.flow.resume();
  }

  /** No more body is wanted (answered without it, or its upstream failed); whatever comes is dropped. */
  detach(): void {
    this.dropped = true;
    this.reader = undefined;
    this.pending = undefined;
  }
}
