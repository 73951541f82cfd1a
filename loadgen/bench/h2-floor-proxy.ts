/**
 * The h2 floor for the proxy bench: the least a Node HTTP/2 reverse proxy can do on this
 * machine, as floor-proxy.ts is for HTTP/1.1. A node:http2 secure server (h2 only, TLS 1.2 and
 * 1.3, the bench's certificate) whose every request goes through one undici Pool (keep-alive)
 * to the bench upstream with `pool.stream`: the request's headers copied (less HTTP/2's
 * pseudo-headers, which are no HTTP/1.1 headers; :authority becomes Host) and the reply's
 * headers copied back (less the connection-specific ones HTTP/2 forbids). It uses the
 * compatibility API (request, response), as most Node h2 proxies do (the gateway's raw engine
 * takes streams through the core API and its own upstream connections). No routing, no header
 * policy, no metrics, no retries: whatever the gateway's h2 path costs above this is ours.
 * Prints {"ready":true,...} on stdout once listening; exits on SIGTERM / SIGINT.
 *
 *   h2-floor-proxy.ts --upstream http://127.0.0.1:PORT --cert FILE --key FILE
 */
import { readFileSync } from 'node:fs';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } } });
if (!values.upstream || !values.cert || !values.key)
  throw new Error('h2-floor-proxy: --upstream URL, --cert FILE and --key FILE are required');
const pool = new Pool(values.upstream, { connections: 64, keepAliveTimeout: 30_000 });

/** HTTP/1.1 reply headers that HTTP/2 forbids (node:http2 throws on them). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function upstreamHeaders(h2: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in h2) {
    const value = h2[name];
    if (name.charCodeAt(0) !== 58 /* ':' */ && value !== undefined) out[name] = value;
  }
  out.host = h2[':authority'] ?? 'localhost';
  return out;
}

function clientHeaders(upstream: Dispatcher.ResponseData['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (!CONNECTION_SPECIFIC.has(name) && value !== undefined) out[name] = value;
  }
  return out;
}

const server = createSecureServer(
  { cert: readFileSync(values.cert), key: readFileSync(values.key), minVersion: 'TLSv1.2', allowHTTP1: false },
  (req, res) => {
    // A request without a body ended its stream with its HEADERS frame.
    const hasBody = !req.stream.endAfterHeaders;
    const opts: Dispatcher.RequestOptions = {
      method: req.method as Dispatcher.HttpMethod,
      path: req.url,
      headers: upstreamHeaders(req.headers),
      body: hasBody ? req : null,
    };
    pool
      .stream(opts, ({ statusCode, headers }) => {
        res.writeHead(statusCode, clientHeaders(headers));
        return res;
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502, { 'content-length': '0' });
        res.end();
      });
  },
);

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `https://127.0.0.1:${a.port}`, port: a.port })}\n`);
});

const stop = (): void => {
  server.close(() => void pool.close().finally(() => process.exit(0)));
  // No closeAllConnections on an HTTP/2 server: the bench is done with it, so exit after a grace.
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
