// Reloading a fleet member's config (embedded coordinator): a new app is listed in the member node
// before its state is read and takes traffic only once that state is applied (then acked, so
// barriers wait for it); a removed app is unlisted once none of its writes is in flight.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import type { NodeData, Watcher } from '../../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates, type DesiredAppState } from '../../fleet/state-writer.js';
import { layout, memberInfoSchema } from '../../protocol/coordinator-paths.js';
import { startGatedUpstream, type GatedUpstream } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { startFleetNode, WORKER_COUNTS, type FleetNode } from '../support/fleet-node.js';
import { ADMIN_TOKEN, call } from '../support/gateway-harness.js';

const DONE: DesiredAppState = { mode: 'proxy', mirrorWritesToN1: false };

/** An embedded session that records what it reads and writes, and fails reads of some paths. */
class RecordingCoordinator extends EmbeddedCoordinator {
  readonly failing = new Set<string>();
  readonly ops: string[] = [];

  override async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    this.ops.push(`get ${path}`);
    if (this.failing.has(path)) throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `get ${path}: connection lost (test)`);
    return super.get(path, watch);
  }

  override async set(path: string, data: Buffer, version?: number): Promise<number> {
    this.ops.push(`set ${path}`);
    if (this.failing.has(path)) throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `set ${path}: connection lost (test)`);
    return super.set(path, data, version);
  }
}

// Once as one process, once as 2 worker processes (the primary checks the file and hands it to each worker).
for (const workers of WORKER_COUNTS)
  describe(`gateway fleet member reload (embedded coordinator, ${workers} worker${workers > 1 ? 's' : ''})`, function () {
    memberReloadSuite.call(this, workers);
  });

function memberReloadSuite(this: Mocha.Suite, workers: number): void {
  this.timeout(20_000);
  let store: EmbeddedStore;
  let cp: EmbeddedCoordinator;
  let n1: EchoUpstream;
  let n2: EchoUpstream;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    store = new EmbeddedStore();
    cp = new EmbeddedCoordinator(store);
    await cp.connect();
    n1 = await startEchoUpstream('n1');
    n2 = await startEchoUpstream('n2');
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await cp.close();
    await n1.close();
    await n2.close();
  });

  const app = (name: string, n2Url = n2.url) => ({
    hosts: [`${name}.test`],
    n1: { servers: [{ url: n1.url }] },
    n2: { servers: [{ url: n2Url }], publicOrigin: `https://${name}-n2.example.com` },
  });
  const configOf = (apps: GatewayConfigInput['apps']): GatewayConfigInput => ({
    name: 'gw-1',
    listeners: [{ host: '127.0.0.1', port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    workers,
    fleet: { coordinator: { kind: 'embedded' }, leaseMs: 5000, reconcileMs: 4000 },
    apps,
  });

  async function startMember(apps: GatewayConfigInput['apps'], coordinator: EmbeddedCoordinator) {
    const file = join(mkdtempSync(join(tmpdir(), 'nw-member-reload-')), 'gateway.json');
    const write = (a: GatewayConfigInput['apps']): void => writeFileSync(file, JSON.stringify(configOf(a)));
    write(apps);
    const m: FleetNode = await startFleetNode(loadGatewayConfig(file), workers, {
      coordinator,
      adminToken: ADMIN_TOKEN,
      logger: createLogger('silent'),
      configFile: file,
    });
    cleanups.push(() => m.close());
    return { m, write, url: m.gateway.listeners[0]!.url };
  }

  const listedApps = async (): Promise<readonly string[]> => {
    const node = await cp.get(layout.member('gw-1'));
    return memberInfoSchema.parse(JSON.parse(node!.data.toString('utf8'))).apps;
  };

  it('a new app is listed, then its state read and applied, before it takes traffic; a barrier then waits for its ack', async () => {
    const targets = await writeAppStates(cp, { shop: DONE, blog: DONE });
    const rec = new RecordingCoordinator(store);
    const { m, write, url } = await startMember({ shop: app('shop') }, rec);
    assert.deepEqual(await listedApps(), ['shop']);

    rec.ops.length = 0;
    write({ shop: app('shop'), blog: app('blog') });
    const result = await m.gateway.reloadFromFile();
    assert.deepEqual(result, { added: ['blog'], changed: [], removed: [], unchanged: ['shop'], notReady: [] });
    assert.deepEqual(await listedApps(), ['shop', 'blog']);
    const listed = rec.ops.indexOf(`set ${layout.member('gw-1')}`);
    const read = rec.ops.indexOf(`get ${layout.state('blog')}`);
    assert.ok(listed >= 0 && read > listed, `listed before its state was read: ${rec.ops.join(', ')}`);

    const put = await call(url, '/kv/b', { host: 'blog.test', method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers['x-northwest-deployment'], 'n2');
    assert.equal(put.headers['x-northwest-epoch'], String(targets.find((t) => t.app === 'blog')!.epoch));
    assert.equal(n1.store.has('b'), false);
    assert.equal((await waitForFleet(cp, targets, { timeoutMs: 5000 })).ok, true);

    const fence = await writeAppStates(cp, { blog: { mode: 'fence', readFrom: 'n2' } });
    const report = await waitForFleet(cp, fence, { timeoutMs: 5000 });
    assert.equal(report.ok, true);
    assert.deepEqual(report.members, ['gw-1']);
    assert.equal(m.gateway.getState().blog!.mode, 'fence');
  });

  it('a new app whose state cannot be read answers 503 NW_GW_NOT_READY until a read applies it', async () => {
    await writeAppStates(cp, { shop: DONE, blog: DONE });
    const rec = new RecordingCoordinator(store);
    const { m, write, url } = await startMember({ shop: app('shop') }, rec);
    rec.failing.add(layout.state('blog'));
    write({ shop: app('shop'), blog: app('blog') });
    const result = await m.gateway.reloadFromFile();
    assert.deepEqual(result.notReady, ['blog']);
    const refused = await call(url, '/kv/b', { host: 'blog.test', method: 'PUT', body: 'v' });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['x-northwest-error'], 'NW_GW_NOT_READY');
    assert.equal(n1.seen.length + n2.seen.length, 0, 'nothing of blog reached either deployment');

    rec.failing.clear();
    await m.agent.reconcile();
    const put = await call(url, '/kv/b', { host: 'blog.test', method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers['x-northwest-deployment'], 'n2');
  });

  it('a new app the member node could not list is not read, and takes no traffic, until a re-read lists it', async () => {
    await writeAppStates(cp, { shop: DONE, blog: DONE });
    const rec = new RecordingCoordinator(store);
    const { m, write, url } = await startMember({ shop: app('shop') }, rec);
    rec.failing.add(layout.member('gw-1'));
    rec.ops.length = 0;
    write({ shop: app('shop'), blog: app('blog') });
    assert.deepEqual((await m.gateway.reloadFromFile()).notReady, ['blog']);
    await m.agent.reconcile();
    assert.equal(rec.ops.includes(`get ${layout.state('blog')}`), false, 'its state was not read');
    assert.equal((await call(url, '/kv/b', { host: 'blog.test' })).headers['x-northwest-error'], 'NW_GW_NOT_READY');
    assert.deepEqual(await listedApps(), ['shop']);

    rec.failing.clear();
    await m.agent.reconcile();
    assert.deepEqual(await listedApps(), ['shop', 'blog']);
    const put = await call(url, '/kv/b', { host: 'blog.test', method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers['x-northwest-deployment'], 'n2');
  });

  it('a removed app stays listed while a write of it is in flight, then is unlisted and its ack removed', async () => {
    const gated: GatedUpstream = await startGatedUpstream('n2-gated');
    cleanups.push(() => gated.close());
    await writeAppStates(cp, { shop: DONE, cart: DONE });
    const { m, write, url } = await startMember({ shop: app('shop'), cart: app('cart', gated.url) }, new EmbeddedCoordinator(store));
    assert.ok(await cp.get(layout.ack('cart', 'gw-1')), 'cart acked at start');
    const inFlight = call(url, '/kv/c', { host: 'cart.test', method: 'PUT', body: 'v' });
    await eventually(() => gated.waiting === 1, { timeoutMs: 5000, message: 'the write reached N2' });

    write({ shop: app('shop') });
    const reloading = m.gateway.reloadFromFile();
    const refused = await call(url, '/kv/c', { host: 'cart.test' });
    assert.equal(refused.status, 421, 'the gateway no longer serves cart');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await listedApps(), ['shop', 'cart'], 'still listed: a barrier must wait while its write is in flight');

    gated.release();
    assert.equal((await inFlight).status, 200);
    assert.deepEqual((await reloading).removed, ['cart']);
    assert.deepEqual(await listedApps(), ['shop']);
    assert.equal(await cp.get(layout.ack('cart', 'gw-1')), undefined);
    const fence = await writeAppStates(cp, { cart: { mode: 'fence', readFrom: 'n1' } });
    const report = await waitForFleet(cp, fence, { timeoutMs: 2000 });
    assert.equal(report.ok, true, 'no member serves cart any more');
  });
}
