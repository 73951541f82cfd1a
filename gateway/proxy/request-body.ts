import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';

/** Whether the request carries a body (framed by Content-Length > 0 or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
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

/** Passes the body through, failing with 413 once more than `limit` bytes have gone by. */
export class BodyLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(new GatewayError('NW_GW_BODY_TOO_LARGE', `over ${this.limit} bytes`));
    else cb(null, chunk);
  }
}

/** Reads the whole body into memory, bounded by `limit` (413 beyond it). */
export function bufferBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  // Plain listeners: async iteration of a stream costs several promises per chunk on the hot path.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new GatewayError('NW_GW_BODY_TOO_LARGE', `over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      if (!req.complete) {
        cleanup();
        reject(new GatewayError('NW_GW_CLIENT_ABORTED', 'request body ended early'));
      }
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
