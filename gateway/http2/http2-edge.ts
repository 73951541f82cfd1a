import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer,
  Http2ServerRequest,
  Http2ServerResponse,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { addResponseState } from './response-state.js';

export interface Http2EdgeOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: more open streams on one connection are refused (RST_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a larger header list resets its stream. */
  readonly maxHeaderBytes: number;
  /** A connection with no frame for this long is closed (GOAWAY). */
  readonly idleTimeoutMs: number;
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
      this.server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => opts.onRequest(...asHttp1(req, res)));
      this.server.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => opts.onCheckContinue(...asHttp1(req, res)));
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
    const expect = headers.expect;
    if (expect === undefined) opts.onRequest(...asHttp1(req, res));
    else if (expect === '100-continue') opts.onCheckContinue(...asHttp1(req, res));
    else {
      res.statusCode = 417;
      res.end();
    }
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
