import type { IncomingMessage } from 'node:http';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import { http2BodyFollows } from '../http2/http2-request.js';

/**
 * Whether the request carries a body: framed by Content-Length > 0 or Transfer-Encoding, or over
 * HTTP/2 by DATA frames, which need no Content-Length (one follows unless HEADERS ended the stream).
 */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  if (req.httpVersionMajor === 2) return http2BodyFollows(req);
  return req.headers['transfer-encoding'] !== undefined;
}

/** Declared length, or undefined for chunked bodies. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const cl = req.headers['content-length'];
  return cl === undefined ? undefined : Number(cl);
}

/** Throws 413 at once when the declared length is over the limit. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const n = declaredLength(req);
  if (n !== undefined && n > limit) throw new GatewayError('NW_GW_BODY_TOO_LARGE', `${n} > ${limit} bytes`);
}

/**
 * Passes the body through, failing with 413 once more than `limit` bytes have
 * gone by, and with `atEnd`'s error (if any) before the last byte goes on, so
 * the upstream never sees a complete request that a check refused at its end.
 */
export class BodyLimit extends Transform {
  private seen = 0;
  /** With `atEnd`, the latest chunk is held back until the check at the end passed (so the body is never whole before it). */
  private held: Buffer | undefined = undefined;
  constructor(
    private readonly limit: number,
    private readonly atEnd?: () => Error | undefined,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      cb(new GatewayError('NW_GW_BODY_TOO_LARGE', `over ${this.limit} bytes`));
      return;
    }
    if (this.atEnd === undefined) {
      cb(null, chunk);
      return;
    }
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }
  override _flush(cb: TransformCallback): void {
    const refused = this.atEnd?.();
    if (refused) cb(refused);
    else cb(null, this.held);
  }
}

function ignore(): void {}

/**
 * The request body through a BodyLimit. pipeline, not pipe: a client that
 * leaves mid-body fails the limited stream too, so the upstream request ends
 * (incomplete, never acted on) instead of waiting for bytes that never come.
 */
export function limitedBody(req: IncomingMessage, limit: number, atEnd?: () => Error | undefined): BodyLimit {
  const limited = new BodyLimit(limit, atEnd);
  pipeline(req, limited, ignore);
  return limited;
}

/** The collector currently reading a request's body (the listeners below are shared: no closures per request). */
const COLLECTOR = Symbol('northwest.bodyCollector');
type CollectorSlot = IncomingMessage & { [COLLECTOR]?: BodyCollector | undefined };

function onBodyData(this: CollectorSlot, chunk: Buffer): void {
  this[COLLECTOR]?.data(chunk);
}

function onBodyEnd(this: CollectorSlot): void {
  this[COLLECTOR]?.end();
}

function onBodyError(this: CollectorSlot, err: Error): void {
  this[COLLECTOR]?.fail(err);
}

function onBodyClose(this: CollectorSlot): void {
  if (!this.complete) this[COLLECTOR]?.fail(new GatewayError('NW_GW_CLIENT_ABORTED', 'request body ended early'));
}

/** Collects one request body up to a limit; settles once (end, error, early close or over the limit). */
class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly req: CollectorSlot,
    private readonly limit: number,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    req[COLLECTOR] = this;
    req.on('data', onBodyData);
    req.on('end', onBodyEnd);
    req.on('error', onBodyError);
    req.on('close', onBodyClose);
  }

  data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) return void this.fail(new GatewayError('NW_GW_BODY_TOO_LARGE', `over ${this.limit} bytes`));
    this.chunks.push(chunk);
  }

  end(): void {
    this.detach();
    this.resolve(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size));
  }

  fail(err: unknown): void {
    this.detach();
    this.reject(err);
  }

  private detach(): void {
    const { req } = this;
    req[COLLECTOR] = undefined;
    req.off('data', onBodyData);
    req.off('end', onBodyEnd);
    req.off('error', onBodyError);
    req.off('close', onBodyClose);
  }
}

/** Reads the whole body into memory, bounded by `limit` (413 beyond it). */
export function bufferBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  // A request whose client already left never ends: its 'close' has fired and will not again.
  if (req.destroyed) return Promise.reject(new GatewayError('NW_GW_CLIENT_ABORTED', 'client left before its body was read'));
  // Plain listeners: async iteration of a stream costs several promises per chunk on the hot path.
  return new Promise<Buffer>((resolve, reject) => {
    new BodyCollector(req, limit, resolve, reject);
  });
}
