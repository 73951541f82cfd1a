// ZooKeeperCoordinator against the real 3-server ensemble from scripts/services.sh: the shared
// contract, then ACLs, chroots, unreachable servers, a stalled connection and session recovery.
// Every harness works under its own /nw-test-<random> chroot and removes it afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import zookeeper from 'node-zookeeper-client';
import type { Coordinator, SessionEvent } from '../../platform/coordinator/coordinator.js';
import type { CoordinatorIdentity } from '../../platform/coordinator/coordinator-acl.js';
import { ZooKeeperCoordinator, type ZooKeeperCoordinatorOptions } from '../../platform/coordinator/zookeeper-coordinator.js';
import { requireService } from '../support/service-endpoints.js';
import { startStallableRelay } from '../support/stallable-relay.js';
import { coordinatorContract, type ContractHarness } from './coordinator-contract.js';

const zk = requireService('zookeeper');
const servers = zk.servers.map((s) => `${s.host}:${s.port}`);
const b = (s: string): Buffer => Buffer.from(s);
const uniqueChroot = (): string => `/nw-test-${randomBytes(6).toString('hex')}`;
type Auth = CoordinatorIdentity;
/** The identity harness clients use unless a test says otherwise (creator-only ACLs, as with any `auth`). */
const HARNESS_AUTH: Auth = { user: 'nw-test-harness', password: 'harness-test-secret' };

/** What a test may change of a harness client: other credentials, or none at all (`insecure: true`). */
type ClientExtras = Pick<Partial<ZooKeeperCoordinatorOptions>, 'connectString' | 'sessionTimeoutMs' | 'connectTimeoutMs' | 'opTimeoutMs'> &
  ({ readonly auth?: Auth; readonly worldReadable?: boolean; readonly insecure?: false } | { readonly insecure: true });

/**
 * One server of the ensemble, and the others. Each server applies changes in order, but a client
 * may briefly miss another client's change when the two talk to different servers: ZooKeeper reads
 * are not linearizable across servers, and the remedy, sync(), is missing from node-zookeeper-client
 * 1.1.3. The contract reads across clients right after writes (and closes), so each harness pins
 * its clients to one server, picked at random so every server gets used.
 */
function pickServer(): { pinned: string; others: string } {
  const i = Math.floor(Math.random() * servers.length);
  return { pinned: servers[i]!, others: servers.filter((_, j) => j !== i).join(',') };
}

/** A raw library client, connected (or rejected after `timeoutMs`). */
function rawClient(connectString: string, options: zookeeper.ClientOptions = {}, timeoutMs = 10_000): Promise<zookeeper.Client> {
  return new Promise((resolve, reject) => {
    const client = zookeeper.createClient(connectString, { sessionTimeout: 4000, spinDelay: 100, ...options });
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no raw ZooKeeper session within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

/** Closes a raw client and waits (bounded) until the server has dropped the connection. */
async function closeRaw(client: zookeeper.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve) => {
    client.once('disconnected', resolve);
    timer = setTimeout(resolve, 5000);
  });
  client.close();
  await gone;
  clearTimeout(timer); // or the 5 s bound outlives every close, and the run with it
}

/** Deletes `path` and its subtree depth-first (the library's removeRecursive misses levels below two). */
async function removeSubtree(client: zookeeper.Client, path: string): Promise<void> {
  const isNoNode = (err: Error | null): boolean => err instanceof zookeeper.Exception && err.getCode() === zookeeper.Exception.NO_NODE;
  const kids = await new Promise<string[]>((resolve, reject) =>
    client.getChildren(path, (err, names) => (err && !isNoNode(err) ? reject(err) : resolve(err ? [] : names))),
  );
  for (const kid of kids) await removeSubtree(client, `${path}/${kid}`);
  await new Promise<void>((resolve, reject) => client.remove(path, (err) => (err && !isNoNode(err) ? reject(err) : resolve())));
}

/** Deletes a chroot and everything under it, authenticating if its nodes are creator-only. */
async function removeTree(connectString: string, chroot: string, auth: Auth): Promise<void> {
  const client = await rawClient(connectString);
  client.addAuthInfo('digest', b(`${auth.user}:${auth.password}`));
  await removeSubtree(client, chroot);
  await closeRaw(client);
}

/** Resolves true once `c` reports `event`, false after `timeoutMs`. */
function sessionEvent(c: Coordinator, event: SessionEvent, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const stop = c.onSession((e) => e === event && finish(true));
    function finish(seen: boolean): void {
      clearTimeout(timer);
      stop();
      resolve(seen);
    }
  });
}

/**
 * Ends `c`'s session on the server the way an expiry does: a second connection, through `via`,
 * resumes the same session (id + password), then closes it. The ensemble ends the session for good;
 * `c`'s server drops its connection and the reconnect is answered "expired". `via` should not be
 * `c`'s server, or `c` is kicked off, reconnects and may win the session back; hence the retries.
 */
async function forceExpire(c: Coordinator, via: string): Promise<void> {
  assert.ok(c instanceof ZooKeeperCoordinator);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const session = c.sessionCredentials();
    if (!session) return;
    const expired = sessionEvent(c, 'expired', 10_000);
    const twin = await rawClient(via, { sessionId: session.id, sessionPassword: session.password });
    await closeRaw(twin);
    if (await expired) return;
  }
  assert.fail('session did not expire after 3 attempts');
}

interface ZooKeeperHarness extends ContractHarness {
  readonly chroot: string;
  /** The one server this harness's clients talk to. */
  readonly connectString: string;
  /** A connected coordinator under the chroot, closed by cleanup(). */
  open(extra?: ClientExtras): Promise<ZooKeeperCoordinator>;
  expire(c: Coordinator): Promise<void>;
}

/** Coordinators under one fresh chroot on one server; cleanup() closes them and removes the chroot. */
function zkHarness(auth: Auth = HARNESS_AUTH): ZooKeeperHarness {
  const chroot = uniqueChroot();
  const { pinned, others } = pickServer();
  const clients: ZooKeeperCoordinator[] = [];
  const open = async (extra: ClientExtras = {}): Promise<ZooKeeperCoordinator> => {
    const where = { connectString: pinned, chroot, sessionTimeoutMs: 4000, connectTimeoutMs: 10_000, opTimeoutMs: 10_000 };
    const c = extra.insecure
      ? new ZooKeeperCoordinator({ ...where, ...extra })
      : new ZooKeeperCoordinator({ ...where, ...extra, auth: extra.auth ?? auth, insecure: false });
    clients.push(c);
    await c.connect();
    return c;
  };
  return {
    chroot,
    connectString: pinned,
    open,
    client: () => open(),
    expire: (c) => forceExpire(c, others),
    base: () => '/contract',
    async cleanup() {
      await Promise.all(clients.map((c) => c.close()));
      await removeTree(pinned, chroot, auth);
    },
  };
}

coordinatorContract('zookeeper', async () => zkHarness());

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('ZooKeeperCoordinator', function () {
  this.timeout(30_000);
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    // Run every cleanup even if one fails, so no chroot is left behind on the ensemble.
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  });

  it('keeps digest-ACL nodes from unauthenticated and other users, not from the creator', async () => {
    const alice = { user: 'alice', password: 'wonderland' };
    const h = zkHarness(alice);
    cleanups.push(() => h.cleanup());
    const owner = await h.open({ auth: alice });
    await owner.create('/secret', b('s'));

    const anon = await h.open({ insecure: true });
    await assert.rejects(anon.get('/secret'), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(anon.set('/secret', b('x')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(anon.create('/mine', b('')), { code: 'NW_CP_NO_AUTH' }, 'the chroot itself is creator-only');
    const mallory = await h.open({ auth: { user: 'alice', password: 'guess' } });
    await assert.rejects(mallory.get('/secret'), { code: 'NW_CP_NO_AUTH' });

    const aliceAgain = await h.open({ auth: alice });
    assert.equal((await aliceAgain.get('/secret'))?.data.toString(), 's');
    assert.equal(await aliceAgain.set('/secret', b('t')), 1);
    assert.deepEqual(await owner.children('/'), ['secret']);
  });

  it('lets everyone read, but not write, nodes created with worldReadable', async () => {
    const bob = { user: 'bob', password: 'builder' };
    const h = zkHarness(bob);
    cleanups.push(() => h.cleanup());
    const owner = await h.open({ auth: bob, worldReadable: true });
    await owner.create('/public', b('p'));
    const anon = await h.open({ insecure: true });
    assert.equal((await anon.get('/public'))?.data.toString(), 'p');
    await assert.rejects(anon.set('/public', b('x')), { code: 'NW_CP_NO_AUTH' });
  });

  it('isolates coordinators under different chroots', async () => {
    const one = zkHarness();
    const two = zkHarness();
    cleanups.push(
      () => one.cleanup(),
      () => two.cleanup(),
    );
    const a = await one.open();
    const c = await two.open();
    await a.create('/x', b('a'));
    assert.equal(await c.get('/x'), undefined);
    await c.create('/x', b('c'));
    await c.mkdirp('/only/in/two');
    assert.equal((await a.get('/x'))?.data.toString(), 'a');
    assert.deepEqual(await a.children('/'), ['x']);
    assert.deepEqual(await c.children('/'), ['only', 'x']);
    const raw = await rawClient(one.connectString);
    raw.addAuthInfo('digest', b(`${HARNESS_AUTH.user}:${HARNESS_AUTH.password}`));
    cleanups.push(() => closeRaw(raw));
    const onServer = await new Promise<Buffer | undefined>((resolve, reject) =>
      raw.getData(`${one.chroot}/x`, (err, data) => (err ? reject(err) : resolve(data))),
    );
    assert.equal(onServer?.toString(), 'a', 'API paths live under the chroot on the server');
  });

  it('rejects connect() with NW_CP_COORDINATOR_UNAVAILABLE when nothing listens', async () => {
    const c = new ZooKeeperCoordinator({
      connectString: `127.0.0.1:${await closedPort()}`,
      chroot: '/',
      connectTimeoutMs: 1000,
      insecure: true,
    });
    const started = performance.now();
    await assert.rejects(c.connect(), { code: 'NW_CP_COORDINATOR_UNAVAILABLE' });
    assert.ok(performance.now() - started < 4000, `took ${Math.round(performance.now() - started)} ms`);
    assert.equal(c.sessionId(), '');
    await assert.rejects(c.get('/x'), { code: 'NW_CP_SESSION_EXPIRED' });
  });

  it('times out an operation on a stalled connection instead of hanging', async () => {
    const h = zkHarness();
    const [host = '', port = ''] = h.connectString.split(':');
    const relay = await startStallableRelay({ host, port: Number(port) });
    cleanups.push(
      () => relay.close(),
      () => h.cleanup(),
    );
    const c = await h.open({ connectString: `127.0.0.1:${relay.port}`, opTimeoutMs: 500 });
    await c.create('/n', b('1'));
    const contact = c.lastContactAt();
    assert.ok(contact > performance.now() - 1000);

    relay.stall(true);
    const started = performance.now();
    await assert.rejects(c.get('/n'), { code: 'NW_CP_COORDINATOR_UNAVAILABLE' });
    assert.ok(performance.now() - started < 2000, `took ${Math.round(performance.now() - started)} ms`);
    assert.equal(c.lastContactAt(), contact, 'no reply, no contact');

    relay.stall(false);
    assert.equal((await c.get('/n'))?.data.toString(), '1');
    assert.ok(c.lastContactAt() > contact);
  });

  it('fails fast after expiry and recovers with a new session on connect()', async () => {
    const h = zkHarness();
    cleanups.push(() => h.cleanup());
    const observer = await h.open();
    const c = await h.open();
    const first = c.sessionId();
    assert.match(first, /^[0-9a-f]+$/);
    await c.create('/member', b(''), 'ephemeral');

    await h.expire(c);
    assert.equal(c.sessionId(), '');
    const started = performance.now();
    await assert.rejects(c.get('/member'), { code: 'NW_CP_SESSION_EXPIRED' });
    await assert.rejects(c.create('/other', b('')), { code: 'NW_CP_SESSION_EXPIRED' });
    assert.ok(performance.now() - started < 100, 'fails fast');

    await c.connect();
    assert.notEqual(c.sessionId(), first);
    assert.equal(await observer.get('/member'), undefined, 'the old session took its ephemeral node along');
    await c.create('/member', b('again'), 'ephemeral');
    assert.equal((await observer.get('/member'))?.data.toString(), 'again');
  });

  it('reports the session timeout the server granted, not the requested one (services.sh: maxSessionTimeout 60 s)', async () => {
    const h = zkHarness();
    cleanups.push(() => h.cleanup());
    assert.equal((await h.open({ sessionTimeoutMs: 4000 })).negotiatedSessionTimeoutMs(), 4000);
    const clamped = await h.open({ sessionTimeoutMs: 90_000 });
    assert.equal(clamped.negotiatedSessionTimeoutMs(), 60_000);
    await clamped.close();
    assert.equal(clamped.negotiatedSessionTimeoutMs(), undefined, 'no session, no timeout');
  });

  it('honours an expected version 0 in transactions (the library turns it into "any version")', async () => {
    const h = zkHarness();
    cleanups.push(() => h.cleanup());
    const c = await h.open();
    await c.create('/v', b('0'));
    await c.set('/v', b('1'));
    await assert.rejects(c.transaction([{ op: 'check', path: '/v', version: 0 }]), { code: 'NW_CP_BAD_VERSION' });
    await assert.rejects(c.transaction([{ op: 'set', path: '/v', data: b('x'), version: 0 }]), { code: 'NW_CP_BAD_VERSION' });
    await assert.rejects(c.transaction([{ op: 'remove', path: '/v', version: 0 }]), { code: 'NW_CP_BAD_VERSION' });
    await assert.rejects(
      c.transaction([
        { op: 'create', path: '/w', data: b('') },
        { op: 'remove', path: '/missing' },
      ]),
      { code: 'NW_CP_NO_NODE', message: /transaction op 1 \(remove \/missing\)/ },
    );
    assert.equal(await c.get('/w'), undefined);
    await c.transaction([{ op: 'set', path: '/v', data: b('2'), version: 1 }]);
    assert.equal((await c.get('/v'))?.version, 2);
  });

  it('rejects bad options, naming the field', () => {
    assert.throws(() => new ZooKeeperCoordinator({ connectString: '127.0.0.1:2181/northwest', chroot: '/', insecure: true }), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /connectString.*chroot/,
    });
    assert.throws(() => new ZooKeeperCoordinator({ connectString: 'h:1', chroot: 'northwest', insecure: true }), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /chroot/,
    });
    // Options from outside the type system (a config read at run time) get the same check.
    const unauthenticated: unknown = { connectString: 'h:1', chroot: '/' };
    assert.throws(() => new ZooKeeperCoordinator(unauthenticated as ZooKeeperCoordinatorOptions), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /auth: required \(digest credentials\), or insecure: true/,
    });
    assert.throws(
      () =>
        new ZooKeeperCoordinator({
          connectString: 'h:1',
          chroot: '/',
          insecure: true,
          auth: HARNESS_AUTH,
        } as unknown as ZooKeeperCoordinatorOptions),
      {
        code: 'NW_CP_CONFIG_INVALID',
        message: /insecure: cannot be combined with auth/,
      },
    );
  });
});
