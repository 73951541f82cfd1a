/**
 * The floor for the proxy bench: the least a Node reverse proxy can do on
 * this machine. A node:http server whose every request goes through one
 * undici Pool (keep-alive) to the bench upstream with `pool.stream`, request
 * headers copied as they came and the reply's headers copied back; no
 * routing, no header filtering, no metrics, no retries. Whatever the gateway
 * costs above this is ours. Prints {"ready":true,...} on stdout once
 * listening; exits on SIGTERM / SIGINT.
 *
 *   floor-proxy.ts --upstream http://127.0.0.1:PORT
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
if (!values.upstream) throw new Error('floor-proxy: --upstream URL is required');
const pool = new Pool(values.upstream, { connections: 64, keepAliveTimeout: 30_000 });

const server = createServer((req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const opts: Dispatcher.RequestOptions = {
    method: req.method as Dispatcher.HttpMethod,
    path: req.url ?? '/',
    headers: req.headers,
    body: hasBody ? req : null,
  };
  pool
    .stream(opts, ({ statusCode, headers }) => {
      res.writeHead(statusCode, headers as Record<string, string | string[]>);
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
      res.end();
    });
});
server.keepAliveTimeout = 65_000;

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${a.port}`, port: a.port })}\n`);
});

const stop = (): void => {
  server.close(() => void pool.close().finally(() => process.exit(0)));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
