// The in-memory DNS provider's Route 53 semantics, and the DNS cutover operations run against it
// with an injected clock (no real waiting, no timing thresholds).
import { strict as assert } from 'node:assert';
import { CONTROL_ERRORS, ControlError, isControlError, type ControlErrorCode } from '../../controlplane/errors.js';
import type { DnsChange, DnsClock, DnsProvider, DnsRecord, DnsValueRecord } from '../../controlplane/dns/dns-provider.js';
import { MemoryDnsProvider } from '../../controlplane/dns/memory-dns-provider.js';
import {
  lowerTtl,
  restoreRecords,
  shiftWeights,
  snapshotRecords,
  switchRecords,
  weightedRecordRefs,
  type DnsPoll,
  type WeightStep,
} from '../../controlplane/dns/dns-cutover.js';

const START = Date.parse('2030-01-01T00:00:00.000Z');

/** A clock whose sleep advances time instead of waiting. */
function manualClock(): DnsClock & { advance(ms: number): void } {
  let now = START;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: ControlErrorCode): Promise<ControlError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isControlError(err, code), `expected ${code}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

const ZONE = 'shop.example.';
const N1 = '192.0.2.1';
const N2 = '198.51.100.2';
const app = (values: string[] = [N1], ttl = 300): DnsValueRecord => ({ name: `app.${ZONE}`, type: 'A', ttl, values });

function setup(propagationMs = 0): { dns: MemoryDnsProvider; zoneId: string; clock: ReturnType<typeof manualClock> } {
  const clock = manualClock();
  const dns = new MemoryDnsProvider({ propagationMs, clock });
  return { dns, zoneId: dns.createZone(ZONE), clock };
}

describe('controlplane/dns: error codes', () => {
  it('has the DNS codes with their statuses', () => {
    const expected: Partial<Record<ControlErrorCode, number>> = {
      NW_CP_DNS_ZONE_NOT_FOUND: 404,
      NW_CP_DNS_INVALID_CHANGE: 400,
      NW_CP_DNS_THROTTLED: 503,
      NW_CP_DNS_TIMEOUT: 504,
      NW_CP_DNS_ERROR: 502,
    };
    for (const [code, status] of Object.entries(expected)) {
      assert.equal(CONTROL_ERRORS[code as ControlErrorCode].status, status, code);
    }
    const messages = Object.keys(expected).map((code) => CONTROL_ERRORS[code as ControlErrorCode].message);
    assert.equal(new Set(messages).size, messages.length, 'every DNS code has its own message');
  });
});

describe('controlplane/dns: MemoryDnsProvider', () => {
  it('creates and reads a record, normalising the name', async () => {
    const { dns, zoneId } = setup();
    const result = await dns.submit(zoneId, [
      { action: 'CREATE', record: { name: 'App.Shop.Example', type: 'A', ttl: 300, values: [N1] } },
    ]);
    assert.equal(result.status, 'INSYNC');
    assert.equal(result.submittedAt, new Date(START).toISOString());
    assert.deepEqual(await dns.getRecord(zoneId, 'app.shop.example', 'A'), app());
    assert.equal(await dns.getRecord(zoneId, `app.${ZONE}`, 'AAAA'), undefined);
  });

  it('refuses to CREATE a record that exists', async () => {
    const { dns, zoneId } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    await rejectsWith(dns.submit(zoneId, [{ action: 'CREATE', record: app([N2]) }]), 'NW_CP_DNS_INVALID_CHANGE');
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app());
  });

  it('DELETEs only a record that matches exactly (value order aside)', async () => {
    const { dns, zoneId } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app([N1, N2]) }]);
    await rejectsWith(dns.submit(zoneId, [{ action: 'DELETE', record: { ...app(), name: `nope.${ZONE}` } }]), 'NW_CP_DNS_INVALID_CHANGE');
    await rejectsWith(dns.submit(zoneId, [{ action: 'DELETE', record: app([N1, N2], 60) }]), 'NW_CP_DNS_INVALID_CHANGE');
    await rejectsWith(dns.submit(zoneId, [{ action: 'DELETE', record: app([N1]) }]), 'NW_CP_DNS_INVALID_CHANGE');
    await dns.submit(zoneId, [{ action: 'DELETE', record: app([N2, N1]) }]);
    assert.equal(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), undefined);
  });

  it('applies a batch atomically: one bad change and nothing changes', async () => {
    const { dns, zoneId } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    const batch: DnsChange[] = [
      { action: 'UPSERT', record: app([N2]) },
      { action: 'CREATE', record: { name: `new.${ZONE}`, type: 'A', ttl: 60, values: [N2] } },
      { action: 'DELETE', record: { name: `missing.${ZONE}`, type: 'A', ttl: 60, values: [N1] } },
    ];
    await rejectsWith(dns.submit(zoneId, batch), 'NW_CP_DNS_INVALID_CHANGE');
    assert.deepEqual(dns.listRecords(zoneId), [app()]);
  });

  it('applies changes in order within a batch (DELETE then CREATE of the same record)', async () => {
    const { dns, zoneId } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    await dns.submit(zoneId, [
      { action: 'DELETE', record: app() },
      { action: 'CREATE', record: app([N2], 5) },
    ]);
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app([N2], 5));
  });

  it('rejects records Route 53 would reject', async () => {
    const { dns, zoneId } = setup();
    const bad: DnsRecord[] = [
      { name: 'app.elsewhere.example.', type: 'A', ttl: 60, values: [N1] },
      { name: `app.${ZONE}`, type: 'A', ttl: 60, values: ['not-an-ip'] },
      { name: `app.${ZONE}`, type: 'AAAA', ttl: 60, values: [N1] },
      { name: `app.${ZONE}`, type: 'A', ttl: -1, values: [N1] },
      { name: `app.${ZONE}`, type: 'A', ttl: 60, values: [] },
      { name: `app.${ZONE}`, type: 'A', ttl: 60, values: [N1], weight: 10 },
      { name: `app.${ZONE}`, type: 'A', ttl: 60, values: [N1], setIdentifier: 'n1', weight: 256 },
      { name: `app.${ZONE}`, type: 'CNAME', ttl: 60, values: ['a.example.', 'b.example.'] },
      { name: ZONE, type: 'CNAME', ttl: 60, values: ['a.example.'] },
    ];
    for (const record of bad) {
      await rejectsWith(dns.submit(zoneId, [{ action: 'UPSERT', record }]), 'NW_CP_DNS_INVALID_CHANGE');
    }
    await rejectsWith(dns.submit(zoneId, []), 'NW_CP_DNS_INVALID_CHANGE');
    assert.deepEqual(dns.listRecords(zoneId), []);
  });

  it('does not mix simple and weighted sets, nor CNAME with other types, at one name', async () => {
    const { dns, zoneId } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    await rejectsWith(
      dns.submit(zoneId, [{ action: 'CREATE', record: { ...app(), setIdentifier: 'n1', weight: 50 } }]),
      'NW_CP_DNS_INVALID_CHANGE',
    );
    await rejectsWith(
      dns.submit(zoneId, [{ action: 'CREATE', record: { name: `app.${ZONE}`, type: 'CNAME', ttl: 60, values: ['n2.example.'] } }]),
      'NW_CP_DNS_INVALID_CHANGE',
    );
  });

  it('keeps weighted sets and alias records', async () => {
    const { dns, zoneId } = setup();
    const n1: DnsRecord = { name: `w.${ZONE}`, type: 'A', ttl: 5, values: [N1], setIdentifier: 'n1', weight: 90 };
    const n2: DnsRecord = { name: `w.${ZONE}`, type: 'A', ttl: 5, values: [N2], setIdentifier: 'n2', weight: 10 };
    const alias: DnsRecord = {
      name: `www.${ZONE}`,
      type: 'A',
      alias: { hostedZoneId: zoneId, dnsName: `w.${ZONE}`, evaluateTargetHealth: false },
    };
    await dns.submit(zoneId, [
      { action: 'CREATE', record: n1 },
      { action: 'CREATE', record: n2 },
      { action: 'CREATE', record: alias },
    ]);
    assert.deepEqual(await dns.getRecord(zoneId, `w.${ZONE}`, 'A', 'n2'), n2);
    assert.deepEqual(await dns.getRecord(zoneId, `w.${ZONE}`, 'A', 'n1'), n1);
    assert.equal(await dns.getRecord(zoneId, `w.${ZONE}`, 'A'), undefined);
    assert.deepEqual(await dns.getRecord(zoneId, `www.${ZONE}`, 'A'), alias);
  });

  it('answers NW_CP_DNS_ZONE_NOT_FOUND for an unknown zone', async () => {
    const { dns } = setup();
    await rejectsWith(dns.getRecord('ZNOSUCHZONE', `app.${ZONE}`, 'A'), 'NW_CP_DNS_ZONE_NOT_FOUND');
    await rejectsWith(dns.submit('/hostedzone/ZNOSUCHZONE', [{ action: 'UPSERT', record: app() }]), 'NW_CP_DNS_ZONE_NOT_FOUND');
  });

  it('keeps a change PENDING until propagationMs has passed', async () => {
    const { dns, zoneId, clock } = setup(30_000);
    const { changeId, status } = await dns.submit(zoneId, [{ action: 'UPSERT', record: app() }]);
    assert.equal(status, 'PENDING');
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app(), 'the API shows the change at once');
    clock.advance(29_999);
    assert.equal(await dns.getChangeStatus(changeId), 'PENDING');
    clock.advance(1);
    assert.equal(await dns.getChangeStatus(changeId), 'INSYNC');
    await rejectsWith(dns.getChangeStatus('/change/NOSUCH'), 'NW_CP_DNS_ERROR');
  });
});

describe('controlplane/dns: cutover on the memory provider', () => {
  it('switchRecords polls until INSYNC and reports the timings', async () => {
    const { dns, zoneId, clock } = setup(5_000);
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    clock.advance(10_000);
    const polls: DnsPoll[] = [];
    const submittedAt = new Date(clock.now()).toISOString();
    const t = await switchRecords(dns, zoneId, [{ action: 'UPSERT', record: app([N2], 5) }], {
      pollMs: 1_000,
      timeoutMs: 60_000,
      clock,
      onPoll: (p) => polls.push(p),
    });
    assert.equal(t.submittedAt, submittedAt);
    assert.equal(t.providerSubmittedAt, submittedAt);
    assert.equal(t.submitToInsyncMs, 5_000);
    assert.equal(t.insyncAt, new Date(Date.parse(submittedAt) + 5_000).toISOString());
    assert.equal(t.polls, 5);
    assert.deepEqual(
      polls.map((p) => [p.polls, p.status, p.elapsedMs]),
      [
        [1, 'PENDING', 1_000],
        [2, 'PENDING', 2_000],
        [3, 'PENDING', 3_000],
        [4, 'PENDING', 4_000],
        [5, 'INSYNC', 5_000],
      ],
    );
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app([N2], 5));
  });

  it('switchRecords needs no poll when the submission is already INSYNC', async () => {
    const { dns, zoneId, clock } = setup(0);
    const t = await switchRecords(dns, zoneId, [{ action: 'UPSERT', record: app() }], { timeoutMs: 1_000, clock });
    assert.equal(t.polls, 0);
    assert.equal(t.submitToInsyncMs, 0);
  });

  it('switchRecords fails with NW_CP_DNS_TIMEOUT at the deadline, naming the change', async () => {
    const { dns, zoneId, clock } = setup(60_000);
    const err = await rejectsWith(
      switchRecords(dns, zoneId, [{ action: 'UPSERT', record: app() }], { pollMs: 1_000, timeoutMs: 10_500, clock }),
      'NW_CP_DNS_TIMEOUT',
    );
    assert.equal(err.status, 504);
    assert.match(String(err.details?.changeId), /^\/change\//);
    assert.equal(err.details?.elapsedMs, 10_500);
    assert.equal(err.details?.polls, 11);
  });

  it('switchRecords rides out a throttled poll', async () => {
    const { dns, zoneId, clock } = setup(2_000);
    let throttles = 1;
    const flaky: DnsProvider = {
      kind: 'memory',
      getRecord: (...args) => dns.getRecord(...args),
      submit: (...args) => dns.submit(...args),
      getChangeStatus: async (id) => {
        if (throttles-- > 0) throw new ControlError('NW_CP_DNS_THROTTLED', 'Throttling');
        return dns.getChangeStatus(id);
      },
    };
    const polls: DnsPoll[] = [];
    const t = await switchRecords(flaky, zoneId, [{ action: 'UPSERT', record: app() }], {
      pollMs: 1_000,
      timeoutMs: 10_000,
      clock,
      onPoll: (p) => polls.push(p),
    });
    assert.deepEqual(
      polls.map((p) => [p.status, p.throttled]),
      [
        ['PENDING', true],
        ['INSYNC', false],
      ],
    );
    assert.equal(t.polls, 2);
  });

  it('lowerTtl upserts the lower TTL and says to wait out the old one', async () => {
    const { dns, zoneId, clock } = setup(2_000);
    await dns.submit(zoneId, [{ action: 'CREATE', record: app() }]);
    clock.advance(2_000);
    const r = await lowerTtl(dns, zoneId, { name: `app.${ZONE}`, type: 'A' }, 5, { pollMs: 500, timeoutMs: 10_000, clock });
    assert.equal(r.changed, true);
    assert.equal(r.previousTtl, 300);
    assert.equal(r.ttl, 5);
    assert.deepEqual(r.before, app());
    assert.equal(r.change?.polls, 4);
    assert.equal(Date.parse(r.insyncAt) - Date.parse(r.changedAt), 2_000);
    assert.equal(r.mustWaitMs, 300_000);
    assert.equal(Date.parse(r.mustWaitUntil) - Date.parse(r.insyncAt), 300_000);
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app([N1], 5));
  });

  it('lowerTtl leaves a low enough TTL alone', async () => {
    const { dns, zoneId, clock } = setup();
    await dns.submit(zoneId, [{ action: 'CREATE', record: app([N1], 5) }]);
    const r = await lowerTtl(dns, zoneId, { name: `app.${ZONE}`, type: 'A' }, 60, { timeoutMs: 1_000, clock });
    assert.equal(r.changed, false);
    assert.equal(r.change, undefined);
    assert.equal(r.previousTtl, 5);
    assert.equal(Date.parse(r.mustWaitUntil) - Date.parse(r.insyncAt), 5_000);
  });

  it('lowerTtl refuses a missing record and an alias record', async () => {
    const { dns, zoneId, clock } = setup();
    await rejectsWith(
      lowerTtl(dns, zoneId, { name: `app.${ZONE}`, type: 'A' }, 5, { timeoutMs: 1_000, clock }),
      'NW_CP_DNS_INVALID_CHANGE',
    );
    await dns.submit(zoneId, [
      {
        action: 'CREATE',
        record: { name: `www.${ZONE}`, type: 'A', alias: { hostedZoneId: zoneId, dnsName: `app.${ZONE}`, evaluateTargetHealth: false } },
      },
    ]);
    await rejectsWith(
      lowerTtl(dns, zoneId, { name: `www.${ZONE}`, type: 'A' }, 5, { timeoutMs: 1_000, clock }),
      'NW_CP_DNS_INVALID_CHANGE',
    );
  });

  it('restoreRecords puts back the records as read before the switch', async () => {
    const { dns, zoneId, clock } = setup(1_000);
    await dns.submit(zoneId, [{ action: 'CREATE', record: app([N1], 5) }]);
    const before = await snapshotRecords(dns, zoneId, [{ name: `app.${ZONE}`, type: 'A' }], clock);
    await switchRecords(dns, zoneId, [{ action: 'UPSERT', record: app([N2], 5) }], { timeoutMs: 10_000, clock });
    const restored = await restoreRecords(dns, zoneId, before, { timeoutMs: 10_000, clock });
    assert.deepEqual(restored.upserted, [{ name: `app.${ZONE}`, type: 'A' }]);
    assert.deepEqual(restored.deleted, []);
    assert.equal(restored.change?.submitToInsyncMs, 1_000);
    assert.deepEqual(await dns.getRecord(zoneId, `app.${ZONE}`, 'A'), app([N1], 5));
    const again = await restoreRecords(dns, zoneId, before, { timeoutMs: 10_000, clock });
    assert.equal(again.change, undefined, 'nothing to restore, no batch');
  });

  it('shiftWeights moves a simple record to weighted sets step by step, and restoreRecords undoes it', async () => {
    const { dns, zoneId, clock } = setup(3_000);
    await dns.submit(zoneId, [{ action: 'CREATE', record: app([N1], 5) }]);
    const spec = {
      name: `app.${ZONE}`,
      type: 'A' as const,
      ttl: 5,
      n1: { setIdentifier: 'n1', values: [N1] },
      n2: { setIdentifier: 'n2', values: [N2] },
    };
    const seen: WeightStep[] = [];
    const weightsAtStep: [number | undefined, number | undefined][] = [];
    const probe: DnsProvider = {
      kind: 'memory',
      getRecord: (...args) => dns.getRecord(...args),
      getChangeStatus: (id) => dns.getChangeStatus(id),
      submit: async (...args) => {
        const out = await dns.submit(...args);
        const [n1, n2] = await Promise.all([dns.getRecord(zoneId, spec.name, 'A', 'n1'), dns.getRecord(zoneId, spec.name, 'A', 'n2')]);
        weightsAtStep.push([n1?.weight, n2?.weight]);
        return out;
      },
    };
    const result = await shiftWeights(probe, zoneId, spec, [10, 50, 100], {
      pollMs: 1_000,
      timeoutMs: 10_000,
      holdMs: 30_000,
      clock,
      onStep: (s) => seen.push(s),
    });
    assert.deepEqual(weightsAtStep, [
      [90, 10],
      [50, 50],
      [0, 100],
    ]);
    assert.deepEqual(
      result.steps.map((s) => [s.percentToN2, s.n1Weight, s.n2Weight, s.heldMs, s.submitToInsyncMs, s.polls]),
      [
        [10, 90, 10, 30_000, 3_000, 3],
        [50, 50, 50, 30_000, 3_000, 3],
        [100, 0, 100, 0, 3_000, 3],
      ],
    );
    assert.deepEqual(seen, result.steps);
    assert.equal(result.totalMs, 3 * 3_000 + 2 * 30_000);
    assert.equal(Date.parse(result.finishedAt) - Date.parse(result.startedAt), result.totalMs);
    assert.equal(await dns.getRecord(zoneId, spec.name, 'A'), undefined, 'the simple record made way for the weighted sets');
    assert.deepEqual(
      result.before.entries.map((e) => e.record),
      [app([N1], 5), undefined, undefined],
    );

    const restored = await restoreRecords(dns, zoneId, result.before, { timeoutMs: 10_000, clock });
    assert.deepEqual(
      restored.deleted.map((r) => r.setIdentifier),
      ['n1', 'n2'],
    );
    assert.deepEqual(dns.listRecords(zoneId), [app([N1], 5)]);
  });

  it('shiftWeights refuses steps that are not percentages', async () => {
    const { dns, zoneId, clock } = setup();
    const spec = {
      name: `app.${ZONE}`,
      type: 'A' as const,
      ttl: 5,
      n1: { setIdentifier: 'n1', values: [N1] },
      n2: { setIdentifier: 'n2', values: [N2] },
    };
    for (const steps of [[], [10, 150], [12.5]]) {
      await assert.rejects(shiftWeights(dns, zoneId, spec, steps, { timeoutMs: 1_000, clock }), RangeError);
    }
    assert.deepEqual(
      weightedRecordRefs(spec).map((r) => r.setIdentifier),
      [undefined, 'n1', 'n2'],
    );
  });
});
