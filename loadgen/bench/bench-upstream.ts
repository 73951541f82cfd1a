/**
 * The app server behind every bench target, run as its own process so it
 * never shares an event loop with a proxy or the load generator. It answers
 * every GET with the same 1 KB body and every other method, after reading the
 * request body to the end, with a small JSON body. Prints {"ready":true,...}
 * on stdout once listening; exits on SIGTERM / SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GET_REPLY_BYTES, postReply } from './bench-workloads.js';

const GET_BODY = Buffer.alloc(GET_REPLY_BYTES, 'a');
const GET_HEADERS = { 'content-type': 'application/octet-stream', 'content-length': String(GET_BODY.length) };

const server = createServer((req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, GET_HEADERS);
    res.end(req.method === 'HEAD' ? undefined : GET_BODY);
    req.resume();
    return;
  }
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  req.on('end', () => {
    const body = postReply(received);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
});
// Proxies keep idle upstream connections for a while between bench phases; don't drop them first.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const port = Number(process.argv[2] ?? '0');
server.listen(port, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${a.port}`, port: a.port })}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
