// 20 reloads that move an app between two upstream sets while keep-alive clients keep sending
// reads and writes, through each engine: no request fails, no client connection is closed or
// reopened, and traffic follows the last set.
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import type { ReloadResult } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { appOn, startFileGateway, testConfig, type FileGateway } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';

const CLIENT_CONNECTIONS = 8;
const WORKERS = 16;
const RELOADS = 20;

describe('gateway reload under load', function () {
  this.timeout(60_000);
  const ups: EchoUpstream[] = [];
  let g: FileGateway | undefined;
  let client: Pool | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await g?.close();
    g = undefined;
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  for (const engine of ['raw', 'node'] as const) {
    it(`${engine} engine: ${RELOADS} reloads alternating two upstream sets, 0 failed requests, keep-alive connections kept`, async () => {
      for (const name of ['a1', 'a2', 'b1', 'b2']) ups.push(await startEchoUpstream(name));
      const setA = [ups[0]!.url, ups[1]!.url];
      const setB = [ups[2]!.url, ups[3]!.url];
      const config = (set: string[]) => testConfig({ shop: appOn('shop.test', set) }, { engine });
      g = await startFileGateway(config(setA));
      assert.equal(g.gw.engine, engine === 'node' ? 'undici' : 'raw');

      client = new Pool(g.url, { connections: CLIENT_CONNECTIONS, pipelining: 1 });
      let connects = 0;
      let disconnects = 0;
      client.on('connect', () => connects++);
      client.on('disconnect', () => disconnects++);

      let done = 0;
      const failures: string[] = [];
      const servedBy = new Map<string, number>();
      let stop = false;
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const write = i % 3 === 0;
          try {
            const res = await client!.request({
              path: `/kv/w${w}-${i % 10}`,
              method: write ? 'PUT' : 'GET',
              headers: { host: 'shop.test' },
              body: write ? `value-${i}` : null,
            });
            await res.body.text();
            const by = String(res.headers['x-served-by']);
            if (res.statusCode >= 500 || res.headers['x-northwest-error'] !== undefined || !/^[ab][12]$/.test(by))
              failures.push(`${res.statusCode} ${String(res.headers['x-northwest-error'])}`);
            servedBy.set(by, (servedBy.get(by) ?? 0) + 1);
          } catch (err) {
            failures.push(String(err));
          }
          done++;
        }
      };
      const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));

      for (let r = 0; r < RELOADS; r++) {
        const mark = done;
        // Requests are in flight across each reload: it happens while the workers keep sending.
        await eventually(() => done >= mark + 40, { timeoutMs: 10_000, message: `traffic goes on before reload ${r}` });
        g.write(config(r % 2 === 0 ? setB : setA));
        const result: ReloadResult = await g.gw.reloadFromFile();
        assert.deepEqual(result.changed, ['shop']);
      }
      const mark = done;
      await eventually(() => done >= mark + 40, { timeoutMs: 10_000, message: 'traffic goes on after the last reload' });
      stop = true;
      await Promise.all(workers);

      assert.deepEqual(failures, [], `${failures.length} of ${done} requests failed`);
      assert.ok(done > RELOADS * 40, `${done} requests`);
      assert.ok(connects <= CLIENT_CONNECTIONS, `${connects} client connections opened`);
      assert.equal(disconnects, 0, 'no client connection was closed');
      for (const name of ['a1', 'a2', 'b1', 'b2'])
        assert.ok((servedBy.get(name) ?? 0) > 0, `${name} served: ${JSON.stringify([...servedBy])}`);
      // The last reload (r = 19) went back to set A.
      const last = await client.request({ path: '/kv/x', method: 'GET', headers: { host: 'shop.test' } });
      await last.body.dump();
      assert.match(String(last.headers['x-served-by']), /^a[12]$/);
    });
  }
});
