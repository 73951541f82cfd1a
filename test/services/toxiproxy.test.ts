// Smoke test: Toxiproxy from scripts/services.sh, through toxiproxy-node-client: a proxy in front of
// one ZooKeeper server passes its bytes, refuses connections while disabled, and is gone when removed.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import { requireService } from '../support/service-endpoints.js';

/** Sends `ruok` to host:port; resolves with the reply, or the error code. */
function ruok(address: string): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    let reply = '';
    // write without a FIN: Toxiproxy may close the upstream side on the client's FIN before the reply
    const s = connect(Number(port), host, () => s.write('ruok'));
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (c: Buffer) => (reply += c.toString()));
    s.on('close', () => resolve(reply));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('services: Toxiproxy', function () {
  this.timeout(30_000);

  it('proxies to a ZooKeeper server, refuses while disabled, and removes the proxy', async () => {
    const tp = new Toxiproxy(requireService('toxiproxy').apiUrl);
    const zk = requireService('zookeeper').servers[0]!;
    const proxy = await tp.createProxy({
      name: `nw-smoke-${randomBytes(3).toString('hex')}`,
      listen: '127.0.0.1:0',
      upstream: `${zk.host}:${zk.port}`,
    });
    try {
      assert.equal(await ruok(proxy.listen), 'imok');
      await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
      assert.equal(await ruok(proxy.listen), 'ECONNREFUSED');
      await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
      assert.equal(await ruok(proxy.listen), 'imok', 'the same address again once enabled');
    } finally {
      await proxy.remove();
    }
    assert.equal(Object.keys(await tp.getAll()).includes(proxy.name), false);
  });
});
