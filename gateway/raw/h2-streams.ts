import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { GatewayError, type GatewayErrorCode } from '../errors.js';
import { errorReply } from '../proxy/request-outcome.js';
import type { ClientReply } from './client-reply.js';
import { H2Reply } from './h2-reply.js';
import { RawRequest } from './raw-request.js';

export interface H2StreamServices {
  readonly maxBodyBytes: number;
  /** From the first read of a body to its end (timeouts.clientRequestMs). */
  readonly requestMs: number;
  readonly sendMs: number;
  /** The raw engine's entry for a request whose head is known (as for an HTTP/1.1 connection's). */
  begin(req: RawRequest, res: ClientReply): 'raw' | 'hold' | 'node';
  /** A request refused for what its client did (counted and logged by the engine). */
  clientError(code: GatewayErrorCode, detail: string): void;
}

/** A stream whose body is being read, and when it must have ended. */
interface BodyDeadline {
  readonly req: RawRequest;
  readonly res: H2Reply;
  at: number;
}

/**
 * HTTP/2 streams into the raw engine (node:http2's core API): each becomes a RawRequest and an
 * H2Reply and goes where an HTTP/1.1 request's head goes. The body is read only once the upstream
 * call asks for it, so a stream handed to the node engine (`toNode`) is untouched. A body that
 * grows over `maxBodyBytes` or takes longer than `requestMs` to arrive is refused (413, 408) as
 * the HTTP/1.1 connection refuses it; the deadlines are checked by the engine's tick, no timer per
 * stream.
 */
export class H2Streams {
  private readonly reading = new Set<BodyDeadline>();

  constructor(private readonly svc: H2StreamServices) {}

  serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[], toNode: () => void): void {
    stream.on('error', noop);
    const method = headers[':method'];
    if (method === undefined || method === 'CONNECT') {
      toNode();
      return;
    }
    const svc = this.svc;
    let deadline: BodyDeadline | undefined;
    const flow = {
      pause: () => stream.pause(),
      resume: () => {
        if (deadline === undefined) {
          deadline = { req, res, at: performance.now() + svc.requestMs };
          this.reading.add(deadline);
          stream.on('data', onData);
          stream.once('end', onEnd);
          stream.once('close', onClose);
        }
        stream.resume();
      },
    };
    const req = new RawRequest(method, headers[':path'] ?? '/', 0, rawHeaders, true, flow, {
      headers,
      bodyFollows: !stream.endAfterHeaders,
    });
    const res = new H2Reply(stream, req, { sendMs: svc.sendMs, handOver: toNode });
    const onData = (chunk: Buffer): void => {
      req.pushBody(chunk);
      // Once the reply is over, what still comes is dropped: no limit to cut that reply with.
      if (req.bodyBytes <= svc.maxBodyBytes || res.finished || res.gone) return;
      stream.off('data', onData);
      this.refuse(res, 'NW_GW_BODY_TOO_LARGE', `over ${svc.maxBodyBytes} bytes`);
    };
    const onClose = (): void => {
      if (deadline !== undefined) this.reading.delete(deadline);
    };
    const onEnd = (): void => {
      onClose();
      req.endBody();
    };
    if (svc.begin(req, res) === 'node') {
      res.release();
      toNode();
    }
  }

  /** From the engine's tick: bodies still coming after their deadline are refused (408). */
  checkTimeouts(now: number): void {
    for (const d of this.reading) {
      if (now < d.at) continue;
      this.reading.delete(d);
      // A reply over, or a client gone (a stream reset while paused is closed, never ended): nothing to refuse.
      if (!d.req.complete && !d.res.finished && !d.res.gone) this.refuse(d.res, 'NW_GW_CLIENT_TIMEOUT', 'request body too slow');
    }
  }

  private refuse(res: H2Reply, code: 'NW_GW_BODY_TOO_LARGE' | 'NW_GW_CLIENT_TIMEOUT', detail: string): void {
    this.svc.clientError(code, detail);
    const { body, headers } = errorReply(new GatewayError(code, detail), '-', {});
    res.refuse(code === 'NW_GW_BODY_TOO_LARGE' ? 413 : 408, headers, body);
  }
}

function noop(): void {}
