import { strict as assert } from 'node:assert';
import type { DataLayerAck } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { lastWindowSwitch, WINDOW_SWITCH_KEY, windowCutoffUs, windowGap, windowSwitch } from '../../controlplane/sync/each-quorum-proof.js';

const ack = (member: string, report?: Partial<NonNullable<DataLayerAck['datastore']>>, app = 'shop'): DataLayerAck => ({
  member,
  app,
  ...(report === undefined ? {} : { datastore: { mode: 'each-quorum', sinceEpoch: 4, writesThroughUs: 1_000, failures: 0, ...report } }),
});

describe('replicate strategy: what the EACH_QUORUM window may vouch for at the fence', () => {
  const sw = windowSwitch({ shop: 4 }, [ack('app-1', {}), ack('app-2', {})]);

  it('stands when every data layer of the switch acks again, in the mode since the switch, with no failed write', () => {
    assert.equal(windowGap(sw, [ack('app-1', {}), ack('app-2', { sinceEpoch: 2 })]), undefined);
  });

  it('sends the fence to the drain on anything it cannot vouch for', () => {
    assert.match(windowGap(undefined, [ack('app-1', {})]) ?? '', /no record of the window/);
    assert.match(windowGap(windowSwitch({ shop: 4 }, []), []) ?? '', /no data layer acked the switch/);
    assert.match(windowGap(sw, [ack('app-1', {})]) ?? '', /app-2 \(shop\) left since the switch/);
    assert.match(
      windowGap(sw, [ack('app-1', {}), ack('app-2', { failures: 2 })]) ?? '',
      /app-2 \(shop\): 2 write\(s\) at EACH_QUORUM failed/,
    );
    assert.match(
      windowGap(sw, [ack('app-1', {}), ack('app-2', { sinceEpoch: 5 })]) ?? '',
      /entered each-quorum at epoch 5, after the switch \(4\)/,
    );
    assert.match(windowGap(sw, [ack('app-1', {}), ack('app-2', { mode: 'local' })]) ?? '', /is in mode local/);
    assert.match(windowGap(sw, [ack('app-1', {}), ack('app-2')]) ?? '', /app-2 \(shop\) reports nothing/);
    // A data layer that joined after the switch entered the mode later: it cannot vouch for the window.
    assert.match(windowGap(sw, [ack('app-1', {}), ack('app-2', {}), ack('app-3', { sinceEpoch: 6 })]) ?? '', /app-3 .*epoch 6/);
    assert.match(windowGap(sw, [ack('app-1', {}), ack('app-2', {}), ack('app-1', {}, 'blog')]) ?? '', /no switch recorded for blog/);
  });

  it('the cutoff is the highest timestamp handed out before the switch, plus one, never below the clock floor', () => {
    assert.equal(windowCutoffUs([ack('app-1', { writesThroughUs: 5_000 }), ack('app-2', { writesThroughUs: 9_000 })], 7_000), 9_001);
    assert.equal(windowCutoffUs([ack('app-1', { writesThroughUs: 5_000 }), ack('app-2')], 7_000), 7_000);
    assert.equal(windowCutoffUs([], 7_000), 7_000);
  });

  it("reads the newest window's switch from the log's notes; a hostile record reads as none", () => {
    const log = (...data: Array<Record<string, unknown> | undefined>): Pick<MigrationLog, 'history'> => ({
      history: data.map((d) => ({ at: '2026-12-06T00:00:00Z', event: 'note' as const, ...(d ? { data: d } : {}) })),
    });
    const older = windowSwitch({ shop: 2 }, [ack('app-1', {})]);
    assert.deepEqual(lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: older }, { windowMs: 3 }, { [WINDOW_SWITCH_KEY]: sw }, undefined)), sw);
    assert.equal(lastWindowSwitch(log({ windowMs: 3 })), undefined);
    assert.equal(
      lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: older }, { [WINDOW_SWITCH_KEY]: { epochs: { shop: -1 }, dataLayers: [] } })),
      undefined,
    );
    assert.equal(lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: 'all good' })), undefined);
  });
});
