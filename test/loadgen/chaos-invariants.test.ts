import assert from 'node:assert/strict';
import { checkInvariants } from '../../loadgen/chaos/invariants/check-invariants.js';
import { checkAcknowledgedWrites, lostByDesign } from '../../loadgen/chaos/invariants/acknowledged-writes.js';
import type { ClientWrite, MigrationEvidence } from '../../loadgen/chaos/invariants/evidence.js';
import { checkLeftovers } from '../../loadgen/chaos/invariants/leftovers.js';
import { checkMigrationEnds } from '../../loadgen/chaos/invariants/migration-ends.js';
import { checkSameEpoch } from '../../loadgen/chaos/invariants/same-epoch.js';
import { checkWriteOrder } from '../../loadgen/chaos/invariants/write-order.js';
import type { CommitEntry } from '../../loadgen/reference-app/index.js';

// Hand-made histories: times in ms after the migration's submission (origin 10 s on the clock).
const ORIGIN = 10_000_000_000n;
const ns = (ms: number): string => (ORIGIN + BigInt(Math.round(ms * 1e6))).toString();

let seq = 0;
/** A commit that began at `ms` and took 0.1 ms. */
function commit(
  key: string,
  value: string,
  ms: number,
  requestId: string | undefined = value,
  via: CommitEntry['via'] = 'http',
): CommitEntry {
  seq += 1;
  return { seq, key, value, version: seq, requestId, via, receivedNs: ns(ms - 0.2), beginNs: ns(ms), endNs: ns(ms + 0.1) };
}

function write(value: string, key: string, startMs: number, endMs: number, more: Partial<ClientWrite> = {}): ClientWrite {
  return {
    id: value,
    key,
    value,
    via: 'http',
    source: 'writer',
    gateway: 'gw-0',
    startNs: ns(startMs),
    endNs: ns(endMs),
    outcome: 'acked',
    status: 200,
    ...more,
  };
}

/** A migration that ended as `status` with every live process accounted for and nothing else. */
function evidence(p: Partial<MigrationEvidence> = {}): MigrationEvidence {
  return {
    migrationId: 'm0',
    app: 'm0',
    originNs: ORIGIN.toString(),
    outcome: { status: 'done', phase: 'done', elapsedMs: 3000, deadlineMs: 60_000 },
    mirrorWritesToN1: false,
    commits: { n1: [], n2: [] },
    writes: [],
    stores: { n1: new Map(), n2: new Map() },
    tree: {
      stateEpoch: 7,
      lock: undefined,
      acks: ['gw-0.1', 'gw-1.1'],
      members: ['gw-0.1', 'gw-1.1'],
      leaderCandidates: [],
      dataLocks: [],
    },
    live: { gateways: ['gw-0.1', 'gw-1.1'], controlPlanes: ['cp-0', 'cp-1'] },
    gatewayStates: [
      { gateway: 'gw-0.1', epoch: 7, mode: 'proxy' },
      { gateway: 'gw-1.1', epoch: 7, mode: 'proxy' },
    ],
    events: [],
    faults: [],
    ...p,
  };
}

/** A clean handover: N1 takes a, the sync copies it, N2 takes b after the fence; a is mirrored at +50 ms. */
function cleanHandover(): Pick<MigrationEvidence, 'commits' | 'writes' | 'stores'> {
  return {
    commits: {
      n1: [commit('m0.k1', 'a', 10), commit('m0.k2', 'm', 50)],
      n2: [commit('m0.k2', 'm', 50.05), commit('m0.k1', 'a', 80, undefined, 'sync'), commit('m0.k1', 'b', 200)],
    },
    writes: [
      write('a', 'm0.k1', 9, 11, { deployment: 'n1', mode: 'serve' }),
      write('m', 'm0.k2', 49, 51, { deployment: 'n1', mode: 'mirror', mirroredTo: 'n2' }),
      write('b', 'm0.k1', 199, 201, { deployment: 'n2', mode: 'proxy' }),
    ],
    stores: {
      n1: new Map([
        ['m0.k1', 'a'],
        ['m0.k2', 'm'],
      ]),
      n2: new Map([
        ['m0.k1', 'b'],
        ['m0.k2', 'm'],
      ]),
    },
  };
}

describe('chaos campaign invariants (pure checks over hand-made histories)', () => {
  it('a clean handover breaks none of them', () => {
    assert.deepEqual(checkInvariants(evidence(cleanHandover())), []);
  });

  describe('no write at N1 after the first write at N2 (commit logs)', () => {
    it('finds an N1 commit that began after the first N2 commit ended, with both commits and the client in the trace', () => {
      const h = cleanHandover();
      const late = commit('m0.k3', 'late', 300);
      const ev = evidence({
        ...h,
        commits: { n1: [...h.commits.n1, late], n2: h.commits.n2 },
        writes: [...h.writes, write('late', 'm0.k3', 299, 301, { deployment: 'n1', mode: 'serve', gateway: 'gw-2' })],
        stores: { n1: h.stores.n1, n2: new Map([...h.stores.n2, ['m0.k3', 'late']]) },
      });
      const v = checkWriteOrder(ev);
      assert.equal(v.length, 1);
      assert.equal(v[0]!.invariant, 'no-n1-after-n2');
      assert.match(
        v[0]!.summary,
        /^1 write\(s\) \(http 1, ws 0\) committed at N1 after the first write committed at N2 \(the last 99\.9 ms after it/,
      );
      const trace = v[0]!.trace.join('\n');
      assert.match(trace, /\+200\.0ms n2 commit #\d+ m0\.k1=b/);
      assert.match(trace, /\+300\.0ms n1 commit #\d+ m0\.k3=late/);
      assert.match(trace, /client writer http write m0\.k3=late via gw-2: acked 200 \[deployment=n1 mode=serve\]/);
    });

    it('an N1 commit that overlapped the first N2 commit is not "after" it', () => {
      const ev = evidence({ commits: { n1: [commit('m0.k1', 'x', 200.05)], n2: [commit('m0.k2', 'y', 200)] } });
      assert.deepEqual(checkWriteOrder(ev), []);
    });

    it('mirror copies do not count as N2 writes: same request id on both sides, a reply naming N1 primary, the sync copy', () => {
      const ev = evidence({
        commits: {
          // N1 keeps taking writes while N2 gets copies of them
          n1: [commit('m0.k1', 'p', 100), commit('m0.k2', 'q', 150), commit('m0.k3', 'r', 300)],
          n2: [
            commit('m0.k1', 'p', 100.01), // the mirrored copy of p (same request id)
            commit('m0.k2', 'partial', 120, 'partial'), // N1 refused it, the client got 502 under mirror
            commit('m0.k2', 'q', 90, undefined, 'sync'),
          ],
        },
        writes: [
          write('partial', 'm0.k2', 119, 121, { outcome: 'failed', status: 502, mode: 'mirror', error: 'NW_GW_MIRROR_PARTIAL_FAILURE' }),
        ],
      });
      assert.deepEqual(checkWriteOrder(ev), []);
    });

    it('a mirrored write by a gateway still in mirror after N2 took writes counts at N1', () => {
      const ev = evidence({
        commits: { n1: [commit('m0.k1', 'stale', 300)], n2: [commit('m0.k2', 'new', 200), commit('m0.k1', 'stale', 300.01)] },
        writes: [write('stale', 'm0.k1', 299, 301, { deployment: 'n1', mode: 'mirror', mirroredTo: 'n2' })],
      });
      assert.equal(checkWriteOrder(ev).length, 1);
    });

    it('after a rollback N1 may take writes again, but not between two N2 writes', () => {
      const rolledBack = { status: 'rolled-back' as const, phase: 'proxy', elapsedMs: 5000, deadlineMs: 60_000 };
      const ok = evidence({
        outcome: rolledBack,
        commits: { n1: [commit('m0.k1', 'a', 10), commit('m0.k1', 'c', 400)], n2: [commit('m0.k1', 'b', 200), commit('m0.k2', 'b2', 250)] },
      });
      assert.deepEqual(checkWriteOrder(ok), []);
      const bad = evidence({
        outcome: rolledBack,
        commits: { n1: [commit('m0.k1', 'a', 10), commit('m0.k1', 'c', 220)], n2: [commit('m0.k1', 'b', 200), commit('m0.k2', 'b2', 250)] },
      });
      const v = checkWriteOrder(bad);
      assert.equal(v.length, 1);
      assert.match(v[0]!.summary, /and before a later N2 write/);
    });

    it('shows the migration events and faults around the first late commit', () => {
      const ev = evidence({
        commits: { n1: [commit('m0.k1', 'late', 1500)], n2: [commit('m0.k2', 'b', 1000)] },
        events: [{ atNs: ns(900), event: 'phase-started', phase: 'proxy' }],
        faults: [
          { kind: 'gateway-pause', target: 'gw-1', trigger: 'fence+40ms', status: 'injected', injectedNs: ns(400), healedNs: ns(1400) },
        ],
      });
      const trace = checkWriteOrder(ev)[0]!.trace;
      const ctx = trace.slice(trace.indexOf('around the first late N1 commit:') + 1);
      assert.deepEqual(ctx, [
        '+400.0ms fault gateway-pause on gw-1 (fence+40ms) injected',
        '+900.0ms migration phase-started proxy',
        '+1400.0ms fault gateway-pause on gw-1 (fence+40ms) healed',
      ]);
    });
  });

  describe('every acknowledged write is on the side the app ends on (read back from its store)', () => {
    it('done: an acknowledged value missing at N2 is reported with the key history', () => {
      const h = cleanHandover();
      const ev = evidence({ ...h, stores: { n1: h.stores.n1, n2: new Map([['m0.k2', 'm']]) } });
      const v = checkAcknowledgedWrites(ev);
      assert.equal(v.length, 1);
      assert.match(v[0]!.summary, /^1 of 2 written key\(s\) \(http 1, ws 0\) at n2 \(migration done\)/);
      assert.equal(v[0]!.trace[0], 'key m0.k1: n2 holds null, expected one of ["b"]');
      assert.ok(v[0]!.trace.some((l) => /n2 commit #\d+ m0\.k1=b/.test(l)));
    });

    it('accepts either of two overlapping acknowledged writes, and an unknown outcome that overlaps the last one', () => {
      const writes = [
        write('x', 'm0.k1', 100, 200),
        write('y', 'm0.k1', 150, 250),
        write('z', 'm0.k1', 240, 400, { outcome: 'unknown', status: 0 }),
      ];
      for (const held of ['x', 'y', 'z'])
        assert.deepEqual(
          checkAcknowledgedWrites(evidence({ writes, stores: { n1: new Map(), n2: new Map([['m0.k1', held]]) } })),
          [],
          held,
        );
      // an older write strictly followed by an acknowledged one is not acceptable
      const older = [write('old', 'm0.k1', 10, 20), write('new', 'm0.k1', 30, 40)];
      assert.equal(
        checkAcknowledgedWrites(evidence({ writes: older, stores: { n1: new Map(), n2: new Map([['m0.k1', 'old']]) } })).length,
        1,
      );
    });

    it('rolled back: N1 must hold its acknowledged writes; what N2 took as primary is lost by design without mirrorWritesToN1', () => {
      const outcome = { status: 'rolled-back' as const, phase: 'proxy', elapsedMs: 5000, deadlineMs: 60_000 };
      const base = {
        outcome,
        commits: { n1: [commit('m0.k1', 'a', 10)], n2: [commit('m0.k1', 'b', 200)] },
        writes: [write('a', 'm0.k1', 9, 11, { deployment: 'n1' }), write('b', 'm0.k1', 199, 201, { deployment: 'n2' })],
      };
      const kept = evidence({ ...base, stores: { n1: new Map([['m0.k1', 'a']]), n2: new Map([['m0.k1', 'b']]) } });
      assert.deepEqual(checkAcknowledgedWrites(kept), []);
      assert.deepEqual([...lostByDesign(kept)], ['b']);
      const lost = evidence({ ...base, stores: { n1: new Map(), n2: new Map([['m0.k1', 'b']]) } });
      assert.equal(checkAcknowledgedWrites(lost)[0]?.trace[0], 'key m0.k1: n1 holds null, expected one of ["a"]');
      // with mirrorWritesToN1 N1 must have b as well
      assert.equal(checkAcknowledgedWrites(evidence({ ...base, mirrorWritesToN1: true, stores: kept.stores })).length, 1);
    });

    it('checks nothing for a migration that did not end (migration-ends reports it)', () => {
      const ev = evidence({
        outcome: { status: 'failed', phase: 'fence', elapsedMs: 1, deadlineMs: 2 },
        writes: [write('a', 'm0.k1', 1, 2)],
      });
      assert.deepEqual(checkAcknowledgedWrites(ev), []);
    });
  });

  describe('every migration ends done or rolled back within its deadline', () => {
    it('reports failed, still running and late migrations, with the phase timeline', () => {
      const failed = evidence({
        outcome: {
          status: 'failed',
          phase: 'fence',
          error: { code: 'NW_CP_BARRIER_TIMEOUT', message: 'gw-1 did not ack' },
          elapsedMs: 20_000,
          deadlineMs: 60_000,
        },
        events: [{ atNs: ns(5), event: 'phase-started', phase: 'fence' }],
      });
      const v = checkMigrationEnds(failed);
      assert.equal(
        v[0]?.summary,
        'did not end done or rolled back: failed in phase fence after 20.0 s (NW_CP_BARRIER_TIMEOUT: gw-1 did not ack)',
      );
      assert.deepEqual(v[0]?.trace, ['+5.0ms migration phase-started fence']);
      assert.equal(
        checkMigrationEnds(evidence({ outcome: { status: 'running', phase: 'proxy', elapsedMs: 61_000, deadlineMs: 60_000 } })).length,
        1,
      );
      assert.match(
        checkMigrationEnds(evidence({ outcome: { status: 'done', phase: 'done', elapsedMs: 61_000, deadlineMs: 60_000 } }))[0]!.summary,
        /^ended done after 61\.0 s, past its deadline of 60\.0 s$/,
      );
      assert.deepEqual(checkMigrationEnds(evidence()), []);
    });
  });

  describe('no lock or ephemeral node is left behind', () => {
    it('names a lock, acks and members of dead gateways, candidates of dead or duplicated control planes, data locks', () => {
      const ev = evidence({
        tree: {
          stateEpoch: 7,
          lock: 'm0',
          acks: ['gw-0.1', 'gw-2.1'],
          members: ['gw-0.1', 'gw-1.1', 'gw-2.1'],
          leaderCandidates: [
            { node: 'candidate-0000000001', id: 'cp-0' },
            { node: 'candidate-0000000002', id: 'cp-9' },
            { node: 'candidate-0000000003', id: 'cp-0' },
          ],
          dataLocks: ['/datalocks/m0/g1/lock-0000000001'],
        },
      });
      const v = checkLeftovers(ev);
      assert.equal(v.length, 1);
      assert.deepEqual(v[0]!.trace.slice(0, -1), [
        '/apps/m0/lock holds "m0" (migration done)',
        '/apps/m0/acks/gw-2.1: no such live member',
        '/members/gw-2.1: no such live member',
        '/leader/candidate-0000000002 (cp-9): no such live control plane',
        '/leader: 2 candidates for control plane cp-0',
        '/datalocks/m0/g1/lock-0000000001: data-layer lock left',
      ]);
      assert.deepEqual(checkLeftovers(evidence()), []);
    });

    it("counts an app server's live data-layer member (the Cassandra variant's N1) as live, and a dead one's nodes as left", () => {
      const tree = {
        ...evidence().tree,
        acks: ['gw-0.1', 'datalayer-n1.1'],
        members: ['gw-0.1', 'gw-1.1', 'datalayer-n1.1', 'datalayer-n1.0'],
      };
      const live = { gateways: ['gw-0.1', 'gw-1.1'], controlPlanes: ['cp-0', 'cp-1'], dataLayers: ['datalayer-n1.1'] };
      assert.deepEqual(checkLeftovers(evidence({ tree, live }))[0]?.trace.slice(0, -1), ['/members/datalayer-n1.0: no such live member']);
    });
  });

  describe('every live gateway ends on the same epoch', () => {
    it('names a gateway behind the state node and one whose /state failed', () => {
      const ev = evidence({
        gatewayStates: [
          { gateway: 'gw-0.1', epoch: 7, mode: 'proxy' },
          { gateway: 'gw-1.1', epoch: 5, mode: 'fence' },
          { gateway: 'gw-2.1', epoch: undefined, mode: undefined, error: 'ECONNREFUSED' },
        ],
      });
      const v = checkSameEpoch(ev);
      assert.equal(v[0]?.summary, '2 of 3 live gateway(s) are not on epoch 7 of m0');
      assert.deepEqual(v[0]?.trace, ['gw-0.1: epoch 7 mode proxy', 'gw-1.1: epoch 5 mode fence', 'gw-2.1: /state failed: ECONNREFUSED']);
    });
  });
});
