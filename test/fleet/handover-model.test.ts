/**
 * A model-based, property-based test of the handover (issue 12): fast-check
 * draws sequences of client writes (awaited or left running), writes whose
 * client leaves after a while, slow bodies, reads, handover steps of the
 * control plane, lease lapses, coordinator cuts, member restarts and pauses,
 * runs them against real fleet gateways on loopback (HandoverSystem), and
 * checks after every command and at the end what the app servers committed:
 *
 * - no write commits at a side that does not own writes (N1 until a fence
 *   barrier passed, nobody until proxy is written, then N2; back to N1 only
 *   through a rollback): so no write commits at N1 after the first write
 *   committed at N2;
 * - every 2xx was committed, once, by the side that answered it, and is in the
 *   data of the side the app ends on (N2 writes lost by a rollback with
 *   `mirrorWritesToN1: false` excepted, as documented);
 * - every migration ends (done or rolled back) once the faults heal, and then
 *   every live member acks a fence and the final state within a deadline: no
 *   gateway is stuck and no in-flight write count leaked (the fence drains
 *   both sides); no held write or request is left over.
 *
 * A failure prints fast-check's seed and path, the shrunk commands, the
 * scheduler's order of background events and the tail of the run's trace.
 * Reproduce with NW_MODEL_SEED=<seed> NW_MODEL_PATH=<path> NW_MODEL_REPLAY=<the
 * counterexample's replayPath>; NW_MODEL_RUNS sets the number of runs (a
 * longer search: NW_MODEL_RUNS=500 NW_MODEL_SEED=<any>); NW_MODEL_STATS=1
 * prints what each run exercised.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { DriverStatus, OwnershipChange } from '../support/handover-driver.js';
import {
  answerViolations,
  durabilityViolations,
  ownerAt,
  ownershipViolations,
  type AnsweredWrite,
} from '../support/handover-invariants.js';
import { MAX_COMMIT_MS } from '../support/commit-log-app.js';
import { APP, HandoverSystem, TIMING } from '../support/handover-system.js';
import { eventually } from '../support/eventually.js';

/**
 * Cuts longer than a session while a member's state is untagged (serve before a migration, or
 * after a rollback). Until the lease covered every app (issue 12 item 3) this found a write at N1
 * after N2's first (seed 20260412, path 37:5:7:6:7:6:8); false restricts such cuts to tagged states.
 */
const LONG_CUTS_WHILE_UNTAGGED = true;

const MAX_MIGRATIONS = 3;
/** Mostly quick commits; some slower than a member's shutdown deadline, none slower than the app's timeout allows. */
const COMMIT_MS = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 4 },
  { arbitrary: fc.integer({ min: 60, max: MAX_COMMIT_MS }), weight: 1 },
);

interface Model {
  status: DriverStatus;
  migrations: number;
  everyMemberTagged: boolean;
}

type Cmd = fc.AsyncCommand<Model, HandoverSystem>;

/** Invariants that must hold at every point of a run. */
function checkSafety(sys: HandoverSystem, after: string): void {
  const commits = [...sys.n1.commits, ...sys.n2.commits];
  const answered = sys.writes.filter((w) => w.status !== undefined) as AnsweredWrite[];
  const problems = [...ownershipViolations(commits, sys.driver.ownership), ...answerViolations(answered, commits)];
  if (problems.length) assert.fail(`after ${after}:\n  ${problems.join('\n  ')}\ntrace:\n${sys.traceTail()}`);
}

/** A command: its precondition, what it does, then the model follows the driver and the invariants are checked. */
function command(name: string, run: (sys: HandoverSystem) => Promise<void>, check: (m: Readonly<Model>) => boolean = () => true): Cmd {
  return {
    check,
    async run(m, sys) {
      sys.trace(`== ${name}`);
      await run(sys);
      m.status = sys.driver.status;
      m.migrations = sys.driver.migrations;
      m.everyMemberTagged = sys.driver.everyMemberTagged;
      checkSafety(sys, name);
    },
    toString: () => name,
  };
}

/** The commands for a fleet of `size` members, weighted: the handover has to move while writes are in the air. */
function commandsFor(size: number): fc.Arbitrary<Cmd> {
  const member = fc.nat(size - 1);
  const write = fc
    .record({ member, method: fc.constantFrom('POST' as const, 'PUT' as const), commitMs: COMMIT_MS, awaited: fc.boolean() })
    .map(({ member, method, commitMs, awaited }) =>
      command(`write(gw-${member}, ${method}, commit ${commitMs} ms${awaited ? '' : ', left running'})`, async (sys) => {
        const { done } = sys.write(member, { kind: 'write', method, commitMs, body: 'v' });
        if (awaited) await done;
      }),
    );
  const writeEverywhere = COMMIT_MS.map((commitMs) =>
    command(`writeEverywhere(commit ${commitMs} ms)`, async (sys) => {
      await Promise.all(sys.slots.map((_, i) => sys.write(i, { kind: 'write', method: 'POST', commitMs, body: 'v' }).done));
    }),
  );
  const abortingWrite = fc
    .record({ member, commitMs: COMMIT_MS, abortMs: fc.integer({ min: 0, max: 60 }) })
    .map(({ member, commitMs, abortMs }) =>
      command(`abortingWrite(gw-${member}, commit ${commitMs} ms, client leaves ${abortMs} ms after release)`, async (sys) => {
        const ac = new AbortController();
        const { write } = sys.write(member, { kind: 'aborting', method: 'POST', commitMs, body: 'v', signal: ac.signal });
        void sys
          .gate(`${write.writeId}: client leaves`)
          .then(() => sleep(abortMs))
          .then(() => {
            if (!write.settled) sys.trace(`client: ${write.writeId} leaves`);
            ac.abort();
          });
      }),
    );
  const slowWrite = fc
    .record({
      member,
      shape: fc.constantFrom('small' as const, 'large' as const, 'chunked' as const),
      chunks: fc.integer({ min: 2, max: 4 }),
      gapMs: fc.integer({ min: 0, max: 80 }),
      leaves: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      commitMs: COMMIT_MS,
    })
    .map(({ member, shape, chunks, gapMs, leaves, commitMs }) => {
      // small: buffered by the gateway (<= 64 KiB); large and chunked: streamed, the last chunk held for the lease check.
      const chunkBytes = shape === 'large' ? 24 * 1024 : 200;
      const count = shape === 'large' ? Math.max(chunks, 3) : chunks;
      const leaveAfter = leaves !== undefined && leaves < count ? leaves : undefined;
      const name =
        `slowWrite(gw-${member}, ${shape}, ${count} chunks ${gapMs} ms apart` +
        `${leaveAfter === undefined ? '' : `, client leaves after ${leaveAfter}`}, commit ${commitMs} ms)`;
      return command(name, async (sys) => {
        const ac = new AbortController();
        let id = '';
        const body = sys.slowBody(
          () => id,
          count,
          chunkBytes,
          gapMs,
          leaveAfter,
          () => ac.abort(),
        );
        const { write } = sys.write(member, {
          kind: `slow-${shape}`,
          method: 'PUT',
          commitMs,
          body,
          ...(shape === 'chunked' ? {} : { contentLength: count * chunkBytes }),
          signal: ac.signal,
        });
        id = write.writeId;
      });
    });
  const read = member.map((member) =>
    command(`read(gw-${member})`, async (sys) => {
      sys.trace(`client: read via gw-${member} → ${await sys.read(member)}`);
    }),
  );
  const advance = fc.constant(
    command(
      'advance',
      async (sys) => {
        sys.trace(`cp: ${await sys.driver.advance()}`);
      },
      (m) => m.status !== 'done' && !(m.status === 'idle' && m.migrations >= MAX_MIGRATIONS),
    ),
  );
  const abort = fc.constant(
    command(
      'abort',
      async (sys) => {
        sys.driver.abort();
      },
      (m) => m.status === 'running',
    ),
  );
  const lapseLease = member.map((member) =>
    command(`lapseLease(gw-${member})`, async (sys) => {
      sys.slot(member).member.lease.revoke();
      sys.trace(`gw-${member}: lease revoked`);
    }),
  );
  const cut = fc.record({ member, ms: fc.integer({ min: 20, max: 800 }) }).map(({ member, ms }) => {
    const long = ms >= TIMING.sessionMs - 40;
    return command(
      `cut(gw-${member}, ${ms} ms${long ? ', session expires' : ''})`,
      async (sys) => {
        sys.slot(member).coordinator.cutFor(ms, TIMING.sessionMs);
        sys.trace(`gw-${member}: cut off from the coordinator for ${ms} ms`);
      },
      (m) => !long || m.everyMemberTagged || LONG_CUTS_WHILE_UNTAGGED,
    );
  });
  const restart = member.map((member) =>
    command(`restart(gw-${member})`, async (sys) => {
      await sys.restart(member);
    }),
  );
  const pass = fc.integer({ min: 5, max: 150 }).map((ms) =>
    command(`pass(${ms} ms)`, async () => {
      await sleep(ms);
    }),
  );
  return fc.oneof(
    { arbitrary: write, weight: 4 },
    { arbitrary: writeEverywhere, weight: 2 },
    { arbitrary: abortingWrite, weight: 2 },
    { arbitrary: slowWrite, weight: 2 },
    { arbitrary: read, weight: 1 },
    { arbitrary: advance, weight: 4 },
    { arbitrary: abort, weight: 1 },
    { arbitrary: lapseLease, weight: 1 },
    { arbitrary: cut, weight: 2 },
    { arbitrary: restart, weight: 1 },
    { arbitrary: pass, weight: 2 },
  );
}

/** After the commands: heal, let every client finish, end the migration, then the end-of-run invariants. */
async function finish(sys: HandoverSystem): Promise<void> {
  sys.unscheduled = true;
  await sys.scheduler.waitAll();
  sys.trace('== end of commands: heal every cut');
  for (const s of sys.slots) s.coordinator.heal();
  const fail = (what: string): never => assert.fail(`${what}\ntrace:\n${sys.traceTail()}`);

  await eventually(() => sys.pending.size === 0, { timeoutMs: 5_000, message: 'every client request answered' }).catch(() =>
    fail(`stuck: ${sys.pending.size} client requests never answered`),
  );
  await eventually(() => sys.everyMemberRegistered(), { timeoutMs: 3_000, message: 'every member back in the fleet' }).catch(() =>
    fail('a member did not rejoin the fleet after its cut healed'),
  );
  for (let step = 0; step < 12 && !sys.driver.terminal; step++) sys.trace(`cp: ${await sys.driver.advance()}`);
  if (!sys.driver.terminal) fail(`the migration did not end once the faults healed (status ${sys.driver.status})`);

  const final = await sys.driver.finalCheck(2_000);
  const everyone = sys.slots.map((s) => s.id).sort();
  if (!final.ok || final.members.join() !== everyone.join())
    fail(`gateway stuck: ${final.detail} (live members ${final.members.join(',')}, expected ${everyone.join(',')})`);
  // A client's own view can be ahead of the gateway's (it may not have seen a left client's socket close yet): a leak is what stays.
  const leftOver = (): string[] =>
    sys.slots.flatMap((s) => {
      const m = s.member.gateway.metrics;
      const left = { held: m.heldWrites.get([APP]), inFlight: m.inFlight.get([APP]), open: s.member.gateway.pendingRequests };
      return left.held === 0 && left.inFlight === 0 && left.open === 0 ? [] : [`${s.id} ${JSON.stringify(left)}`];
    });
  await eventually(() => leftOver().length === 0, { timeoutMs: 2_000, message: 'no request left in any gateway' }).catch(() =>
    fail(`leaked counts after the run: ${leftOver().join(', ')}`),
  );

  checkSafety(sys, 'the end');
  const commits = [...sys.n1.commits, ...sys.n2.commits];
  const answered = sys.writes.filter((w) => w.status !== undefined) as AnsweredWrite[];
  const { violations } = durabilityViolations(answered, commits, sys.driver.ownership, sys.driver.side, sys.driver.carriedToN2);
  if (violations.length) fail(`acknowledged writes lost:\n  ${violations.join('\n  ')}`);
  // What a run exercised, to judge the command weights: NW_MODEL_STATS=1 prints one line per run.
  if (process.env.NW_MODEL_STATS) {
    const ok = answered.filter((w) => w.status < 300);
    const line = {
      members: sys.slots.length,
      outcome: sys.driver.status,
      migrations: sys.driver.migrations,
      owners: sys.driver.ownership.map((o) => o.owner).join(','),
      writes: sys.writes.length,
      acked: { n1: ok.filter((w) => w.servedBy === 'n1').length, n2: ok.filter((w) => w.servedBy === 'n2').length },
      committed: { n1: sys.n1.commits.length, n2: sys.n2.commits.length },
      errors: [...new Set(sys.writes.map((w) => w.error).filter(Boolean))],
    };
    console.log(JSON.stringify(line));
  }
}

describe('handover model (fast-check): random faults against real fleet gateways', () => {
  it('keeps every write on the side that owns writes, loses no acknowledged write, and never wedges a gateway', async function () {
    this.timeout(240_000);
    const numRuns = Number(process.env.NW_MODEL_RUNS ?? 40);
    const seed = Number(process.env.NW_MODEL_SEED ?? 20_260_412);
    const path = process.env.NW_MODEL_PATH;
    // The commands' own part of a counterexample: its /*replayPath="..."*/.
    const replayPath = process.env.NW_MODEL_REPLAY;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc
          .integer({ min: 2, max: 3 })
          .chain((size) =>
            fc.tuple(
              fc.constant(size),
              fc.commands([commandsFor(size)], { maxCommands: 30, size: 'max', ...(replayPath ? { replayPath } : {}) }),
            ),
          ),
        async (s, [size, cmds]) => {
          const sys = await HandoverSystem.start(s, size);
          try {
            const model: Model = { status: sys.driver.status, migrations: 0, everyMemberTagged: false };
            await fc.scheduledModelRun(s, () => ({ model, real: sys }), cmds);
            await finish(sys);
          } finally {
            await sys.close();
          }
        },
      ),
      {
        numRuns,
        seed,
        ...(path ? { path, endOnFailure: true } : {}),
        // A run that hangs fails (and shrinks) instead of timing out the whole suite.
        timeout: 30_000,
        // Shrinking real runs is slow: stop after this long and report the smallest failure found.
        interruptAfterTimeLimit: 200_000,
        markInterruptAsFailure: false,
      },
    );
  });
});

describe('handover invariants (the checks the model relies on)', () => {
  const to = (seq: number, owner: 'n1' | 'n2' | 'none'): OwnershipChange => ({ seq, owner, why: `test ${owner}` });
  // fence passed at #10, proxy written at #12, rollback fence passed at #20, rollback serve written at #22
  const handover = [to(10, 'none'), to(12, 'n2'), to(20, 'none'), to(22, 'n1')];

  it('a commit at N1 after a fence passed, or at N2 before proxy was written, is a violation', () => {
    assert.equal(ownerAt(5, handover), 'n1');
    assert.equal(ownerAt(11, handover), 'none');
    assert.equal(ownerAt(15, handover), 'n2');
    assert.equal(ownerAt(21, handover), 'none');
    assert.equal(ownerAt(25, handover), 'n1');
    const fine = [
      { writeId: 'a', side: 'n1', seq: 9 },
      { writeId: 'b', side: 'n2', seq: 13 },
      { writeId: 'c', side: 'n1', seq: 23 },
    ];
    assert.deepEqual(ownershipViolations(fine, handover), []);
    const late = ownershipViolations([{ writeId: 'x', side: 'n1', seq: 11 }], handover);
    assert.equal(late.length, 1);
    assert.match(late[0]!, /x committed at n1 \(#11\) while no side owned writes \(since #10: test none\)/);
    assert.equal(ownershipViolations([{ writeId: 'y', side: 'n1', seq: 14 }], handover).length, 1, 'N1 after N2 took writes');
    assert.equal(ownershipViolations([{ writeId: 'z', side: 'n2', seq: 3 }], handover).length, 1, 'N2 before proxy');
  });

  it('a 2xx the answering side never committed, or a write committed twice, is a violation', () => {
    const commits = [
      { writeId: 'a', side: 'n1', seq: 1 },
      { writeId: 'b', side: 'n1', seq: 2 },
      { writeId: 'b', side: 'n2', seq: 3 },
    ];
    const v = answerViolations(
      [
        { writeId: 'a', status: 200, servedBy: 'n1' },
        { writeId: 'c', status: 201, servedBy: 'n2' },
        { writeId: 'd', status: 503, servedBy: 'none' },
      ],
      commits,
    );
    assert.equal(v.length, 2);
    assert.match(v[0]!, /b committed twice/);
    assert.match(v[1]!, /c got 201 from n2 but n2 never committed it/);
  });

  it('a 2xx from N1 not carried to N2 is lost when the app ends on N2; N2 writes before a rollback are lost by design', () => {
    const commits = [
      { writeId: 'a', side: 'n1', seq: 1 },
      { writeId: 'late', side: 'n1', seq: 11 },
      { writeId: 'b', side: 'n2', seq: 13 },
    ];
    const answered = commits.map((c) => ({ writeId: c.writeId, status: 200, servedBy: c.side }));
    const onN2 = durabilityViolations(answered, commits, handover.slice(0, 2), 'n2', new Set(['a']));
    assert.equal(onN2.violations.length, 1);
    assert.match(onN2.violations[0]!, /late/);
    const back = durabilityViolations(answered.slice(0, 1).concat(answered.slice(2)), commits, handover, 'n1', new Set(['a']));
    assert.deepEqual(back, { violations: [], lostByDesign: ['b'] });
  });
});
