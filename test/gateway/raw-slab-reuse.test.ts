import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';
import { startTlsHarness, type TlsHarness } from '../support/tls-gateway.js';

/**
 * The raw engine copies small body pieces (and heads with their first piece) into slabs and gives
 * a piece's bytes back to the slab once the socket wrote them whole (head-fields.ts, writeCut):
 * one slab then serves every request. A piece a socket could not take at once is still the
 * kernel's to read: these tests keep such writes pending (a client that does not read) while
 * other connections cut and write many pieces, and check every byte each client got.
 */

const BIG_BYTES = 6 * 1024 * 1024;
const PIECE_BYTES = 4096;

/** Byte i of the big body: its offset, so any byte out of place shows. */
function bigBody(): Buffer {
  const b = Buffer.alloc(BIG_BYTES);
  for (let i = 0; i < BIG_BYTES; i += 4) b.writeUInt32BE(i, i);
  return b;
}

function smallBody(n: number): Buffer {
  return Buffer.from(`${n}:`.repeat(2000).slice(0, 8000));
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The app: /big sends BIG_BYTES in small pieces (each its own read at the gateway), /small/N 8 KB. */
function bigAndSmallApp(big: Buffer): Server {
  return createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(BIG_BYTES) });
      let at = 0;
      const next = (): void => {
        while (at < BIG_BYTES) {
          const piece = big.subarray(at, at + PIECE_BYTES);
          at += PIECE_BYTES;
          if (!res.write(piece)) {
            res.once('drain', () => setImmediate(next));
            return;
          }
          if (at % (4 * PIECE_BYTES) === 0) {
            setImmediate(next);
            return;
          }
        }
        res.end();
      };
      next();
      return;
    }
    const n = Number(req.url?.slice('/small/'.length));
    const body = smallBody(n);
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
}

function assertSameBytes(got: Buffer, want: Buffer): void {
  assert.equal(got.length, want.length, 'the whole body');
  if (sha(got) === sha(want)) return;
  let i = 0;
  while (i < want.length && got[i] === want[i]) i++;
  assert.fail(`the body differs from byte ${i} on (of ${want.length})`);
}

describe('raw engine: slab pieces given back only once written whole', () => {
  const big = bigBody();
  let app: Server;
  let url: string;

  before(async () => {
    app = bigAndSmallApp(big);
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => app.close(() => r())));

  describe('HTTP/1.1', () => {
    let h: Harness;
    let client: RawHttpClient;
    before(async () => {
      h = await startGatewayHarness({ config: { engine: 'raw' }, n1Urls: [url], n2Urls: [url], app: { n1: { retries: 0 } } });
      client = new RawHttpClient(Number(new URL(h.url).port));
    });
    after(async () => {
      client.destroyAll();
      await h.close();
    });

    it('delivers every byte to a client that stopped reading while other connections wrote many pieces', async () => {
      const slow = await client.open();
      slow.socket.pause();
      slow.write('GET /big HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      // Long enough for the gateway's writes to the paused client to queue (its buffers full).
      await sleep(300);
      const busy = await Promise.all(
        [0, 1, 2, 3].map(async (k) => {
          const bad: string[] = [];
          for (let i = 0; i < 60; i++) {
            const n = k * 1000 + i;
            const r = await client.exchange(`GET /small/${n} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
            if (r.responses[0]?.body !== smallBody(n).toString()) bad.push(`request ${n}: ${r.raw.slice(0, 120)}`);
          }
          return bad;
        }),
      );
      assert.deepEqual(busy.flat(), [], 'every small reply intact');
      slow.socket.resume();
      const raw = Buffer.from((await slow.closed).raw, 'latin1');
      assertSameBytes(raw.subarray(raw.indexOf('\r\n\r\n') + 4), big);
    });
  });

  describe('HTTP/2', () => {
    let h: TlsHarness;
    before(async () => {
      h = await startTlsHarness({ config: { engine: 'raw' }, tls: { http2: true }, n1Urls: [url], n2Urls: [url] });
    });
    after(() => h.close());

    it("delivers every byte of a reply its stream holds for a slow reader (the link's read buffer is only lent)", async () => {
      const session = await h.http2();
      const stream = session.request({ ':method': 'GET', ':path': '/big', ':authority': 'shop.test' });
      const chunks: Buffer[] = [];
      stream.pause();
      await sleep(300);
      // Other streams read through the same upstream pool meanwhile, so its read buffer is reused.
      for (let i = 0; i < 40; i++) {
        const r = session.request({ ':method': 'GET', ':path': `/small/${i}`, ':authority': 'shop.test' });
        const got: Buffer[] = [];
        r.on('data', (c: Buffer) => got.push(c));
        await new Promise((resolve, reject) => {
          r.on('end', resolve);
          r.on('error', reject);
        });
        assert.equal(Buffer.concat(got).toString(), smallBody(i).toString());
      }
      stream.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('error', reject);
        stream.resume();
      });
      assertSameBytes(Buffer.concat(chunks), big);
      session.close();
    });
  });
});
