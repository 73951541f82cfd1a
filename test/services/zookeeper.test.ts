// Smoke test: the 3-server ZooKeeper ensemble from scripts/services.sh, through node-zookeeper-client.
import { strict as assert } from 'node:assert';
import net from 'node:net';
import zookeeper from 'node-zookeeper-client';
import { eventually } from '../support/eventually.js';
import { requireService, type ZooKeeperEndpoints } from '../support/service-endpoints.js';

function connect(connectString: string, timeoutMs = 15_000): Promise<zookeeper.Client> {
  return new Promise((resolve, reject) => {
    const client = zookeeper.createClient(connectString, { sessionTimeout: 4000, spinDelay: 200 });
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper session with ${connectString} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

function mkdirp(client: zookeeper.Client, path: string): Promise<string> {
  return new Promise((resolve, reject) => client.mkdirp(path, (err, p) => (err ? reject(err) : resolve(p))));
}

function createNode(client: zookeeper.Client, path: string, data: Buffer, mode: number): Promise<string> {
  return new Promise((resolve, reject) => client.create(path, data, mode, (err, p) => (err ? reject(err) : resolve(p))));
}

function setData(client: zookeeper.Client, path: string, data: Buffer): Promise<zookeeper.Stat> {
  return new Promise((resolve, reject) => client.setData(path, data, (err, stat) => (err ? reject(err) : resolve(stat))));
}

function getData(
  client: zookeeper.Client,
  path: string,
  watcher?: zookeeper.Watcher,
): Promise<{ data: Buffer | undefined; stat: zookeeper.Stat }> {
  return new Promise((resolve, reject) => {
    const cb: zookeeper.DataCallback = (err, data, stat) => (err ? reject(err) : resolve({ data, stat }));
    if (watcher) client.getData(path, watcher, cb);
    else client.getData(path, cb);
  });
}

function exists(client: zookeeper.Client, path: string): Promise<zookeeper.Stat | null> {
  return new Promise((resolve, reject) => client.exists(path, (err, stat) => (err ? reject(err) : resolve(stat))));
}

function removeRecursive(client: zookeeper.Client, path: string): Promise<void> {
  return new Promise((resolve, reject) => client.removeRecursive(path, (err) => (err ? reject(err) : resolve())));
}

/** Sends a ZooKeeper four-letter-word command and returns the whole reply. */
function fourLetterWord(host: string, port: number, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port }, () => socket.end(cmd));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${cmd} to ${host}:${port} timed out`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('services: ZooKeeper ensemble', function () {
  this.timeout(60_000);

  let zk: ZooKeeperEndpoints;
  const clients: zookeeper.Client[] = [];
  const base = `/northwest-smoke/zk-${process.pid}-${Date.now()}`;

  let a: zookeeper.Client;
  let b: zookeeper.Client;

  before(async () => {
    zk = requireService('zookeeper');
    // Both on one server: ZooKeeper promises a client sees another's acknowledged write only when
    // they share a server (or after a sync, which this client library lacks); writes still go
    // through the quorum of all three.
    const one = `${zk.servers[0]!.host}:${zk.servers[0]!.port}`;
    a = await connect(one);
    clients.push(a);
    b = await connect(one);
    clients.push(b);
  });

  after(async () => {
    const [first] = clients;
    if (first) await removeRecursive(first, base).catch(() => undefined);
    for (const c of clients) c.close();
  });

  it('runs three servers: one leader and two followers (srvr)', async () => {
    assert.equal(zk.servers.length, 3);
    const modes: string[] = [];
    for (const s of zk.servers) {
      const reply = await fourLetterWord(s.host, s.port, 'srvr');
      const mode = /^Mode: (\w+)$/m.exec(reply)?.[1];
      assert.ok(mode, `server ${s.id} (${s.host}:${s.port}) reports no Mode; srvr said:\n${reply}`);
      modes.push(mode);
    }
    assert.deepEqual([...modes].sort(), ['follower', 'follower', 'leader']);
  });

  it('creates an ephemeral node, sets data, and a data watch fires on a set from another client', async () => {
    await mkdirp(a, base);
    const node = `${base}/ephemeral`;
    assert.equal(await createNode(a, node, Buffer.from('v0'), zookeeper.CreateMode.EPHEMERAL), node);

    const stat0 = await exists(b, node);
    assert.ok(stat0, 'node visible to the second client');
    assert.ok(stat0.ephemeralOwner.equals(a.getSessionId()), 'ephemeral owner is the creating session');

    const stat1 = await setData(a, node, Buffer.from('v1'));
    assert.equal(stat1.version, 1);

    let fired!: (event: zookeeper.Event) => void;
    const watchFired = new Promise<zookeeper.Event>((resolve) => (fired = resolve));
    const read = await getData(b, node, (event) => fired(event));
    assert.equal(read.data?.toString(), 'v1');

    await setData(a, node, Buffer.from('v2'));
    const event = await watchFired;
    assert.equal(event.getType(), zookeeper.Event.NODE_DATA_CHANGED);
    assert.equal(event.getPath(), node);
    assert.equal((await getData(b, node)).data?.toString(), 'v2');
  });

  it('removes an ephemeral node when its session closes', async () => {
    const owner = await connect(zk.connectString);
    const node = `${base}/short-lived`;
    await mkdirp(b, base);
    await createNode(owner, node, Buffer.from('x'), zookeeper.CreateMode.EPHEMERAL);
    assert.ok(await exists(b, node));
    owner.close();
    await eventually(async () => assert.equal(await exists(b, node), null), {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'the ephemeral node goes once its session closed',
    });
  });
});
