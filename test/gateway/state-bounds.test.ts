// What a state may ask of a gateway is bounded (protocol/app-state.ts): how long and how many writes
// a fence holds, and the size of the document. A state past a bound is refused with
// NW_GW_STATE_INVALID naming the field, never applied or acked; a plan asking for more is refused
// before it starts.
import assert from 'node:assert/strict';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { FENCE_LIMITS, MAX_STATE_DOCUMENT_BYTES } from '../../protocol/app-state.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { eventually } from '../support/eventually.js';

describe('bounds on what a state may ask for', function () {
  this.timeout(20_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: EmbeddedCoordinator;

  beforeEach(async () => {
    store = new EmbeddedStore();
    cp = new EmbeddedCoordinator(store);
    await cp.connect();
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    fleet = await startFleet({ size: 1, coordinator: () => new EmbeddedCoordinator(store) });
  });

  afterEach(async () => {
    await fleet.close();
    await cp.close();
  });

  it('a fence asking to hold writes longer, or more of them, than the limits is refused, naming the field', async () => {
    const gw = fleet.members[0]!.gateway;
    const refuse = (state: Record<string, unknown>, field: RegExp) =>
      assert.rejects(gw.applyState('shop', { epoch: 1, mode: 'fence', ...state }), { code: 'NW_GW_STATE_INVALID', message: field });
    await refuse({ maxHoldMs: FENCE_LIMITS.maxHoldMs + 1 }, /state of shop: maxHoldMs: .*60000/);
    await refuse({ maxHoldMs: 86_400_000 }, /maxHoldMs/);
    await refuse({ maxHeldWrites: FENCE_LIMITS.maxHeldWrites + 1 }, /state of shop: maxHeldWrites: .*10000/);
    assert.equal(gw.getState().shop!.mode, 'serve', 'nothing was applied');
    await gw.applyState('shop', { epoch: 1, mode: 'fence', ...FENCE_LIMITS });
    assert.equal(gw.getState().shop!.mode, 'fence', 'the limits themselves are allowed');
  });

  it('a state document over the size limit is refused before it is parsed', async () => {
    const gw = fleet.members[0]!.gateway;
    const padded = { epoch: 1, mode: 'serve', note: 'x'.repeat(MAX_STATE_DOCUMENT_BYTES) };
    await assert.rejects(gw.applyState('shop', padded), {
      code: 'NW_GW_STATE_INVALID',
      message: new RegExp(`state of shop: \\(root\\): state document is \\d+ bytes, over the limit of ${MAX_STATE_DOCUMENT_BYTES}`),
    });
  });

  it('a fleet member neither applies nor acks a huge state node, and applies the next good one', async () => {
    const member = fleet.members[0]!;
    const path = layout.state('shop');
    const before = (await cp.get(path))!.version;
    await cp.set(path, encodeJson({ mode: 'fence', pad: 'x'.repeat(200_000) }));
    const status = await eventually(
      () => {
        const s = member.agent.syncStatus().shop;
        assert.equal(s?.rejectedEpoch, before + 1);
        return s!;
      },
      { timeoutMs: 5000, message: 'the member rejected the huge state' },
    );
    assert.match(status.error ?? '', /state document is \d+ bytes, over the limit/);
    assert.equal(member.gateway.getState().shop!.mode, 'serve');
    const ack = JSON.parse((await cp.get(layout.ack('shop', member.id)))!.data.toString()) as { epoch: number };
    assert.equal(ack.epoch, before, 'the huge state was not acked');
    const [next] = await writeAppStates(cp, { shop: { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false } });
    await eventually(() => member.gateway.getState().shop!.mode === 'mirror', {
      timeoutMs: 5000,
      message: `the next good state (epoch ${next!.epoch}) applies`,
    });
  });

  it('a plan asking the fence for more than a gateway accepts is refused before it starts', () => {
    assert.throws(() => parsePlan({ apps: ['shop'], fence: { maxHoldMs: FENCE_LIMITS.maxHoldMs + 1 } }), {
      code: 'NW_CP_PLAN_INVALID',
      message: /fence\.maxHoldMs/,
    });
    assert.throws(() => parsePlan({ apps: ['shop'], fence: { maxHeldWrites: FENCE_LIMITS.maxHeldWrites + 1 } }), {
      message: /fence\.maxHeldWrites/,
    });
  });
});
