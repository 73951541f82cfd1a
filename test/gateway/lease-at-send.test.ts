import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { GatewayError } from '../../gateway/index.js';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';

/**
 * A write whose lease lapses after the gateway dispatched it and before it goes out (it waited for
 * an upstream connection here; a process paused by GC or SIGSTOP is the same) is never sent: the
 * lease is checked again as the request is written (found by the 200-migration fault campaign: a
 * gateway SIGSTOPped between the two sent mirrored writes to N1 after N2 had taken over).
 */
interface HoldingApp {
  readonly url: string;
  readonly seen: string[];
  release(): void;
  close(): Promise<void>;
}

async function startHoldingApp(): Promise<HoldingApp> {
  const seen: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server: Server = createServer((req, res) => {
    req.resume();
    // Only whole requests count: a body cut before its end is never acted on.
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      const answer = (): void => void res.end('ok');
      if (req.url === '/hold') void released.then(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    release,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

for (const engine of ['raw', 'node'] as const) {
  for (const mode of ['serve', 'mirror'] as const) {
    describe(`gateway (${engine} engine, ${mode}): the lease is checked again as a write goes out`, () => {
      let h: Harness | undefined;
      const apps: HoldingApp[] = [];
      afterEach(async () => {
        for (const a of apps) a.release();
        await h?.close();
        await Promise.all(apps.splice(0).map((a) => a.close()));
      });

      for (const body of [undefined, 'value'] as const) {
        const what = body === undefined ? 'bodiless DELETE' : 'PUT with a body';
        it(`a ${what} queued for a connection past the lapse never reaches the app`, async () => {
          const n1 = await startHoldingApp();
          const n2 = await startHoldingApp();
          apps.push(n1, n2);
          let lapsed = false;
          h = await startGatewayHarness({
            config: { engine },
            n1Urls: [n1.url],
            n2Urls: [n2.url],
            app: { n1: { connectionsPerServer: 1, retries: 0 }, n2: { connectionsPerServer: 1, retries: 0 } },
            writeGuard: () => (lapsed ? new GatewayError('NW_GW_LEASE_EXPIRED', 'lapsed (test)') : undefined),
          });
          if (mode === 'mirror') await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', primary: 'n1', readFrom: 'n1' });
          // Holds each side's only connection (in mirror a read goes to n1 only: hold n2's with a second one).
          const holds = [request(`${h.url}/hold`, { headers: { host: 'shop.test' } })];
          await eventually(() => assert.equal(n1.seen.length, 1), { timeoutMs: 5000, message: 'the hold reached n1' });
          const write = request(`${h.url}/w`, {
            method: body === undefined ? 'DELETE' : 'PUT',
            headers: { host: 'shop.test' },
            ...(body === undefined ? {} : { body }),
          });
          // The gauge is collected when rendered.
          const inFlight = (): number => {
            const line = h!.gw.metrics
              .render()
              .split('\n')
              .find((l) => l.startsWith('northwest_gateway_upstream_in_flight{') && l.includes('deployment="n1"'));
            return Number(line?.split(' ').at(-1));
          };
          await eventually(() => assert.equal(inFlight(), 2), { timeoutMs: 5000, message: 'the write waits for the connection' });
          lapsed = true;
          n1.release();
          const res = await write;
          const text = await res.body.text();
          assert.equal(res.statusCode, 503, text);
          assert.equal(res.headers['x-northwest-error'], 'NW_GW_LEASE_EXPIRED');
          assert.deepEqual(n1.seen, ['GET /hold'], 'the write reached N1 after the lease lapsed');
          // Under mirror the copy to N2 (whose connection was free) went out before the lapse.
          if (mode === 'serve') assert.deepEqual(n2.seen, [], 'the write reached N2 after the lease lapsed');
          await (await holds[0]!).body.dump();
        });
      }
    });
  }
}
