import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  constants,
  createServer,
  Http2ServerRequest,
  Http2ServerResponse,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { GatewayError } from '../errors.js';
import { errorReply } from '../proxy/request-outcome.js';
import { addResponseState } from './response-state.js';

export interface Http2EdgeOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: more open streams on one connection are refused (RST_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a larger header list resets its stream. */
  readonly maxHeaderBytes: number;
  /** A connection with no frame for this long is closed (GOAWAY). */
  readonly idleTimeoutMs: number;
  /**
   * From the first read of a request body to its end (timeouts.clientRequestMs), for the streams
   * of the compatibility API (the raw engine checks its own): a body still coming after it is
   * refused with 408 and its stream reset, so the request handler sees its client gone.
   */
  readonly requestBodyMs: number;
  /** A body refused for its deadline (counted and logged as the client's error). */
  readonly onBodyTimeout: () => void;
  /**
   * The node engine's request handler. It takes node:http's request and response; the HTTP/2
   * compatibility API's request and response have the members it uses (the modes are tested
   * over h2), with `:authority` for Host (request-host.ts) and DATA frames for the body
   * (request-body.ts).
   */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  readonly onCheckContinue: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The raw engine's entry for a stream (core API, no compatibility objects); `toNode` gives the
   * stream to onRequest / onCheckContinue instead. Without it every stream goes there.
   */
  readonly onStream?: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[], toNode: () => void) => void;
  /** A session failed (a protocol error, the reset-flood limit, a socket error). */
  readonly onSessionError: (err: Error & { code?: string }) => void;
}

function asHttp1(req: Http2ServerRequest, res: Http2ServerResponse): [IncomingMessage, ServerResponse] {
  return [req as unknown as IncomingMessage, res as unknown as ServerResponse];
}

/**
 * HTTP/2 for the connections a TLS listener negotiated h2 on: a node:http2 server that never
 * listens itself and gets each decrypted socket handed in. With the raw engine, each stream goes to
 * it (onStream); the rest, and every stream without it, go through the compatibility API to the
 * node engine's RequestHandler. The limits against floods are node's (nghttp2):
 * maxSessionRejectedStreams, maxSessionInvalidFrames and the stream reset rate (streamResetBurst,
 * streamResetRate: the rapid-reset attack) close the offending session with GOAWAY.
 */
export class Http2Edge {
  private readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(opts: Http2EdgeOptions) {
    addResponseState();
    this.server = createServer({
      // A reply repeating a single-value header (two Content-Type lines from an app and its middleware)
      // goes out as it came, as over HTTP/1.1, instead of node refusing it and the stream being reset.
      strictSingleValueFields: false,
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams,
        maxHeaderListSize: opts.maxHeaderBytes,
        enablePush: false,
      },
    });
    this.server.setTimeout(opts.idleTimeoutMs);
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    this.server.on('sessionError', (err: Error & { code?: string }) => opts.onSessionError(err));
    const onStream = opts.onStream;
    if (onStream === undefined) {
      // CONNECT never gets here: without a 'connect' listener node answers it with 405 (no tunnels,
      // and no RFC 8441 WebSockets: enableConnectProtocol is off).
      this.server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
        this.bodyDeadline(req, res, opts);
        opts.onRequest(...asHttp1(req, res));
      });
      this.server.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => {
        this.bodyDeadline(req, res, opts);
        opts.onCheckContinue(...asHttp1(req, res));
      });
      return;
    }
    // No 'request' listener: node makes no compatibility objects; streams the raw engine does not serve get them here.
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) =>
      onStream(stream, headers, rawHeaders, () => this.compat(stream, headers, rawHeaders, opts)),
    );
  }

  /** A stream through the compatibility API, as node's own server would pass it (its CONNECT and Expect rules included). */
  private compat(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], opts: Http2EdgeOptions): void {
    const req = new Http2ServerRequest(stream, headers, {}, rawHeaders);
    const res = new Http2ServerResponse(stream);
    if (headers[':method'] === 'CONNECT') {
      // No tunnels, and no RFC 8441 WebSockets (enableConnectProtocol is off).
      res.statusCode = 405;
      res.end();
      return;
    }
    this.bodyDeadline(req, res, opts);
    const expect = headers.expect;
    if (expect === undefined) opts.onRequest(...asHttp1(req, res));
    else if (expect === '100-continue') opts.onCheckContinue(...asHttp1(req, res));
    else {
      res.statusCode = 417;
      res.end();
    }
  }

  /**
   * The compatibility API has no deadline for a request body (node:http's requestTimeout is
   * HTTP/1.1 only): without one a client trickling its body keeps the handler, its buffered body
   * and its upstream connection for as long as it likes. The time runs from the handler's first
   * read (the stream's 'resume'), as in the raw engine, so a write a fence holds unread is not cut.
   */
  private bodyDeadline(req: Http2ServerRequest, res: Http2ServerResponse, opts: Http2EdgeOptions): void {
    const stream = req.stream;
    if (stream.endAfterHeaders) return;
    let timer: NodeJS.Timeout | undefined;
    const disarm = (): void => clearTimeout(timer);
    stream.once('resume', () => {
      if (stream.closed || stream.destroyed) return;
      timer = setTimeout(() => {
        if (req.complete || stream.closed || stream.destroyed) return;
        opts.onBodyTimeout();
        if (res.headersSent) {
          stream.close(constants.NGHTTP2_CANCEL);
          return;
        }
        const { body, headers } = errorReply(new GatewayError('NW_GW_CLIENT_TIMEOUT', 'request body too slow'), '-', {});
        res.writeHead(408, headers);
        // Reset once the reply went out: the body stops, and the handler's request ends as aborted.
        res.end(body, () => {
          if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        });
      }, opts.requestBodyMs);
      stream.once('end', disarm);
      stream.once('close', disarm);
    });
  }

  /** A TLS connection that negotiated h2. */
  accept(socket: TLSSocket): void {
    this.server.emit('connection', socket);
  }

  /** Shutdown: every session gets GOAWAY (no new streams) and closes once its open streams are done. */
  closeGracefully(): void {
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  closeAll(): void {
    for (const s of this.sessions) s.destroy();
  }

  /** Open HTTP/2 connections. */
  get sessionCount(): number {
    return this.sessions.size;
  }
}
