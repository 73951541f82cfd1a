/**
 * The lost-write checker. After a run, every key that got an acknowledged
 * write or delete is read back at N2 and compared with what must be there.
 *
 * What must be there: the effect of an acknowledged mutation that no other
 * acknowledged mutation to the key *strictly followed* (started after it
 * completed). One mutation strictly followed by another may not be the final
 * value; mutations that overlapped the last one in time may have been applied
 * in either order, so any of them is acceptable. A delete acknowledged last
 * means the key must be absent.
 *
 * A write that failed (socket error, 5xx) may or may not have been applied;
 * its value is accepted under the same rule but never required.
 */
import { isSuccess, type Sample } from '../load-model.js';

export interface Mutation {
  readonly key: string;
  readonly op: 'write' | 'delete';
  /** The value written; ignored for deletes. */
  readonly value?: string;
  /** ms since run start. */
  readonly start: number;
  readonly end: number;
}

/** One acceptable final state of a key: a value, or null for absent. */
export type ExpectedValue = string | null;

export interface LostWrite {
  readonly key: string;
  /** Every acceptable final state (one, or several when the last writes overlapped). */
  readonly expected: readonly ExpectedValue[];
  /** What N2 returned; null for absent. */
  readonly actual: ExpectedValue;
}

export interface LostWriteReport {
  /** Keys read back. */
  readonly checked: number;
  /** Keys whose last writes overlapped, so more than one final state was acceptable. */
  readonly ambiguous: number;
  readonly lost: readonly LostWrite[];
  readonly ok: boolean;
}

export interface LostWriteInput {
  /** Writes and deletes that were acknowledged (2xx/3xx). */
  readonly acknowledged: readonly Mutation[];
  /** Writes and deletes whose outcome is unknown (socket error, 5xx): accepted, never required. */
  readonly uncertain?: readonly Mutation[];
}

export interface CheckOptions {
  /** Concurrent read-backs (default 16). */
  readonly concurrency?: number;
}

const effect = (m: Mutation): ExpectedValue => (m.op === 'delete' ? null : (m.value ?? null));

/**
 * Splits a run's write/delete samples into acknowledged and uncertain
 * mutations. A 4xx is a definite rejection and is left out; a write sample
 * without a value cannot be checked and is left out too.
 */
export function mutationsFromSamples(samples: readonly Sample[]): LostWriteInput {
  const acknowledged: Mutation[] = [];
  const uncertain: Mutation[] = [];
  for (const s of samples) {
    if (s.op !== 'write' && s.op !== 'delete') continue;
    if (s.op === 'write' && s.value === undefined) continue;
    const m: Mutation = { key: s.key, op: s.op, start: s.start, end: s.end, ...(s.value !== undefined ? { value: s.value } : {}) };
    if (isSuccess(s)) acknowledged.push(m);
    else if (s.status === 0 || s.status >= 500) uncertain.push(m);
  }
  return { acknowledged, uncertain };
}

/**
 * Acceptable final states per key, for keys with at least one acknowledged
 * mutation. A mutation is a candidate iff no acknowledged mutation to the
 * key started strictly after it completed, i.e. its end ≥ the latest
 * acknowledged start.
 */
export function expectedFinalStates(input: LostWriteInput): Map<string, ExpectedValue[]> {
  const latestStart = new Map<string, number>();
  for (const m of input.acknowledged) latestStart.set(m.key, Math.max(latestStart.get(m.key) ?? -Infinity, m.start));
  const expected = new Map<string, ExpectedValue[]>();
  for (const m of [...input.acknowledged, ...(input.uncertain ?? [])]) {
    const cut = latestStart.get(m.key);
    if (cut === undefined || m.end < cut) continue;
    const list = expected.get(m.key) ?? [];
    const v = effect(m);
    if (!list.includes(v)) list.push(v);
    expected.set(m.key, list);
  }
  return expected;
}

/** Reads every key back through `readBack` (undefined = absent) and reports keys whose state is not acceptable. */
export async function checkLostWrites(
  input: LostWriteInput,
  readBack: (key: string) => Promise<string | undefined>,
  options: CheckOptions = {},
): Promise<LostWriteReport> {
  const expected = [...expectedFinalStates(input)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ambiguous = expected.filter(([, values]) => values.length > 1).length;
  const lost: LostWrite[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < expected.length) {
      const entry = expected[next++];
      if (!entry) return;
      const [key, values] = entry;
      const actual = (await readBack(key)) ?? null;
      if (!values.includes(actual)) lost.push({ key, expected: values, actual });
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 16, expected.length));
  await Promise.all(Array.from({ length: workers }, worker));
  lost.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { checked: expected.length, ambiguous, lost, ok: lost.length === 0 };
}
