// The coordinator's ACL table (docs/architecture.md, "Coordinator access") on the real ensemble: the
// control plane's identity owns the tree and writes states; a member's identity reads states, adds
// its own member and ack nodes and data locks, and can neither write a state nor delete or
// overwrite another member's node; a session without credentials gets nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCoordinator } from '../../platform/coordinator/coordinator-config.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { parseGatewayConfig } from '../../gateway/config/load-config.js';
import { startGatewayMember, type GatewayMember } from '../../gateway/fleet/gateway-member.js';
import { createLogger } from '../../platform/logger.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import { requireService } from '../support/service-endpoints.js';
import {
  controlPlaneCoordinatorConfig,
  memberCoordinatorConfig,
  provisionTree,
  removeChroot,
  TEST_MEMBERS,
  zkClient,
} from '../support/zk-identities.js';

const zk = requireService('zookeeper');
const b = (s: string): Buffer => Buffer.from(s);
const memberDoc = (apps: string[]): Buffer =>
  encodeJson({ kind: 'gateway', host: '127.0.0.1', pid: process.pid, startedAt: new Date().toISOString(), apps });
const ackDoc = (epoch: number): Buffer => encodeJson({ epoch, appliedAt: new Date().toISOString(), applyMs: 1 });

describe('coordinator ACLs on the ZooKeeper ensemble (control plane and member identities)', function () {
  this.timeout(60_000);
  let chroot: string;
  const opened: Coordinator[] = [];
  const open = async (c: Coordinator): Promise<Coordinator> => {
    opened.push(c);
    await c.connect();
    return c;
  };
  const where = (): { connectString: string; chroot: string; connectTimeoutMs: number; opTimeoutMs: number } => ({
    connectString: zk.connectString,
    chroot,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 15_000,
  });

  beforeEach(async () => {
    chroot = `/nw-acl-${randomBytes(4).toString('hex')}`;
  });

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((c) => c.close()));
    await removeChroot(zk.connectString, chroot);
  });

  it('a member identity reads states and acks, but cannot write a state or delete or overwrite another member', async () => {
    await provisionTree(where());
    const cp = await open(zkClient('controlplane', where()));
    const [target] = await writeAppStates(cp, { shop: { mode: 'serve' } });
    const gwA = await open(zkClient('member', where()));
    const gwB = await open(zkClient('member', where()));

    assert.equal(JSON.parse((await gwA.get(layout.state('shop')))!.data.toString()).mode, 'serve', 'members read states');
    await gwA.create(layout.member('gw-a'), memberDoc(['shop']), 'ephemeral');
    await gwB.create(layout.member('gw-b'), memberDoc(['shop']), 'ephemeral');
    await gwA.create(layout.ack('shop', 'gw-a'), ackDoc(target!.epoch), 'ephemeral');
    await gwA.set(layout.ack('shop', 'gw-a'), ackDoc(target!.epoch), 0);
    await gwB.create(layout.ack('shop', 'gw-b'), ackDoc(target!.epoch), 'ephemeral');

    await assert.rejects(gwA.set(layout.state('shop'), b('{"mode":"proxy"}')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(writeAppStates(gwA, { shop: { mode: 'proxy', mirrorWritesToN1: false } }), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(gwA.remove(layout.state('shop')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(gwA.remove(layout.member('gw-b')), { code: 'NW_CP_NO_AUTH' }, "another member's node");
    await assert.rejects(gwA.remove(layout.ack('shop', 'gw-b')), { code: 'NW_CP_NO_AUTH' }, "another member's ack");
    await assert.rejects(gwA.set(layout.member('gw-b'), memberDoc([])), { code: 'NW_CP_NO_AUTH' }, 'member nodes are written once');
    await assert.rejects(gwA.create(layout.lock('shop'), b('m-1')), { code: 'NW_CP_NO_NODE', message: /created by the control plane/ });
    await assert.rejects(gwA.get(layout.migrations), { code: 'NW_CP_NO_AUTH' }, 'migration logs are the control plane’s alone');

    // The barrier (control plane) reads what the members wrote and passes.
    const report = await waitForFleet(cp, [target!], { timeoutMs: 10_000 });
    assert.equal(report.ok, true, JSON.stringify(report.missing));
    assert.deepEqual(report.members, ['gw-a', 'gw-b']);
    // The control plane writes states and may evict a member.
    const [next] = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    assert.equal(next!.epoch, target!.epoch + 1);
    await cp.remove(layout.member('gw-b'));
    assert.equal(await cp.get(layout.member('gw-b')), undefined);
  });

  it('a session without credentials, or with a wrong password, can neither read a state nor join', async () => {
    await provisionTree(where());
    const cp = await open(zkClient('controlplane', where()));
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const anon = await open(new ZooKeeperCoordinator({ ...where(), insecure: true }));
    await assert.rejects(anon.get(layout.state('shop')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(anon.create(layout.member('intruder'), memberDoc(['shop']), 'ephemeral'), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(anon.create(layout.ack('shop', 'intruder'), ackDoc(0), 'ephemeral'), { code: 'NW_CP_NO_AUTH' });
    const guess = await open(new ZooKeeperCoordinator({ ...where(), auth: { user: TEST_MEMBERS.user, password: 'guess' } }));
    await assert.rejects(guess.get(layout.state('shop')), { code: 'NW_CP_NO_AUTH' });
    await assert.rejects(guess.create(layout.member('intruder'), memberDoc(['shop']), 'ephemeral'), { code: 'NW_CP_NO_AUTH' });
  });

  it('a member never creates the tree: before a control plane has run, connect() names what is missing', async () => {
    const gw = zkClient('member', where());
    opened.push(gw);
    await assert.rejects(gw.connect(), { code: 'NW_CP_NO_NODE', message: /created by the control plane/ });
    assert.equal(gw.sessionId(), '');
  });

  it('members take data locks in their own subtree; the control plane cannot make member nodes', async () => {
    await provisionTree(where());
    const cp = await open(zkClient('controlplane', where()));
    const m1 = await open(zkClient('member', where()));
    const m2 = await open(zkClient('member', where()));
    await m1.mkdirp(layout.dataLock('shop', 'g1'));
    const lock = await m1.create(`${layout.dataLock('shop', 'g1')}/lock-`, b(''), 'ephemeral-sequential');
    const waiter = await m2.create(`${layout.dataLock('shop', 'g1')}/lock-`, b(''), 'ephemeral-sequential');
    assert.deepEqual(await cp.children(layout.dataLock('shop', 'g1')), [lock, waiter].map((p) => p.split('/').pop()).sort());
    await m1.remove(lock);
    await m2.remove(waiter);
    await m2.remove(layout.dataLock('shop', 'g1'));
    await assert.rejects(cp.create(layout.member('cp-fake'), memberDoc(['shop']), 'ephemeral'), {
      code: 'NW_CP_NO_NODE',
      message: /created by a fleet member/,
    });
  });

  it('a gateway from config (member identity) follows and acks the states a control plane from config writes', async () => {
    const logger = createLogger('silent');
    const cp = await open(createCoordinator(controlPlaneCoordinatorConfig({ connectString: zk.connectString, chroot }), 'controlplane'));
    for (const p of ['/apps', '/members', '/migrations', '/leader', '/datalocks']) await cp.mkdirp(p);
    const gatewayConfig = parseGatewayConfig({
      name: 'gw-acl',
      listeners: [{ host: '127.0.0.1', port: 0 }],
      log: { level: 'silent' },
      fleet: { coordinator: memberCoordinatorConfig({ connectString: zk.connectString, chroot }), leaseMs: 3000 },
      apps: {
        shop: { hosts: ['shop.test'], n1: { servers: [{ url: 'http://127.0.0.1:9' }] }, n2: { servers: [{ url: 'http://127.0.0.1:9' }] } },
      },
    });
    let member: GatewayMember | undefined;
    try {
      member = await startGatewayMember(gatewayConfig, { logger });
      const targets = await writeAppStates(cp, { shop: { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false } });
      const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(report.members, ['gw-acl']);
      await assert.rejects(member.coordinator.set(layout.state('shop'), b('{"mode":"serve"}')), { code: 'NW_CP_NO_AUTH' });
    } finally {
      await member?.close();
    }
  });
});
