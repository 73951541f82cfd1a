import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A tiny app server for the quick start and tests: a key-value store at
 * /kv/<key> (GET, PUT, DELETE), /healthz, and an echo of anything else.
 * Every reply names the deployment that made it.
 */
export interface EchoUpstream {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  readonly store: Map<string, string>;
  /** Requests seen, newest last (method, path, headers, performance.now() when answered). */
  readonly seen: Array<{ method: string; path: string; headers: Record<string, string | string[] | undefined>; at: number }>;
  close(): Promise<void>;
}

export async function startEchoUpstream(
  deployment: string,
  host = '127.0.0.1',
  port = 0,
  store = new Map<string, string>(),
  /** Serve https:// with this certificate and key (PEM). */
  tls?: { cert: string; key: string },
): Promise<EchoUpstream> {
  const seen: EchoUpstream['seen'] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      seen.push({ method: req.method ?? 'GET', path, headers: { ...req.headers }, at: performance.now() });
      const reply = (status: number, body: unknown): void => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-served-by': deployment });
        res.end(text);
      };
      if (path === '/healthz') return reply(200, { ok: true, deployment });
      const kv = /^\/kv\/([^/?]+)/.exec(path);
      if (kv) {
        const key = decodeURIComponent(kv[1]!);
        if (req.method === 'GET')
          return store.has(key) ? reply(200, { key, value: store.get(key), deployment }) : reply(404, { key, deployment });
        if (req.method === 'PUT' || req.method === 'POST') {
          store.set(key, Buffer.concat(chunks).toString('utf8'));
          return reply(200, { key, stored: true, deployment });
        }
        if (req.method === 'DELETE') return reply(200, { key, deleted: store.delete(key), deployment });
      }
      reply(200, { deployment, method: req.method, path, bytes: Buffer.concat(chunks).length });
    });
  };
  const server = tls === undefined ? createServer(handle) : createTlsServer(tls, handle);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const a = server.address() as AddressInfo;
  return {
    server,
    url: `${tls === undefined ? 'http' : 'https'}://${host}:${a.port}`,
    port: a.port,
    store,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
