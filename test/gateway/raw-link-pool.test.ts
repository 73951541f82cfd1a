import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { llhttpBinding } from '../../gateway/raw/llhttp-binding.js';
import { LinkPool } from '../../gateway/raw/upstream-links.js';

const KEEP_ALIVE_MS = 3000;

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
    server = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const verdict = llhttpBinding();
    if (!verdict.ok) throw new Error(verdict.reason);
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = new LinkPool(origin, verdict.binding, {
      connectTimeoutMs: 2000,
      keepAliveMs: KEEP_ALIVE_MS,
      connections: 4,
      queueTimeoutMs: 2000,
    });
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
