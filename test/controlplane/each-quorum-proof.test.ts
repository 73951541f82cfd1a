import { strict as assert } from 'node:assert';
import type { DataLayerAck } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { lastWindowSwitch, WINDOW_SWITCH_KEY, windowCutoffUs, windowGap, windowSwitch } from '../../controlplane/sync/each-quorum-proof.js';

const ack = (member: string, report?: Partial<NonNullable<DataLayerAck['datastore']>>, app = 'shop'): DataLayerAck => ({
  member,
  app,
  ...(report === undefined
    ? {}
    : { datastore: { mode: 'each-quorum', sinceEpoch: 4, writesThroughUs: 1_000, failures: 0, inFlight: 0, ...report } }),
});
/** What the fence's confirmation returns: the acks, and the member list's changes (7 at the switch below). */
const confirmed = (dataLayers: DataLayerAck[], membersChanges: number | null = 7) => ({
  dataLayers,
  ...(membersChanges === null ? {} : { membersChanges }),
});

describe('replicate strategy: what the EACH_QUORUM window may vouch for at the fence', () => {
  const sw = windowSwitch({ epochs: { shop: 4 }, dataLayers: [ack('app-1', {}), ack('app-2', {})], membersChanges: 7 });

  it('stands when the members did not change and every data layer of the switch acks again, in the mode, nothing failed or running', () => {
    assert.equal(windowGap(sw, confirmed([ack('app-1', {}), ack('app-2', { sinceEpoch: 2 })])), undefined);
  });

  it('sends the fence to the drain on anything it cannot vouch for', () => {
    const both = (r: Partial<NonNullable<DataLayerAck['datastore']>> | undefined) => confirmed([ack('app-1', {}), ack('app-2', r)]);
    assert.match(windowGap(undefined, both({})) ?? '', /no record of the window/);
    assert.match(windowGap(windowSwitch({ epochs: { shop: 4 }, dataLayers: [], membersChanges: 7 }), confirmed([])) ?? '', /no data layer/);
    // A member that joined, left or came back between the two barriers, however briefly: its failed
    // writes may have left with it (a restart under the same id, a newcomer gone again).
    assert.match(windowGap(sw, confirmed([ack('app-1', {}), ack('app-2', {})], 9)) ?? '', /members joined, left or came back/);
    assert.match(windowGap(sw, confirmed([ack('app-1', {}), ack('app-2', {})], null)) ?? '', /does not say/);
    assert.match(windowGap({ ...sw, membersChanges: undefined }, both({})) ?? '', /does not say/);
    assert.match(windowGap(sw, confirmed([ack('app-1', {})])) ?? '', /app-2 \(shop\) did not ack again/);
    assert.match(windowGap(sw, both({ failures: 2 })) ?? '', /app-2 \(shop\): 2 write\(s\) at EACH_QUORUM failed/);
    assert.match(windowGap(sw, both({ inFlight: 1 })) ?? '', /app-2 \(shop\): 1 write\(s\) at EACH_QUORUM still running/);
    assert.match(windowGap(sw, both({ sinceEpoch: 5 })) ?? '', /entered each-quorum at epoch 5, after the switch \(4\)/);
    assert.match(windowGap(sw, both({ mode: 'local' })) ?? '', /is in mode local/);
    assert.match(windowGap(sw, both(undefined)) ?? '', /app-2 \(shop\) reports nothing/);
    // A member that says it has no datastore layer for the app (cache only) has nothing to vouch for.
    assert.equal(windowGap(sw, confirmed([ack('app-1', {}), { member: 'app-2', app: 'shop', datastoreTargets: 0 }])), undefined);
    assert.match(
      windowGap(sw, confirmed([ack('app-1', {}), { member: 'app-2', app: 'shop', datastoreTargets: 1 }])) ?? '',
      /app-2 \(shop\) reports nothing/,
    );
    assert.match(
      windowGap(sw, confirmed([ack('app-1', {}), ack('app-2', {}), ack('app-3', {})])) ?? '',
      /app-3 \(shop\) did not ack the switch/,
    );
    const twoApps = windowSwitch({
      epochs: { shop: 4 },
      dataLayers: [ack('app-1', {}), ack('app-1', {}, 'constructor')],
      membersChanges: 7,
    });
    assert.match(
      windowGap(twoApps, confirmed([ack('app-1', {}), ack('app-1', {}, 'constructor')])) ?? '',
      /no switch recorded for constructor/,
    );
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
    const older = windowSwitch({ epochs: { shop: 2 }, dataLayers: [ack('app-1', {})] });
    assert.deepEqual(lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: older }, { windowMs: 3 }, { [WINDOW_SWITCH_KEY]: sw }, undefined)), sw);
    assert.equal(lastWindowSwitch(log({ windowMs: 3 })), undefined);
    assert.equal(
      lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: older }, { [WINDOW_SWITCH_KEY]: { epochs: { shop: -1 }, dataLayers: [] } })),
      undefined,
    );
    assert.equal(lastWindowSwitch(log({ [WINDOW_SWITCH_KEY]: 'all good' })), undefined);
  });
});
