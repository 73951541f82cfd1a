/**
 * The DNS phase of a migration, on the DnsProvider interface only: lower the
 * TTL ahead of time, switch records in one batch, shift weighted records in
 * steps, and restore the records as they were for a rollback. Every result
 * carries ISO timestamps and millisecond durations for the migration log.
 */
import { ControlError, isControlError } from '../errors.js';
import {
  describeDnsRecord,
  dnsRecordRef,
  isAliasRecord,
  sameDnsRecord,
  systemClock,
  type DnsChange,
  type DnsChangeStatus,
  type DnsClock,
  type DnsProvider,
  type DnsRecord,
  type DnsRecordRef,
  type DnsRecordType,
  type DnsValueRecord,
} from './dns-provider.js';

/** One GetChange poll, reported to `onPoll`. */
export interface DnsPoll {
  readonly changeId: string;
  /** Last known status (unchanged when the poll was throttled). */
  readonly status: DnsChangeStatus;
  readonly throttled: boolean;
  /** Polls so far, this one included. */
  readonly polls: number;
  /** Since the batch was sent (ms). */
  readonly elapsedMs: number;
}

/** How to wait for a change to be INSYNC. */
export interface DnsWaitOptions {
  /** Give up (NW_CP_DNS_TIMEOUT) if not INSYNC this long after sending the batch (ms). */
  readonly timeoutMs: number;
  /** Interval between GetChange polls (ms, default 1000). */
  readonly pollMs?: number;
  readonly onPoll?: (poll: DnsPoll) => void;
  /** Batch comment (Route 53 ChangeBatch.Comment). */
  readonly comment?: string;
  /** Time source and sleep (default real time). */
  readonly clock?: DnsClock;
}

/** Timings of one batch from submission to INSYNC. */
export interface DnsChangeTimings {
  readonly changeId: string;
  /** When we sent the batch (our clock, ISO). */
  readonly submittedAt: string;
  /** When the provider says it accepted the batch (its clock, ISO). */
  readonly providerSubmittedAt: string;
  /** When we saw INSYNC (our clock, ISO). */
  readonly insyncAt: string;
  readonly submitToInsyncMs: number;
  /** GetChange calls made (0 if the submission already answered INSYNC). */
  readonly polls: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const noPoll = (): void => undefined;

/** Submits `changes` as one batch and polls until INSYNC. Throws NW_CP_DNS_TIMEOUT at the deadline. */
export async function switchRecords(
  provider: DnsProvider,
  zoneId: string,
  changes: readonly DnsChange[],
  options: DnsWaitOptions,
): Promise<DnsChangeTimings> {
  const { timeoutMs, pollMs = 1000, onPoll = noPoll, clock = systemClock } = options;
  if (!(pollMs > 0) || !(timeoutMs >= 0)) throw new RangeError(`pollMs must be > 0 and timeoutMs >= 0 (got ${pollMs}, ${timeoutMs})`);
  const start = clock.now();
  const submitted = await provider.submit(zoneId, changes, options.comment);
  let status = submitted.status;
  let polls = 0;
  while (status !== 'INSYNC') {
    const elapsedMs = clock.now() - start;
    if (elapsedMs >= timeoutMs) {
      throw new ControlError(
        'NW_CP_DNS_TIMEOUT',
        `change ${submitted.changeId} still ${status} ${elapsedMs} ms after submission (${polls} polls)`,
        {
          details: { changeId: submitted.changeId, submittedAt: iso(start), elapsedMs, polls },
        },
      );
    }
    await clock.sleep(Math.min(pollMs, timeoutMs - elapsedMs));
    let throttled = false;
    try {
      status = await provider.getChangeStatus(submitted.changeId);
    } catch (err) {
      // GetChange is a read: a throttled poll is retried at the next interval, within the deadline.
      if (!isControlError(err, 'NW_CP_DNS_THROTTLED')) throw err;
      throttled = true;
    }
    polls += 1;
    onPoll({ changeId: submitted.changeId, status, throttled, polls, elapsedMs: clock.now() - start });
  }
  const end = clock.now();
  return {
    changeId: submitted.changeId,
    submittedAt: iso(start),
    providerSubmittedAt: submitted.submittedAt,
    insyncAt: iso(end),
    submitToInsyncMs: end - start,
    polls,
  };
}

/** What `lowerTtl` did, and how long callers must wait before the switch. */
export interface LowerTtlResult {
  /** False if the TTL was already at or below the target. */
  readonly changed: boolean;
  /** The record as read before (a rollback snapshot). */
  readonly before: DnsValueRecord;
  readonly previousTtl: number;
  /** TTL now in force. */
  readonly ttl: number;
  /** When the UPSERT was sent (when the record was read, if unchanged). */
  readonly changedAt: string;
  readonly insyncAt: string;
  /** The UPSERT's timings; absent if unchanged. */
  readonly change?: DnsChangeTimings;
  /** insyncAt + previousTtl: resolvers may hold the old answer until then. */
  readonly mustWaitUntil: string;
  readonly mustWaitMs: number;
}

/** Lowers a record's TTL ahead of the switch so that resolvers pick up the switch quickly. */
export async function lowerTtl(
  provider: DnsProvider,
  zoneId: string,
  ref: DnsRecordRef,
  lowTtl: number,
  options: DnsWaitOptions,
): Promise<LowerTtlResult> {
  const clock = options.clock ?? systemClock;
  const before = await provider.getRecord(zoneId, ref.name, ref.type, ref.setIdentifier);
  if (before === undefined)
    throw new ControlError('NW_CP_DNS_INVALID_CHANGE', `cannot lower the TTL of ${describeDnsRecord(ref)}: it does not exist`);
  if (isAliasRecord(before))
    throw new ControlError('NW_CP_DNS_INVALID_CHANGE', `${describeDnsRecord(ref)} is an alias record: it has no TTL of its own`);
  const mustWaitMs = before.ttl * 1000;
  if (before.ttl <= lowTtl) {
    const at = clock.now();
    return {
      changed: false,
      before,
      previousTtl: before.ttl,
      ttl: before.ttl,
      changedAt: iso(at),
      insyncAt: iso(at),
      mustWaitUntil: iso(at + mustWaitMs),
      mustWaitMs,
    };
  }
  const comment = options.comment ?? `northwest: lower TTL ${before.ttl} -> ${lowTtl}`;
  const change = await switchRecords(provider, zoneId, [{ action: 'UPSERT', record: { ...before, ttl: lowTtl } }], { ...options, comment });
  const mustWaitUntil = iso(Date.parse(change.insyncAt) + mustWaitMs);
  return {
    changed: true,
    before,
    previousTtl: before.ttl,
    ttl: lowTtl,
    changedAt: change.submittedAt,
    insyncAt: change.insyncAt,
    change,
    mustWaitUntil,
    mustWaitMs,
  };
}

/** Record sets as read at one moment, for `restoreRecords`. */
export interface DnsSnapshot {
  readonly takenAt: string;
  /** `record` is absent if the set did not exist. */
  readonly entries: readonly { readonly ref: DnsRecordRef; readonly record?: DnsRecord }[];
}

/** Reads each record set (take it before the switch; a rollback restores it). */
export async function snapshotRecords(
  provider: DnsProvider,
  zoneId: string,
  refs: readonly DnsRecordRef[],
  clock: DnsClock = systemClock,
): Promise<DnsSnapshot> {
  const takenAt = iso(clock.now());
  const entries = await Promise.all(
    refs.map(async (r) => {
      const ref = dnsRecordRef(r);
      const record = await provider.getRecord(zoneId, ref.name, ref.type, ref.setIdentifier);
      return record === undefined ? { ref } : { ref, record };
    }),
  );
  return { takenAt, entries };
}

/** What `restoreRecords` changed. */
export interface RestoreResult {
  readonly upserted: readonly DnsRecordRef[];
  /** Sets that did not exist in the snapshot and were deleted. */
  readonly deleted: readonly DnsRecordRef[];
  /** Absent if everything already matched the snapshot. */
  readonly change?: DnsChangeTimings;
}

/**
 * Rollback: puts every record set of the snapshot back as it was, in one
 * batch. Deletions come first so a simple record can replace weighted ones.
 */
export async function restoreRecords(
  provider: DnsProvider,
  zoneId: string,
  snapshot: DnsSnapshot,
  options: DnsWaitOptions,
): Promise<RestoreResult> {
  const deletes: DnsChange[] = [];
  const upserts: DnsChange[] = [];
  for (const { ref, record } of snapshot.entries) {
    const current = await provider.getRecord(zoneId, ref.name, ref.type, ref.setIdentifier);
    if (record === undefined && current !== undefined) deletes.push({ action: 'DELETE', record: current });
    if (record !== undefined && (current === undefined || !sameDnsRecord(current, record))) upserts.push({ action: 'UPSERT', record });
  }
  const result = { upserted: upserts.map((c) => dnsRecordRef(c.record)), deleted: deletes.map((c) => dnsRecordRef(c.record)) };
  if (deletes.length + upserts.length === 0) return result;
  const comment = options.comment ?? `northwest: restore records as of ${snapshot.takenAt}`;
  return { ...result, change: await switchRecords(provider, zoneId, [...deletes, ...upserts], { ...options, comment }) };
}

/** One side of a weighted pair. */
export interface WeightedTarget {
  readonly setIdentifier: string;
  readonly values: readonly string[];
}

/** The weighted record pair that moves traffic from N1 to N2. */
export interface WeightedShiftSpec {
  readonly name: string;
  readonly type: DnsRecordType;
  readonly ttl: number;
  readonly n1: WeightedTarget;
  readonly n2: WeightedTarget;
}

/** One step of a weighted shift. */
export interface WeightStep extends DnsChangeTimings {
  readonly percentToN2: number;
  readonly n1Weight: number;
  readonly n2Weight: number;
  /** Time held after this step before the next one (0 after the last). */
  readonly heldMs: number;
}

/** Options of `shiftWeights`. */
export interface ShiftWeightsOptions extends DnsWaitOptions {
  /** Hold between steps (ms, default 0). */
  readonly holdMs?: number;
  /** Called once a step is INSYNC, before the hold (e.g. to persist progress). */
  readonly onStep?: (step: WeightStep) => void;
}

/** The outcome of `shiftWeights`. */
export interface ShiftWeightsResult {
  /** The record sets before the first step: pass to `restoreRecords` to roll back. */
  readonly before: DnsSnapshot;
  readonly steps: readonly WeightStep[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly totalMs: number;
}

/** The simple record and both weighted sets of a shift: snapshot these before shifting. */
export function weightedRecordRefs(spec: WeightedShiftSpec): DnsRecordRef[] {
  const { name, type } = spec;
  return [
    { name, type },
    { name, type, setIdentifier: spec.n1.setIdentifier },
    { name, type, setIdentifier: spec.n2.setIdentifier },
  ].map(dnsRecordRef);
}

/**
 * Moves traffic to N2 in steps (percent of weight on N2, e.g. [10, 50, 100]),
 * one batch per step. A simple record of the same name and type is deleted in
 * the first batch, since Route 53 cannot mix simple and weighted records.
 */
export async function shiftWeights(
  provider: DnsProvider,
  zoneId: string,
  spec: WeightedShiftSpec,
  steps: readonly number[],
  options: ShiftWeightsOptions,
): Promise<ShiftWeightsResult> {
  const { holdMs = 0, onStep = noPoll, clock = systemClock } = options;
  if (steps.length === 0 || steps.some((p) => !Number.isInteger(p) || p < 0 || p > 100)) {
    throw new RangeError(`steps must be integer percentages 0-100, got ${JSON.stringify(steps)}`);
  }
  const startMs = clock.now();
  const before = await snapshotRecords(provider, zoneId, weightedRecordRefs(spec), clock);
  const simple = before.entries[0]?.record;
  const done: WeightStep[] = [];
  for (const [i, percentToN2] of steps.entries()) {
    const n1Weight = 100 - percentToN2;
    const n2Weight = percentToN2;
    const weighted = (target: WeightedTarget, weight: number): DnsChange => ({
      action: 'UPSERT',
      record: { name: spec.name, type: spec.type, ttl: spec.ttl, values: target.values, setIdentifier: target.setIdentifier, weight },
    });
    const changes = [weighted(spec.n1, n1Weight), weighted(spec.n2, n2Weight)];
    if (i === 0 && simple !== undefined) changes.unshift({ action: 'DELETE', record: simple });
    const comment = options.comment ?? `northwest: shift ${percentToN2}% to ${spec.n2.setIdentifier}`;
    const timings = await switchRecords(provider, zoneId, changes, { ...options, comment });
    const heldMs = i < steps.length - 1 ? holdMs : 0;
    const step = { ...timings, percentToN2, n1Weight, n2Weight, heldMs };
    done.push(step);
    onStep(step);
    if (heldMs > 0) await clock.sleep(heldMs);
  }
  const endMs = clock.now();
  return { before, steps: done, startedAt: iso(startMs), finishedAt: iso(endMs), totalMs: endMs - startMs };
}
