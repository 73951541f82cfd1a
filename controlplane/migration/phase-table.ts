import { PHASES, type PhaseName } from './migration-log.js';
import { dns } from './phases/dns.js';
import { done } from './phases/done.js';
import { fence } from './phases/fence.js';
import type { Phase } from './phases/phase.js';
import { prepare } from './phases/prepare.js';
import { proxy } from './phases/proxy.js';
import { redirect } from './phases/redirect.js';
import { ROLLBACK_BEFORE_ANY_PHASE, type RollbackStep } from './phases/rollback.js';
import { sync } from './phases/sync.js';

/**
 * Every phase of a migration, by name: what it writes, whether it starts
 * with its flip, whether N2 may take writes, what a rollback from it does,
 * and its work (one file each under phases/). The order they run in is the
 * log's (PHASES); the type asks for exactly one entry per phase name.
 */
export const PHASE_TABLE: { readonly [N in PhaseName]: Phase<N> } = { prepare, sync, fence, proxy, redirect, dns, done };

/** The phase to run after `phase` (the first one when none has started); undefined after the last. */
export function phaseAfter(phase: PhaseName | undefined): PhaseName | undefined {
  return phase === undefined ? PHASES[0] : PHASES[PHASES.indexOf(phase) + 1];
}

/** The steps of a rollback from where the log stands (the phase in progress or last completed). */
export function rollbackSteps(phase: PhaseName | undefined): readonly RollbackStep[] {
  return phase === undefined ? ROLLBACK_BEFORE_ANY_PHASE : PHASE_TABLE[phase].rollback;
}
