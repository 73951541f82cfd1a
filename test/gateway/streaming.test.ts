import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';

const CHUNK = Buffer.alloc(64 * 1024, 'n');
const CHUNKS = 256; // 16 MiB: far more than the socket buffers on both sides hold.

describe('gateway streaming', function () {
  this.timeout(30_000);
  let upstream: Server;
  let h: Harness;
  let expectedHash: string;

  before(async () => {
    const hash = createHash('sha256');
    for (let i = 0; i < CHUNKS; i++) hash.update(CHUNK);
    expectedHash = hash.digest('hex');
    // Writes as fast as the gateway takes it, honouring its backpressure.
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const pump = (): void => {
        while (sent < CHUNKS) {
          sent += 1;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    h = await startGatewayHarness({ n1Urls: [`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`] });
  });
  after(async () => {
    await h.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('passes a large reply to a client that stops reading for a while, byte for byte (backpressure, then resume)', async () => {
    const { hash, bytes } = await new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      const req = request(`${h.url}/big`, { headers: { host: 'shop.test' } }, (res) => {
        const digest = createHash('sha256');
        let bytes = 0;
        res.pause();
        // Long enough for the gateway's write buffer to fill and undici to be paused.
        setTimeout(() => {
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            digest.update(c);
          });
          res.on('end', () => resolve({ hash: digest.digest('hex'), bytes }));
          res.resume();
        }, 300);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(bytes, CHUNK.length * CHUNKS);
    assert.equal(hash, expectedHash);
  });
});
