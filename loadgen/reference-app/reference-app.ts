import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAdmin, type AdminContext } from './app-admin.js';
import { KEY_PATTERN, MAX_BODY_BYTES, MAX_KEY_LENGTH, sendError, sendJson, sendStoreFailed } from './app-errors.js';
import { CommitLog } from './commit-log.js';
import type { KvStore } from './kv-store.js';
import { MemoryStore } from './memory-store.js';
import { putRecorded } from './put-recorded.js';
import { attachWebSocketWrites } from './ws-writes.js';

export interface ReferenceAppOptions {
  /** Deployment name, sent as `x-served-by` on every response (e.g. "n1"). */
  readonly deployment: string;
  readonly host?: string;
  /** 0 (default) for any free port. */
  readonly port?: number;
  /** Defaults to a new MemoryStore. */
  readonly store?: KvStore;
  /**
   * Record every write the app applied (GET /_admin/commits), for checks that must not trust
   * response headers. Off by default.
   */
  readonly commitLog?: boolean;
  /**
   * The /_admin/ endpoints besides the commit log: a fault switch (every other request answers
   * an error status while it is on), a snapshot of the store of record (a store with `entries`)
   * and, on a MemoryStore, a copy endpoint for an in-memory data sync. Off by default: anyone
   * who can reach the app could use them.
   */
  readonly admin?: boolean;
  /** Writes over WebSocket at /ws (see ws-writes.ts). Off by default. */
  readonly webSocket?: boolean;
}

export interface ReferenceApp {
  readonly url: string;
  readonly port: number;
  readonly store: KvStore;
  /** With `commitLog`: every write applied, in order. */
  readonly commits: CommitLog | undefined;
  /** Every request but /_admin/ answers this status (NW_APP_FAULT_INJECTED) until cleared with undefined. */
  setFault(status: number | undefined): void;
  close(): Promise<void>;
}

/** What a request handler needs besides the request. */
interface AppContext extends AdminContext {
  readonly deployment: string;
}

class BodyTooLarge extends Error {}

/**
 * Starts the small REST key-value app that plays N1 or N2:
 * GET/PUT/DELETE /kv/:key and GET /healthz.
 */
export async function startReferenceApp(o: ReferenceAppOptions): Promise<ReferenceApp> {
  const store = o.store ?? new MemoryStore();
  const deployment = o.deployment;
  const ctx: AppContext = {
    deployment,
    store,
    commits: o.commitLog ? new CommitLog() : undefined,
    admin: o.admin ?? false,
    fault: { status: undefined },
  };
  const server = createServer((req, res) => {
    res.setHeader('x-served-by', deployment);
    handle(req, res, ctx).catch((err: unknown) => {
      if (!res.headersSent) sendStoreFailed(res, err);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  const sockets = o.webSocket ? attachWebSocketWrites(server, ctx) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    store,
    commits: ctx.commits,
    setFault: (status) => {
      ctx.fault.status = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: AppContext): Promise<void> {
  const receivedNs = CommitLog.now();
  const { store, deployment } = ctx;
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (path.startsWith('/_admin/') && (await handleAdmin(req, res, path, ctx))) return;
  if (ctx.fault.status !== undefined) return sendError(res, 'NW_APP_FAULT_INJECTED', undefined, !req.complete, ctx.fault.status);
  if (path === '/healthz') {
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, 'NW_APP_METHOD_NOT_ALLOWED', 'GET, HEAD');
    return sendJson(res, 200, { ok: true, deployment });
  }
  if (!path.startsWith('/kv/')) return sendError(res, 'NW_APP_NOT_FOUND');
  const rawKey = path.slice('/kv/'.length);
  if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') {
    return sendError(res, 'NW_APP_METHOD_NOT_ALLOWED', 'GET, PUT, DELETE');
  }
  if (rawKey.length === 0 || rawKey.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(rawKey)) {
    return sendError(res, 'NW_APP_INVALID_KEY');
  }
  const key = rawKey;
  if (method === 'GET') {
    const entry = await store.get(key);
    if (!entry) return sendError(res, 'NW_APP_KEY_NOT_FOUND');
    return sendJson(res, 200, { key, value: entry.value, deployment, version: entry.version });
  }
  if (method === 'DELETE') {
    const existed = await store.delete(key);
    if (!existed) return sendError(res, 'NW_APP_KEY_NOT_FOUND');
    return sendJson(res, 200, { key, deleted: true, deployment });
  }
  let value: string;
  try {
    value = await readBody(req);
  } catch (err) {
    return sendError(res, err instanceof BodyTooLarge ? 'NW_APP_BODY_TOO_LARGE' : 'NW_APP_BAD_BODY', undefined, true);
  }
  const beginNs = CommitLog.now();
  const header = req.headers['x-request-id'];
  const requestId = typeof header === 'string' ? header : undefined;
  const version = await putRecorded(ctx, key, value, (v) => ({ key, value, version: v, requestId, via: 'http', receivedNs, beginNs }));
  return sendJson(res, 200, { key, version, deployment });
}

/** Reads the body up to MAX_BODY_BYTES; rejects early on a too-large Content-Length. */
function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_BODY_BYTES) return Promise.reject(new BodyTooLarge());
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
