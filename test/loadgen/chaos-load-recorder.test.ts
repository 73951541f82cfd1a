import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import { request } from 'undici';
import { appErrorOf, errorBodyOf, LoadRecorder } from '../../loadgen/chaos/load/load-recorder.js';
import { sendRead, sendWrite } from '../../loadgen/chaos/load/http-writes.js';

describe('chaos load: the counts name an app error by its code and cause', () => {
  it('reads the code and the cause code from a JSON error body, and nothing from anything else', () => {
    assert.equal(
      appErrorOf('{"error":{"code":"NW_APP_STORE_FAILED","message":"store failed","cause":{"code":"NW_SYNC_WRITE_FAILED","message":"x"}}}'),
      'NW_APP_STORE_FAILED (NW_SYNC_WRITE_FAILED)',
    );
    assert.equal(appErrorOf('{"error":{"code":"NW_APP_STORE_FAILED","cause":{"message":"no code"}}}'), 'NW_APP_STORE_FAILED');
    for (const body of ['', 'not json', 'null', '[]', '{"error":"text"}', '{"error":{"code":5}}', '{"code":"NW_X"}'])
      assert.equal(appErrorOf(body), undefined, body);
  });

  describe('against an app server', () => {
    let server: Server;
    let url: string;
    before(async () => {
      // /kv/store-down: the reference app's store failure; /kv/gw: a 502 the gateway made; /kv/big: 1 MB of HTML.
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          if (req.url === '/kv/store-down') {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                error: {
                  code: 'NW_APP_STORE_FAILED',
                  message: 'store failed',
                  cause: { code: 'NW_SYNC_DATASTORE_UNAVAILABLE', message: 'down' },
                },
              }),
            );
          } else if (req.url === '/kv/gw') {
            res.writeHead(502, { 'x-northwest-error': 'NW_GW_UPSTREAM_UNAVAILABLE' });
            res.end('{"error":{"code":"NW_APP_STORE_FAILED"}}');
          } else if (req.url === '/kv/big') {
            res.writeHead(503, { 'content-type': 'text/html' });
            res.end('<p>'.repeat(350_000));
          } else res.end('ok');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it("counts writes and reads by the gateway's code first, else the app's code and cause, else the status", async () => {
      const rec = new LoadRecorder();
      const gateway = { name: 'gw-0', url };
      for (const key of ['store-down', 'gw', 'big', 'fine']) {
        await sendWrite(rec, { id: `w-${key}`, key, host: 'shop.test', gateway, source: 'writer' });
        await sendRead(rec, gateway, 'shop.test', key);
      }
      const failed = {
        'NW_APP_STORE_FAILED (NW_SYNC_DATASTORE_UNAVAILABLE)': 1,
        NW_GW_UPSTREAM_UNAVAILABLE: 1,
        'status 503': 1,
      };
      assert.deepEqual(rec.writeCounts, { total: 4, ok: 1, rejected: 0, failed, noAnswer: {} });
      assert.deepEqual(rec.reads, { total: 4, ok: 1, rejected: 0, failed, noAnswer: {} });
      assert.deepEqual(
        rec.writes.map((w) => [w.key, w.outcome, w.error]),
        [
          ['store-down', 'failed', 'NW_APP_STORE_FAILED (NW_SYNC_DATASTORE_UNAVAILABLE)'],
          ['gw', 'failed', 'NW_GW_UPSTREAM_UNAVAILABLE'],
          ['big', 'failed', undefined],
          ['fine', 'acked', undefined],
        ],
      );
    });

    it('reads at most 4 KiB of an error body and drops the rest; drops every other body unread', async () => {
      const big = await request(`${url}/kv/big`);
      const text = await errorBodyOf(big.statusCode, big.headers, big.body);
      assert.equal(text?.length, 4096);
      const ok = await request(`${url}/kv/fine`);
      assert.equal(await errorBodyOf(ok.statusCode, ok.headers, ok.body), undefined);
      assert.equal(ok.body.bodyUsed, true, 'the body was dumped');
    });
  });
});
