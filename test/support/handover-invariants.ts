/**
 * The handover's safety invariants, judged from what the app servers
 * committed (not from response headers) against when the control plane's
 * fence barriers passed. Pure functions over the logs, so they are tested on
 * their own and the model test only gathers the logs.
 */
import type { Deployment } from '../../protocol/app-state.js';
import type { Commit } from './commit-log-app.js';
import type { OwnershipChange } from './handover-driver.js';

/** A write a client got an answer for. */
export interface AnsweredWrite {
  readonly writeId: string;
  readonly status: number;
  /** x-northwest-deployment of the answer. */
  readonly servedBy: string;
}

/** The last ownership change before `seq` (undefined: none yet, N1 owns writes). */
function changeBefore(seq: number, changes: readonly OwnershipChange[]): OwnershipChange | undefined {
  let last: OwnershipChange | undefined;
  for (const c of changes) if (c.seq < seq) last = c;
  return last;
}

/** Which side may commit writes at `seq` ('none' between a passed fence and the next state that sends writes somewhere). */
export function ownerAt(seq: number, changes: readonly OwnershipChange[]): Deployment | 'none' {
  return changeBefore(seq, changes)?.owner ?? 'n1';
}

/**
 * No write commits at a side that does not own writes: only N1 until a fence barrier passed,
 * nobody from then until proxy is written, only N2 after that (so no write commits at N1 after
 * the first one committed at N2), and the same back to N1 through a rollback fence.
 */
export function ownershipViolations(commits: readonly Commit[], changes: readonly OwnershipChange[]): string[] {
  const out: string[] = [];
  for (const c of commits) {
    const since = changeBefore(c.seq, changes);
    const owner = since?.owner ?? 'n1';
    if (c.side !== owner) {
      out.push(
        `write ${c.writeId} committed at ${c.side} (#${c.seq}) while ${owner === 'none' ? 'no side' : owner} owned writes` +
          (since ? ` (since #${since.seq}: ${since.why})` : ''),
      );
    }
  }
  return out;
}

/** Every 2xx a client got was committed at the side that answered, and no write was committed twice. */
export function answerViolations(answered: readonly AnsweredWrite[], commits: readonly Commit[]): string[] {
  const out: string[] = [];
  const bySide = new Map<string, Set<string>>();
  const seen = new Map<string, Commit>();
  for (const c of commits) {
    const prior = seen.get(c.writeId);
    if (prior) out.push(`write ${c.writeId} committed twice: at ${prior.side} (#${prior.seq}) and at ${c.side} (#${c.seq})`);
    seen.set(c.writeId, c);
    const set = bySide.get(c.side) ?? new Set<string>();
    set.add(c.writeId);
    bySide.set(c.side, set);
  }
  for (const a of answered) {
    if (a.status < 200 || a.status > 299) continue;
    if (!bySide.get(a.servedBy)?.has(a.writeId))
      out.push(`write ${a.writeId} got ${a.status} from ${a.servedBy} but ${a.servedBy} never committed it`);
  }
  return out;
}

/**
 * At the end: every write a client got a 2xx for is in the data of the side the app ended on —
 * that side's own commits, plus (for N2) what a passed fence carried over from N1. Writes N2
 * answered before a rollback fence passed are lost by design with `mirrorWritesToN1: false`
 * (docs/architecture.md, "The safety argument"); they are returned, not reported.
 */
export function durabilityViolations(
  answered: readonly AnsweredWrite[],
  commits: readonly Commit[],
  changes: readonly OwnershipChange[],
  finalSide: Deployment,
  carriedToN2: ReadonlySet<string>,
): { violations: string[]; lostByDesign: string[] } {
  const data = new Set(commits.filter((c) => c.side === finalSide).map((c) => c.writeId));
  if (finalSide === 'n2') for (const id of carriedToN2) data.add(id);
  const commitOf = new Map(commits.map((c) => [c.writeId, c]));
  const violations: string[] = [];
  const lostByDesign: string[] = [];
  for (const a of answered) {
    if (a.status < 200 || a.status > 299 || data.has(a.writeId)) continue;
    const c = commitOf.get(a.writeId);
    if (c?.side === 'n2' && changes.some((o) => o.owner === 'n1' && o.seq > c.seq)) {
      lostByDesign.push(a.writeId);
      continue;
    }
    violations.push(
      `write ${a.writeId} (2xx from ${a.servedBy}, committed ${c ? `at ${c.side} #${c.seq}` : 'nowhere'}) ` +
        `is not in ${finalSide}'s data at the end`,
    );
  }
  return { violations, lostByDesign };
}
