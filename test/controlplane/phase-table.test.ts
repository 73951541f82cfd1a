import assert from 'node:assert/strict';
import type { DataMode } from '../../protocol/app-state.js';
import { PHASES, type PhaseName } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { PHASE_TABLE, phaseAfter, rollbackSteps } from '../../controlplane/migration/phase-table.js';
import { rollbackFenceData } from '../../controlplane/migration/phases/data-modes.js';
import { rollbackState } from '../../controlplane/migration/phases/rollback.js';

const BEFORE_PROXY = PHASES.slice(0, PHASES.indexOf('proxy'));
const FROM_PROXY = PHASES.slice(PHASES.indexOf('proxy'));
const plain = parsePlan({ apps: ['shop'] });
const redirecting = parsePlan({ apps: ['shop'], redirect: { enabled: true } });
const copying: DataMode = { datastore: 'copy-on-write', cache: 'copy' };

describe('migration phase table', () => {
  it('has one entry per phase of the log, under its own name, in the order the phases run', () => {
    assert.deepEqual(Object.keys(PHASE_TABLE), [...PHASES]);
    for (const p of PHASES) assert.equal(PHASE_TABLE[p].name, p);
    const order: PhaseName[] = [];
    for (let p = phaseAfter(undefined); p !== undefined; p = phaseAfter(p)) order.push(p);
    assert.deepEqual(order, [...PHASES]);
  });

  it('N2 takes no write before proxy, and may from proxy on', () => {
    assert.deepEqual(BEFORE_PROXY, ['prepare', 'sync', 'fence']);
    for (const p of BEFORE_PROXY) assert.equal(PHASE_TABLE[p].n2TakesWrites, false, p);
    for (const p of FROM_PROXY) assert.equal(PHASE_TABLE[p].n2TakesWrites, true, p);
  });

  it('a phase that starts with its flip writes states (redirect only when the plan enables it)', () => {
    const flipping = PHASES.filter((p) => PHASE_TABLE[p].startsWithFlip);
    assert.deepEqual(flipping, ['sync', 'fence', 'proxy', 'redirect', 'done']);
    for (const p of flipping) assert.ok(PHASE_TABLE[p].states(redirecting, 'm1', undefined), `${p} writes states`);
    assert.equal(PHASE_TABLE.redirect.states(plain, 'm1', undefined), undefined);
  });

  it('a phase that does not start with its flip has work before it (why its start is recorded first)', () => {
    for (const p of PHASES.filter((q) => !PHASE_TABLE[q].startsWithFlip)) assert.ok(PHASE_TABLE[p].before, p);
  });

  it(
    'a rollback fences first exactly where N2 may have taken writes, restores DNS only from the dns phase on, ' + 'and always ends serving',
    () => {
      for (const p of PHASES) {
        const steps = rollbackSteps(p);
        assert.equal(steps[0] === 'fence', PHASE_TABLE[p].n2TakesWrites, p);
        assert.equal(steps.includes('dns-restore'), PHASES.indexOf(p) >= PHASES.indexOf('dns'), p);
        assert.equal(steps.at(-1), 'serve', p);
      }
      assert.deepEqual(rollbackSteps(undefined), ['serve']);
    },
  );

  it('states carry the migration tag of their phase until done, which carries none', () => {
    for (const p of PHASES) {
      const s = PHASE_TABLE[p].states(redirecting, 'm1', undefined);
      if (!s) continue;
      assert.deepEqual(s.migration, p === 'done' ? undefined : { id: 'm1', phase: p }, p);
    }
  });

  it('data layers keep the synced mode through fence; from proxy on N1 stops copying (kept local while writes are mirrored back)', () => {
    assert.equal(PHASE_TABLE.prepare.states(plain, 'm1', copying)?.data, undefined);
    for (const p of ['sync', 'fence'] as const) assert.deepEqual(PHASE_TABLE[p].states(plain, 'm1', copying)?.data, copying, p);
    for (const p of ['proxy', 'redirect'] as const)
      assert.deepEqual(PHASE_TABLE[p].states(redirecting, 'm1', copying)?.data, { datastore: 'local', cache: 'local' }, p);
    assert.deepEqual(PHASE_TABLE.done.states(redirecting, 'm1', copying)?.data, { datastore: 'n2', cache: 'local' });
    const noMirror = parsePlan({ apps: ['shop'], proxy: { mirrorWritesToN1: false } });
    assert.deepEqual(PHASE_TABLE.proxy.states(noMirror, 'm1', copying)?.data, { datastore: 'n2', cache: 'local' });
    for (const p of PHASES) assert.equal(PHASE_TABLE[p].states(redirecting, 'm1', undefined)?.data, undefined, p);
  });

  it("with the cache's replicate strategy N1's cache follows N2's from proxy on, through done and a rollback's fence", () => {
    const replicating = parsePlan({
      apps: ['shop'],
      redirect: { enabled: true },
      sync: { mode: 'none', hooks: ['cache'], cache: { strategy: 'replicate' } },
    });
    const follow = { datastore: 'local', cache: 'follow' };
    for (const p of ['prepare', 'sync', 'fence'] as const)
      assert.equal(PHASE_TABLE[p].states(replicating, 'm1', undefined)?.data, undefined, p);
    // N1's Redis is N2's replica from proxy's atProxy until done's atDone, which runs after done's barrier.
    for (const p of ['proxy', 'redirect', 'done'] as const)
      assert.deepEqual(PHASE_TABLE[p].states(replicating, 'm1', undefined)?.data, follow, p);
    assert.deepEqual(PHASE_TABLE.done.states(replicating, 'm1', copying)?.data, { datastore: 'n2', cache: 'follow' });
    // Until the hooks' atRollback step promotes N1's Redis, after the rollback's fence.
    assert.deepEqual(rollbackState('fence', 'm1', rollbackFenceData(replicating)).data, follow);
    assert.equal(rollbackState('fence', 'm1', rollbackFenceData(plain)).data, undefined);
    assert.equal(rollbackState('serve', 'm1', rollbackFenceData(replicating)).data, undefined);
  });
});
