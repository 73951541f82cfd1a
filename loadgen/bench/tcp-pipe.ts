/**
 * The limit for any Node proxy in the proxy bench: no HTTP at all. Each client connection gets
 * its own TCP connection to the bench upstream, and bytes are piped both ways. Whatever an HTTP
 * engine in Node costs above this is parsing, routing and policy. Prints {"ready":true,...} on
 * stdout once listening; exits on SIGTERM / SIGINT.
 *
 *   tcp-pipe.ts --upstream http://127.0.0.1:PORT
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
if (!values.upstream) throw new Error('tcp-pipe: --upstream URL is required');
const target = new URL(values.upstream);
const sockets = new Set<Socket>();

const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {
      client.destroy();
      upstream.destroy();
    });
  }
  client.pipe(upstream);
  upstream.pipe(client);
});

server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${a.port}`, port: a.port })}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
