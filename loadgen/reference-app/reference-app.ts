import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KvStore } from './kv-store.js';
import { MemoryStore } from './memory-store.js';

/** Largest PUT body accepted; larger ones get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Longest key accepted. */
export const MAX_KEY_LENGTH = 256;
const KEY_PATTERN = /^[A-Za-z0-9._~-]+$/;

/** Every error the reference app answers with; `code` is stable and goes into the JSON body. */
export const REFERENCE_APP_ERRORS = {
  NW_APP_NOT_FOUND: { status: 404, message: 'no such path' },
  NW_APP_KEY_NOT_FOUND: { status: 404, message: 'no such key' },
  NW_APP_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  NW_APP_INVALID_KEY: { status: 400, message: `key must be 1..${MAX_KEY_LENGTH} URL-safe characters [A-Za-z0-9._~-]` },
  NW_APP_BODY_TOO_LARGE: { status: 413, message: `body larger than ${MAX_BODY_BYTES} bytes` },
  NW_APP_BAD_BODY: { status: 400, message: 'body could not be read' },
  NW_APP_STORE_FAILED: { status: 500, message: 'store failed' },
} as const;
export type ReferenceAppErrorCode = keyof typeof REFERENCE_APP_ERRORS;

export interface ReferenceAppOptions {
  /** Deployment name, sent as `x-served-by` on every response (e.g. "n1"). */
  readonly deployment: string;
  readonly host?: string;
  /** 0 (default) for any free port. */
  readonly port?: number;
  /** Defaults to a new MemoryStore. */
  readonly store?: KvStore;
}

export interface ReferenceApp {
  readonly url: string;
  readonly port: number;
  readonly store: KvStore;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

/**
 * Starts the small REST key-value app that plays N1 or N2:
 * GET/PUT/DELETE /kv/:key and GET /healthz.
 */
export async function startReferenceApp(o: ReferenceAppOptions): Promise<ReferenceApp> {
  const store = o.store ?? new MemoryStore();
  const deployment = o.deployment;
  const server = createServer((req, res) => {
    res.setHeader('x-served-by', deployment);
    handle(req, res, store, deployment).catch(() => {
      if (!res.headersSent) sendError(res, 'NW_APP_STORE_FAILED');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, store: KvStore, deployment: string): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
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
  const version = await store.put(key, value);
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

function sendJson(res: ServerResponse, status: number, body: object, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/** `close` ends the connection after the reply, for when the request body was not read to its end. */
function sendError(res: ServerResponse, code: ReferenceAppErrorCode, allow?: string, close = false): void {
  const e = REFERENCE_APP_ERRORS[code];
  if (allow) res.setHeader('allow', allow);
  sendJson(res, e.status, { error: { code, message: e.message } }, close);
}
