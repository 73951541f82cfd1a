// RTT links on the real Toxiproxy (scripts/services.sh): a request and its reply through a link take
// the configured round-trip time more, the toxics are RTT/2 each way, and dispose removes what the
// links made while a proxy they only attached to stays with its other toxics.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import { RttLinks } from '../../loadgen/experiments/rtt-links.js';
import { requireService } from '../support/service-endpoints.js';

/** One request/reply over a new connection to `address` (host:port), ms from the first byte sent to the reply. */
function roundTrip(address: string): Promise<number> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = connect(Number(address.slice(i + 1)), address.slice(0, i), () => {
      const t0 = performance.now();
      s.once('data', () => {
        resolve(performance.now() - t0);
        s.destroy();
      });
      s.write('ping');
    });
    s.setTimeout(5000, () => s.destroy(new Error(`no reply from ${address}`)));
    s.on('error', reject);
  });
}

/** The fastest of a few round trips: the link's delay, with as little of the host's noise as can be had. */
async function fastestRoundTrip(address: string, n = 3): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) best = Math.min(best, await roundTrip(address));
  return best;
}

describe('RTT links through Toxiproxy (loadgen/experiments/rtt-links.ts)', function () {
  this.timeout(30_000);
  const apiUrl = requireService('toxiproxy').apiUrl;
  const tag = randomBytes(3).toString('hex');
  let echo: Server;
  let upstream: string;

  before(async () => {
    echo = createServer((c) => c.on('data', (d) => c.write(d)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    upstream = `127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => echo.close(() => r())));

  it('a link adds the round-trip time it is set to (RTT/2 each way), and none at 0', async () => {
    const links = await RttLinks.connect(apiUrl);
    const name = `nw-test-rtt-${tag}-a`;
    try {
      const address = await links.link(name, upstream);
      assert.ok((await fastestRoundTrip(address)) < 20, 'no latency at RTT 0');
      await links.setRtt(50);
      const toxics = await links.toxicsOf(name);
      assert.deepEqual(toxics.map((t) => [t.type, t.stream, t.attributes.latency]).sort(), [
        ['latency', 'downstream', 25],
        ['latency', 'upstream', 25],
      ]);
      const slow = await fastestRoundTrip(address);
      assert.ok(slow >= 48 && slow < 400, `a round trip at RTT 50 took ${slow.toFixed(1)} ms`);
      await links.setRtt(5);
      assert.deepEqual(
        (await links.toxicsOf(name)).map((t) => `${t.stream} ${t.attributes.latency}`).sort(),
        ['downstream 3', 'upstream 2'],
        'setRtt replaces its toxics; an odd RTT is split in whole ms that add up to it',
      );
      await links.setRtt(0);
      assert.deepEqual(await links.toxicsOf(name), []);
      await assert.rejects(links.setRtt(-1), RangeError);
      await assert.rejects(links.setRtt(2.5), RangeError);
    } finally {
      await links.dispose();
    }
    const names = Object.keys(await new Toxiproxy(apiUrl).getAll());
    assert.equal(names.includes(name), false, 'dispose removed the proxy it made');
  });

  it('an attached proxy (the datacenter link the cluster script made) gets the RTT and keeps its own toxics after dispose', async () => {
    const tp = new Toxiproxy(apiUrl);
    const name = `nw-test-rtt-${tag}-b`;
    const proxy = await tp.createProxy({ name, listen: '127.0.0.1:0', upstream });
    try {
      await proxy.addToxic({
        name: 'operator-own',
        type: 'latency',
        stream: 'downstream',
        toxicity: 1,
        attributes: { latency: 1, jitter: 0 },
      });
      const links = await RttLinks.connect(apiUrl);
      await links.setRtt(20);
      await links.attach(name);
      const rtt = await fastestRoundTrip(proxy.listen);
      assert.ok(rtt >= 20, `a round trip through the attached proxy at RTT 20 took ${rtt.toFixed(1)} ms`);
      await links.dispose();
      assert.deepEqual(
        (await links.toxicsOf(name)).map((t) => t.name),
        ['operator-own'],
        'dispose removed only the links’ toxics',
      );
      assert.ok(Object.keys(await tp.getAll()).includes(name), 'an attached proxy is not removed');
    } finally {
      await proxy.remove();
    }
  });
});
