import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { llhttpBinding } from '../../gateway/raw/llhttp-binding.js';
import { LinkPool } from '../../gateway/raw/upstream-links.js';
import { eventually } from '../support/eventually.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';

const KEEP_ALIVE_MS = 3000;

/** A server on port 0 (its connections in `sockets`) and a pool of links to it. */
async function poolToServer(sockets: Socket[] = []): Promise<{ server: Server; pool: LinkPool }> {
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const verdict = llhttpBinding();
  if (!verdict.ok) throw new Error(verdict.reason);
  const pool = new LinkPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, verdict.binding, {
    connectTimeoutMs: 2000,
    keepAliveMs: KEEP_ALIVE_MS,
    connections: 4,
    queueTimeoutMs: 2000,
  });
  return { server, pool };
}

/**
 * The pool's sweep closes a connection idle for longer than keepAliveMs. Its socket's 'close' (which
 * takes it off the idle list) comes in a later phase of the event loop: a request read in between
 * (the poll phase of the same turn) must not be given the connection just destroyed, or a write
 * fails with a reset it cannot be retried after.
 */
describe('raw engine: upstream link pool sweep', () => {
  let server: Server;
  let pool: LinkPool;

  before(async () => {
    ({ server, pool } = await poolToServer());
  });
  after(async () => {
    pool.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('hands out no connection its sweep has just closed', async () => {
    const link = await pool.acquire();
    pool.release(link, true);
    pool.sweep(1000); // the first sweep that sees it idle stamps it
    pool.sweep(1000 + KEEP_ALIVE_MS); // idle for keepAliveMs: closed
    assert.equal(link.socket.destroyed, true);
    const next = pool.takeIdle();
    assert.ok(next === undefined, `takeIdle gave out a connection (destroyed: ${next?.socket.destroyed})`);
  });
});

/**
 * A server that closes an idle kept-alive connection (its FIN) takes that connection out of use at
 * once: a call dispatched before the socket's 'close' must not be given it (a POST written on it
 * fails, outcome unknown, though the app never saw it).
 */
describe('raw engine: upstream link pool, a connection its server closed while idle', () => {
  let server: Server;
  let pool: LinkPool;
  const sockets: Socket[] = [];

  before(async () => {
    ({ server, pool } = await poolToServer(sockets));
  });
  after(async () => {
    pool.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('is not handed out between its FIN and its close', async () => {
    const link = await pool.acquire();
    pool.release(link, true);
    await eventually(() => sockets.length === 1, { timeoutMs: 2000, message: 'the server has the connection' });
    // What a call dispatched right after the FIN would be given (listeners run in order: the link's first).
    const given = new Promise<boolean>((resolve) => {
      link.socket.once('end', () => {
        const next = pool.takeIdle();
        resolve(next === link);
      });
    });
    sockets[0]!.end();
    assert.equal(await given, false, 'takeIdle gave out the connection its server had closed');
  });
});

/**
 * An app that says how long it keeps an idle connection (`Keep-Alive: timeout=N`, as node:http and
 * Apache send it) gets no request on a connection it may have closed: one whose timeout leaves no
 * time for the next request is not kept, a shorter one is closed sooner.
 */
describe('raw engine: the app’s Keep-Alive timeout', () => {
  let app: Server;
  let h: Harness;
  let connections = 0;

  before(async () => {
    app = createServer((socket) => {
      connections++;
      socket.on('error', () => undefined);
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
          const path = buf.slice(0, end).split(' ')[1] ?? '/';
          buf = buf.slice(end + 4);
          const seconds = /^\/ka\/(\d+)/.exec(path)?.[1];
          const hint = seconds === undefined ? '' : `Keep-Alive: timeout=${seconds}\r\n`;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${hint}\r\nok`);
        }
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    h = await startGatewayHarness({ config: { engine: 'raw' }, n1Urls: [url], n2Urls: [url], app: { n1: { retries: 0 } } });
  });
  after(async () => {
    await h.close();
    await new Promise<void>((r) => app.close(() => r()));
  });

  async function three(path: string): Promise<number> {
    const before = connections;
    for (let i = 0; i < 3; i++) assert.equal((await call(h.url, path)).text, 'ok');
    return connections - before;
  }

  it('does not keep a connection the app closes after a second idle (timeout=1)', async () => {
    assert.equal(await three('/ka/1'), 3);
  });

  it('keeps one the app keeps (timeout=30, or no hint)', async () => {
    assert.equal(await three('/ka/30'), 1);
    assert.equal(await three('/plain'), 0, 'the same connection, still kept');
  });
});
