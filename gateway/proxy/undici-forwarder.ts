import { guardedDispatcher, refuseAtSend, refusedAtSend, type SendGuard } from './send-guard.js';
import type { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { UpstreamServer } from '../upstream/upstream-server.js';
import { buildClientHeaders, clientHeaderList, headerMapOf, type HeaderMap } from './forward-headers.js';
import { cutStalledResponse, watchSendStall } from './send-timeout.js';
import { isConnectFailure, toUpstreamError } from './upstream-errors.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** What the access log learns of a response as it goes out. */
export interface ResponseMeter {
  /** Response body bytes written to the client. */
  bodyBytes: number;
  /** From the request going upstream (the attempt that was answered) to the upstream's response head. */
  upstreamMs: number | undefined;
}

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderMap;
  /** A Buffer can be replayed on another server; a stream cannot. */
  readonly body: Buffer | Readable | null;
  /** Measured by streamToClient (the exchange); the mirror paths measure through writeReply. */
  readonly meter?: ResponseMeter;
  /** A write's lease, checked again as the request goes out (see send-guard.ts). */
  readonly sendGuard?: SendGuard;
}

export interface UpstreamReply {
  readonly statusCode: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly body: Dispatcher.ResponseData['body'];
  readonly server: UpstreamServer;
  /** From the request going out to the response head. */
  readonly upstreamMs: number;
}

export interface SendHooks {
  onRetry?: (pool: UpstreamPool, err: GatewayError) => void;
  /**
   * An attempt failed after the request may have reached the app and before
   * it answered (a headers timeout, a reset): the app may still act on it.
   */
  onOutcomeUnknown?: () => void;
}

/** A default predicate shared by every call (a default arrow would be a new function per call). */
function never(): boolean {
  return false;
}

/**
 * The retry policy of both senders. `send` makes one attempt on a server; a
 * request that certainly never reached an app (connection refused or timed
 * out) is retried on another server when its body can be replayed, an
 * idempotent one also after a reset — but never once `committed()` says
 * bytes went to the client. Rejects with a GatewayError.
 */
async function withRetries<T>(
  pool: UpstreamPool,
  req: UpstreamRequest,
  hooks: SendHooks,
  send: (server: UpstreamServer) => Promise<T>,
  committed: () => boolean = never,
  outcomeKnown: (err: unknown) => boolean = never,
): Promise<T> {
  // Made on the first retry: most requests are served by their first attempt.
  let tried: Set<UpstreamServer> | undefined;
  const replayable = req.body === null || Buffer.isBuffer(req.body);
  let lastErr: GatewayError | undefined;
  for (let attempt = 0; attempt <= pool.config.retries; attempt++) {
    const server = pool.select(tried);
    if (!server) break;
    try {
      const result = await send(server);
      server.recordSuccess();
      return result;
    } catch (err) {
      // Refused as it was about to go out (the lease lapsed meanwhile): never sent, nothing to retry.
      if (refusedAtSend(err)) throw err;
      const connectFailure = isConnectFailure(err);
      if (!connectFailure && !outcomeKnown(err)) hooks.onOutcomeUnknown?.();
      tried ??= new Set();
      tried.add(server);
      if (committed()) throw err;
      if (connectFailure || (err as { code?: string }).code === 'UND_ERR_SOCKET') pool.recordFailure(server);
      lastErr = toUpstreamError(err, server.origin);
      const retryable = replayable && (connectFailure || (IDEMPOTENT.has(req.method) && lastErr.code === 'NW_GW_UPSTREAM_RESET'));
      if (!retryable || attempt === pool.config.retries) throw lastErr;
      hooks.onRetry?.(pool, lastErr);
    }
  }
  throw lastErr ?? pool.noServerError(tried);
}

/**
 * An error after the response headers went out: the client only sees a cut
 * connection, but the code still names the upstream's fault (e.g. a stalled body).
 */
function afterHeadersError(cause: unknown, fallback: unknown, origin: string): unknown {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('UND_ERR_') ? toUpstreamError(cause, origin) : fallback;
}

/** Sends one request to a server of the pool and returns the reply with its body unread (mirror and fallback paths). */
export function sendToPool(pool: UpstreamPool, req: UpstreamRequest, hooks: SendHooks = {}): Promise<UpstreamReply> {
  return withRetries(pool, req, hooks, async (server) => {
    server.inFlight += 1;
    const sentAt = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      const dispatcher = req.sendGuard ? guardedDispatcher(server.dispatcher, req.sendGuard) : server.dispatcher;
      res = await dispatcher.request({
        method: req.method as Dispatcher.HttpMethod,
        path: req.path,
        headers: req.headers,
        body: req.body,
      });
    } catch (err) {
      server.inFlight -= 1;
      throw err;
    }
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        server.inFlight -= 1;
      }
    };
    res.body.once('close', release);
    res.body.once('end', release);
    res.body.once('error', release);
    return { statusCode: res.statusCode, headers: res.headers, body: res.body, server, upstreamMs: performance.now() - sentAt };
  });
}

/** Streams an upstream reply to the client, with our headers added. */
export async function writeReply(res: ServerResponse, reply: UpstreamReply, extra: HeaderMap, meter?: ResponseMeter): Promise<void> {
  res.writeHead(reply.statusCode, buildClientHeaders(reply.headers, extra));
  if (meter) {
    meter.upstreamMs = reply.upstreamMs;
    reply.body.on('data', (chunk: Buffer) => (meter.bodyBytes += chunk.length));
  }
  const unwatch = watchSendStall(reply.body, res, reply.server.sendTimeoutMs);
  try {
    await pipeline(reply.body, res);
  } catch (err) {
    // The response's own error (the send timeout) names the failure better than the pipe's premature close.
    throw afterHeadersError(err, res.errored instanceof GatewayError ? res.errored : err, reply.server.origin);
  } finally {
    unwatch();
  }
}

/** What a client that went away before its reply finished looks like (as node's stream.finished reports it). */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** The writer currently attached to a client response (the listeners below are shared: no closures per request). */
const WRITER = Symbol('northwest.clientReplyWriter');
type WriterSlot = ServerResponse & { [WRITER]?: ClientReplyWriter | undefined };

function onResponseClose(this: WriterSlot): void {
  this[WRITER]?.responseClosed();
}

function onResponseDrain(this: WriterSlot): void {
  this[WRITER]?.drained();
}

function onSendTimeout(writer: ClientReplyWriter): void {
  writer.sendTimedOut();
}

/**
 * An undici dispatch handler (the core callback API: no AsyncResource, no
 * stream.finished listeners, no header object) that writes one upstream
 * reply straight into the client response. Settles once the response has
 * closed (finished or cut) or the upstream failed before any byte went to
 * the client (then the response is untouched and the request may be retried).
 */
class ClientReplyWriter implements Dispatcher.DispatchHandler {
  /** True once the status line and headers went to the client. */
  started = false;
  /** True once the upstream sent its status line: the app has answered, so a write's outcome is known. */
  answered = false;
  /** True if the request never went out (aborted before sending) or its own body failed: the app cannot act on it. */
  notSent = false;
  /** The client's premature close, when it left while a write's upstream was still going. */
  private clientGone: Error | undefined = undefined;
  private abortUpstream: ((err?: Error) => void) | undefined = undefined;
  private resume: (() => void) | undefined = undefined;
  private upstreamDone = false;
  private settled = false;
  /** A 'drain' listener is only added once a write found the client's buffer full. */
  private drainListening = false;
  /** Runs while the client's buffer is full (see send-timeout.ts); created only then. */
  private sendTimer: NodeJS.Timeout | undefined = undefined;
  private readonly sentAt = performance.now();

  constructor(
    private readonly res: WriterSlot,
    /** Its inFlight counts this attempt until it settles. */
    private readonly server: UpstreamServer,
    private readonly extra: HeaderMap,
    /** Writes are not aborted upstream when the client leaves (nginx's proxy_ignore_client_abort). */
    private readonly keepUpstream: boolean,
    private readonly sendTimeoutMs: number,
    private readonly resolve: () => void,
    private readonly reject: (err: unknown) => void,
    private readonly meter: ResponseMeter | undefined,
    private readonly sendGuard: SendGuard | undefined = undefined,
  ) {
    res[WRITER] = this;
    // A shared function, removed in settle: no once() wrapper allocated per request.
    res.on('close', onResponseClose);
  }

  responseClosed(): void {
    if (this.res.writableFinished) return void this.settle(null);
    const err = this.res.errored ?? prematureClose();
    if (!this.upstreamDone && this.keepUpstream && this.abortUpstream !== undefined) {
      // The write goes on without its client: it settles when the app has answered (or failed), so the
      // in-flight count (and a fence waiting on it) sees the app finish, not the client leave.
      this.clientGone = err;
      this.resume?.();
      return;
    }
    if (!this.upstreamDone) {
      if (!this.answered) this.notSent = this.abortUpstream === undefined;
      this.abortUpstream?.(err);
    }
    this.settle(err);
  }

  drained(): void {
    if (this.sendTimer !== undefined) {
      clearTimeout(this.sendTimer);
      this.sendTimer = undefined;
    }
    this.resume?.();
  }

  sendTimedOut(): void {
    this.sendTimer = undefined;
    cutStalledResponse(this.res, this.sendTimeoutMs);
  }

  private settle(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const { res } = this;
    res[WRITER] = undefined;
    res.off('close', onResponseClose);
    if (this.drainListening) res.off('drain', onResponseDrain);
    if (this.sendTimer !== undefined) clearTimeout(this.sendTimer);
    this.server.inFlight -= 1;
    if (err) this.reject(this.started ? afterHeadersError(err, err, this.server.origin) : err);
    else this.resolve();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (refuseAtSend(this.sendGuard, abort)) {
      this.notSent = true;
      return;
    }
    // A client that left before the request went out: nothing reaches the app.
    if (this.res.destroyed) {
      this.notSent = true;
      abort(this.res.errored ?? prematureClose());
    }
  }

  /** The request's own body failed (client abort, over the limit): the app never gets a whole request. */
  bodyFailed(err: Error): void {
    this.notSent = true;
    this.onError(err);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx interim replies are not passed on (node sends its own 100 Continue).
    if (statusCode < 200) return true;
    this.answered = true;
    this.resume = resume;
    if (this.meter) this.meter.upstreamMs = performance.now() - this.sentAt;
    if (this.clientGone) return true;
    this.started = true;
    const list = clientHeaderList(rawHeaders, this.extra);
    // node:http takes the flat list as it is (its fast path). HTTP/2's compatibility response
    // takes a list through removeHeader + appendHeader + setHeader for every line (each name
    // trimmed, lowercased and checked three times); an object goes through setHeader alone, to
    // the same headers.
    this.res.writeHead(statusCode, this.res instanceof Http2ServerResponse ? headerMapOf(list) : list);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // The reply of a write whose client left is read to its end and dropped.
    if (this.clientGone) return true;
    if (this.meter) this.meter.bodyBytes += chunk.length;
    const room = this.res.write(chunk);
    // false pauses undici until drained() resumes it.
    if (!room) {
      if (!this.drainListening) {
        this.drainListening = true;
        this.res.on('drain', onResponseDrain);
      }
      if (this.sendTimer === undefined && this.sendTimeoutMs > 0) this.sendTimer = setTimeout(onSendTimeout, this.sendTimeoutMs, this);
    }
    return room;
  }

  onComplete(): void {
    this.upstreamDone = true;
    if (this.clientGone) return void this.settle(this.clientGone);
    // Settles on the response's 'close' once it is flushed (or cut by the client).
    this.res.end();
  }

  onError(err: Error): void {
    this.upstreamDone = true;
    if (this.started && !this.clientGone) this.res.destroy(err);
    this.settle(err);
  }
}

/**
 * One attempt of streamToClient on one server, counted in its inFlight until it settles; rejects
 * with the raw error (undici's, or the client's premature close), or once the reply has started,
 * with the upstream's code for it (afterHeadersError). No async wrapper: this runs for every request.
 */
function dispatchToClient(
  server: UpstreamServer,
  req: UpstreamRequest,
  res: ServerResponse,
  extra: HeaderMap,
  attempt: { writer?: ClientReplyWriter },
  keepUpstream: boolean,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.inFlight += 1;
    const writer = new ClientReplyWriter(res, server, extra, keepUpstream, server.sendTimeoutMs, resolve, reject, req.meter, req.sendGuard);
    attempt.writer = writer;
    const body = req.body;
    if (body !== null && !Buffer.isBuffer(body)) body.once('error', (err) => writer.bodyFailed(err));
    try {
      server.dispatcher.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.path, headers: req.headers, body }, writer);
    } catch (err) {
      writer.onError(err as Error);
    }
  });
}

/**
 * The hot path: streams one exchange to a server of the pool and the reply
 * straight into the client response (an undici dispatch handler: no
 * intermediate body stream, no pipeline). Retried like sendToPool while
 * nothing has been written to the client. With `write`, a client that leaves
 * does not abort the upstream request: it settles when the app has answered.
 */
export function streamToClient(
  pool: UpstreamPool,
  req: UpstreamRequest,
  res: ServerResponse,
  extra: HeaderMap,
  hooks: SendHooks = {},
  write = false,
): Promise<void> {
  const attempt: { writer?: ClientReplyWriter } = {};
  return withRetries(
    pool,
    req,
    hooks,
    (server) => dispatchToClient(server, req, res, extra, attempt, write),
    // A client that left before the reply started is not retried for (its premature close is passed on as is).
    () => attempt.writer?.started === true || res.destroyed,
    () => attempt.writer?.answered === true || attempt.writer?.notSent === true,
  );
}
