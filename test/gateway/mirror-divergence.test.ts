import assert from 'node:assert/strict';
import { refuseAckOnDivergence } from '../../gateway/fleet/divergence-ack-guard.js';
import { createLogger } from '../../platform/logger.js';
import type { Deployment } from '../../protocol/app-state.js';
import { startCommittingUpstream, type CommittingUpstream, type WriteFault } from '../support/committing-upstream.js';
import { call, startGatewayHarness, type Harness, type SimpleResponse } from '../support/gateway-harness.js';

interface LogLine {
  readonly event: string;
  readonly [field: string]: unknown;
}

/**
 * Mirrored writes whose two sides answer differently, against app servers
 * that really commit (and then answer 500 or reset the connection) or refuse.
 * The client always gets the primary's outcome; a divergence is counted,
 * logged with its code and request id, marked on the reply and recorded.
 */
describe('mirrored writes that diverge', () => {
  let n1: CommittingUpstream;
  let n2: CommittingUpstream;
  let h: Harness;
  let logs: LogLine[];

  beforeEach(async () => {
    n1 = await startCommittingUpstream('n1');
    n2 = await startCommittingUpstream('n2');
    logs = [];
    h = await startGatewayHarness({
      n1Urls: [n1.url],
      n2Urls: [n2.url],
      logger: createLogger('warn', {}, (line) => logs.push(JSON.parse(line) as LogLine)),
    });
  });

  afterEach(async () => {
    await h.close();
    await Promise.all([n1.close(), n2.close()]);
  });

  const side = (d: Deployment): CommittingUpstream => (d === 'n1' ? n1 : n2);

  /** The one divergence log line of a request. */
  function divergence(res: SimpleResponse): LogLine {
    const lines = logs.filter((l) => l.event === 'gateway.mirror.diverged');
    assert.equal(lines.length, 1, JSON.stringify(logs));
    const line = lines[0]!;
    assert.equal(line.code, 'NW_GW_MIRROR_DIVERGED');
    assert.equal(line.requestId, res.headers['x-request-id'], 'the log names the request');
    assert.equal(line.app, 'shop');
    return line;
  }

  const cases: ReadonlyArray<{ primary: Deployment; fault: WriteFault; state: Record<string, unknown> }> = [
    { primary: 'n1', fault: 'commit-then-500', state: { mode: 'mirror' } },
    { primary: 'n1', fault: 'commit-then-reset', state: { mode: 'mirror' } },
    { primary: 'n1', fault: 'refuse-500', state: { mode: 'mirror' } },
    { primary: 'n2', fault: 'commit-then-500', state: { mode: 'proxy', mirrorWritesToN1: true } },
    { primary: 'n2', fault: 'commit-then-reset', state: { mode: 'proxy', mirrorWritesToN1: true } },
  ];

  for (const { primary, fault, state } of cases) {
    const secondary: Deployment = primary === 'n1' ? 'n2' : 'n1';
    const name = `${state.mode}: the secondary (${secondary}) ${fault}: the client gets the primary's success, the divergence is recorded`;
    it(name, async () => {
      await h.gw.applyState('shop', { epoch: 1, ...state });
      side(secondary).failWrites('/kv/', fault);
      const res = await call(h.url, '/kv/order-1', { method: 'POST', body: 'one' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-northwest-deployment'], primary);
      assert.equal(JSON.parse(res.text).name, primary, "the primary's own reply");
      assert.equal(res.headers['x-northwest-mirror-diverged'], secondary);
      assert.equal(res.headers['x-northwest-mirrored-to'], undefined, 'not claimed as mirrored');
      // What the apps hold: the primary committed it once; the secondary once or not at all, never twice.
      assert.deepEqual(
        side(primary)
          .committed('/kv/order-1')
          .map((c) => c.requestId),
        [res.headers['x-request-id']],
      );
      assert.equal(side(secondary).committed('/kv/order-1').length, fault === 'refuse-500' ? 0 : 1);
      const line = divergence(res);
      assert.equal(line.side, secondary);
      assert.equal(line[primary], 200);
      assert.equal(line[secondary], fault === 'commit-then-reset' ? 'NW_GW_UPSTREAM_RESET' : 500);
      assert.equal(h.gw.metrics.mirrorDivergences.get(['shop', secondary]), 1);
      assert.equal(h.gw.mirrorDivergences.unconfirmedOn('shop', secondary), 1);
      assert.equal(h.gw.mirrorDivergences.unconfirmedOn('shop', primary), 0);
    });
  }

  it('mirror: the primary (n1) commits then answers 500 while n2 succeeds: the client is not told success', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    n1.failWrites('/kv/', 'commit-then-500');
    const res = await call(h.url, '/kv/order-2', { method: 'POST', body: 'two' });
    assert.equal(res.status, 500, "the primary's own 500 reply");
    assert.equal(res.headers['x-northwest-deployment'], 'n1');
    assert.equal(JSON.parse(res.text).error, 'failed after commit');
    assert.equal(res.headers['x-northwest-mirror-diverged'], 'n1');
    assert.equal(n1.committed('/kv/order-2').length, 1);
    assert.equal(n2.committed('/kv/order-2').length, 1);
    assert.equal(divergence(res).side, 'n1');
    assert.equal(h.gw.metrics.mirrorDivergences.get(['shop', 'n1']), 1);
  });

  it('mirror: the primary (n1) commits then resets while n2 succeeds: the client gets the typed reset error', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    n1.failWrites('/kv/', 'commit-then-reset');
    const res = await call(h.url, '/kv/order-3', { method: 'POST', body: 'three' });
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-northwest-error'], 'NW_GW_UPSTREAM_RESET');
    assert.equal(n1.committed('/kv/order-3').length, 1, 'not retried: a POST that may have committed');
    assert.equal(n2.committed('/kv/order-3').length, 1);
    const line = divergence(res);
    assert.equal(line.side, 'n1');
    assert.equal(line.n1, 'NW_GW_UPSTREAM_RESET');
    assert.equal(line.n2, 200);
  });

  it(
    'the secondary answers 4xx (e.g. it lacks data a sync has not brought yet): ' + 'counted and logged, not recorded as a failed write',
    async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
      assert.equal((await call(h.url, '/kv/gone', { method: 'PUT', body: 'x' })).status, 200);
      n2.store.delete('gone');
      const res = await call(h.url, '/kv/gone', { method: 'DELETE' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-northwest-mirror-diverged'], 'n2');
      assert.equal(divergence(res).n2, 404);
      assert.equal(h.gw.metrics.mirrorDivergences.get(['shop', 'n2']), 1);
      assert.equal(h.gw.mirrorDivergences.unconfirmedOn('shop', 'n2'), 0);
    },
  );

  it('both sides fail alike: the primary reply, no divergence', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    n1.failWrites('/kv/', 'refuse-500');
    n2.failWrites('/kv/', 'refuse-500');
    const res = await call(h.url, '/kv/order-4', { method: 'POST', body: 'four' });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-northwest-mirror-diverged'], undefined);
    assert.equal(logs.filter((l) => l.event === 'gateway.mirror.diverged').length, 0);
    assert.equal(h.gw.metrics.mirrorDivergences.get(['shop', 'n2']), 0);
  });

  it('a state with one write side again starts the record over; the metric keeps counting', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    n2.failWrites('/kv/', 'refuse-500');
    assert.equal((await call(h.url, '/kv/a', { method: 'PUT', body: 'a' })).status, 200);
    await h.gw.applyState('shop', { epoch: 2, mode: 'fence' });
    assert.equal(h.gw.mirrorDivergences.unconfirmedOn('shop', 'n2'), 1, 'a fence keeps it');
    await h.gw.applyState('shop', { epoch: 3, mode: 'serve' });
    assert.equal(h.gw.mirrorDivergences.unconfirmedOn('shop', 'n2'), 0);
    assert.equal(h.gw.metrics.mirrorDivergences.get(['shop', 'n2']), 1);
  });
});

describe('the fence a member acks after a divergence', () => {
  let n1: CommittingUpstream;
  let n2: CommittingUpstream;
  let h: Harness;
  let logs: LogLine[];

  beforeEach(async () => {
    n1 = await startCommittingUpstream('n1');
    n2 = await startCommittingUpstream('n2');
    logs = [];
    h = await startGatewayHarness({
      n1Urls: [n1.url],
      n2Urls: [n2.url],
      logger: createLogger('warn', {}, (line) => logs.push(JSON.parse(line) as LogLine)),
    });
  });

  afterEach(async () => {
    await h.close();
    await Promise.all([n1.close(), n2.close()]);
  });

  const migration = (phase: string) => ({ id: 'm-1', phase });

  it('the fence toward N2 is refused while N2 failed a write N1 confirmed; a fence without divergence is not', async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', migration: migration('sync') });
    assert.equal((await call(h.url, '/kv/a', { method: 'PUT', body: 'a' })).status, 200);
    await h.gw.applyState('shop', { epoch: 2, mode: 'fence', migration: migration('fence') });
    assert.doesNotThrow(() => refuseAckOnDivergence(h.gw, 'shop', h.gw.logger), 'no divergence: acked');

    await h.gw.applyState('shop', { epoch: 3, mode: 'mirror', migration: migration('sync') });
    n2.failWrites('/kv/', 'refuse-500');
    assert.equal((await call(h.url, '/kv/b', { method: 'PUT', body: 'b' })).status, 200);
    await h.gw.applyState('shop', { epoch: 4, mode: 'fence', migration: migration('fence') });
    assert.throws(() => refuseAckOnDivergence(h.gw, 'shop', h.gw.logger), { code: 'NW_GW_MIRROR_DIVERGED', message: /n2 failed 1/ });
    // A rollback's fence goes back to N1, which has them all.
    await h.gw.applyState('shop', { epoch: 5, mode: 'fence', migration: migration('rollback') });
    assert.doesNotThrow(() => refuseAckOnDivergence(h.gw, 'shop', h.gw.logger));
  });

  it("a rollback's fence onto an N1 that failed N2's writes is acked, with an error naming the loss", async () => {
    await h.gw.applyState('shop', { epoch: 1, mode: 'proxy', mirrorWritesToN1: true, migration: migration('proxy') });
    n1.failWrites('/kv/', 'refuse-500');
    assert.equal((await call(h.url, '/kv/c', { method: 'POST', body: 'c' })).status, 200);
    await h.gw.applyState('shop', { epoch: 2, mode: 'fence', migration: migration('rollback') });
    assert.doesNotThrow(() => refuseAckOnDivergence(h.gw, 'shop', h.gw.logger), 'refusing would leave the fleet fenced');
    const line = logs.find((l) => l.event === 'gateway.mirror.rollback_diverged');
    assert.ok(line, JSON.stringify(logs));
    assert.equal(line.code, 'NW_GW_MIRROR_DIVERGED');
    assert.equal(line.missed, 1);
  });
});
