import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { UpstreamServer } from '../upstream/upstream-server.js';
import { buildClientHeaders, type HeaderMap } from './forward-headers.js';
import { isConnectFailure, toUpstreamError } from './upstream-errors.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderMap;
  /** A Buffer can be replayed on another server; a stream cannot. */
  readonly body: Buffer | Readable | null;
}

export interface UpstreamReply {
  readonly statusCode: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly body: Dispatcher.ResponseData['body'];
  readonly server: UpstreamServer;
}

export interface SendHooks {
  onRetry?: (pool: UpstreamPool, err: GatewayError) => void;
}

/**
 * The retry policy of both senders. `send` makes one attempt on a server; a
 * request that certainly never reached an app (connection refused or timed
 * out) is retried on another server when its body can be replayed, an
 * idempotent one also after a reset — but never once `committed()` says
 * bytes went to the client. Rejects with a GatewayError.
 */
async function withRetries<T>(pool: UpstreamPool, req: UpstreamRequest, hooks: SendHooks, send: (server: UpstreamServer) => Promise<T>, committed: () => boolean = () => false): Promise<T> {
  const tried = new Set<UpstreamServer>();
  const replayable = req.body === null || Buffer.isBuffer(req.body);
  let lastErr: GatewayError | undefined;
  for (let attempt = 0; attempt <= pool.config.retries; attempt++) {
    const server = pool.select(tried);
    if (!server) break;
    tried.add(server);
    try {
      const result = await send(server);
      server.recordSuccess();
      return result;
    } catch (err) {
      if (committed()) throw err;
      const connectFailure = isConnectFailure(err);
      if (connectFailure || (err as { code?: string }).code === 'UND_ERR_SOCKET') pool.recordFailure(server);
      lastErr = toUpstreamError(err, server.origin);
      const retryable = replayable && (connectFailure || (IDEMPOTENT.has(req.method) && lastErr.code === 'NW_GW_UPSTREAM_RESET'));
      if (!retryable || attempt === pool.config.retries) throw lastErr;
      hooks.onRetry?.(pool, lastErr);
    }
  }
  throw lastErr ?? new GatewayError('NW_GW_NO_HEALTHY_UPSTREAM', `${pool.app}/${pool.deployment}`);
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
    let res: Dispatcher.ResponseData;
    try {
      res = await server.dispatcher.request({ method: req.method as Dispatcher.HttpMethod, path: req.path, headers: req.headers, body: req.body });
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
    return { statusCode: res.statusCode, headers: res.headers, body: res.body, server };
  });
}

/** Streams an upstream reply to the client, with our headers added. */
export async function writeReply(res: ServerResponse, reply: UpstreamReply, extra: HeaderMap): Promise<void> {
  res.writeHead(reply.statusCode, buildClientHeaders(reply.headers, extra));
  try {
    await pipeline(reply.body, res);
  } catch (err) {
    throw afterHeadersError(err, err, reply.server.origin);
  }
}

/**
 * The hot path: streams one exchange to a server of the pool and the reply
 * straight into the client response (undici's stream API: no intermediate
 * body stream, no pipeline). Retried like sendToPool while nothing has been
 * written to the client.
 */
export function streamToClient(pool: UpstreamPool, req: UpstreamRequest, res: ServerResponse, extra: HeaderMap, hooks: SendHooks = {}): Promise<void> {
  let started = false;
  return withRetries(
    pool,
    req,
    hooks,
    async (server) => {
      server.inFlight += 1;
      try {
        await server.dispatcher.stream({ method: req.method as Dispatcher.HttpMethod, path: req.path, headers: req.headers, body: req.body }, ({ statusCode, headers }) => {
          started = true;
          res.writeHead(statusCode, buildClientHeaders(headers, extra));
          return res;
        });
      } catch (err) {
        // undici destroys the response with the upstream's error; the promise only sees the premature close.
        throw started ? afterHeadersError(res.errored ?? err, err, server.origin) : err;
      } finally {
        server.inFlight -= 1;
      }
    },
    () => started,
  );
}
