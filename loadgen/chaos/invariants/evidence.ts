import type { CommitEntry } from '../../reference-app/index.js';

/**
 * Everything the invariant checks read about one migration, collected after it ended and its
 * faults were healed. Plain data: the checks are pure functions over it, so they can be tested
 * with hand-made histories.
 *
 * Times are `process.hrtime.bigint()` nanoseconds as decimal strings (CLOCK_MONOTONIC, the same
 * clock in the campaign process and the app servers), as in the commit logs.
 */
export interface MigrationEvidence {
  readonly migrationId: string;
  readonly app: string;
  /** When the campaign submitted the migration: traces give times relative to it. */
  readonly originNs: string;
  readonly outcome: MigrationOutcome;
  /** The plan's `proxy.mirrorWritesToN1` (the campaign sets false: see write-order.ts). */
  readonly mirrorWritesToN1: boolean;
  /** The app servers' commit logs, only keys of this migration's app. */
  readonly commits: { readonly n1: readonly CommitEntry[]; readonly n2: readonly CommitEntry[] };
  /** Every write a campaign client sent for this app, however it ended. */
  readonly writes: readonly ClientWrite[];
  /** What each side's store holds at the end, for this app's keys. */
  readonly stores: { readonly n1: ReadonlyMap<string, string>; readonly n2: ReadonlyMap<string, string> };
  /** The coordinator tree as read once the campaign waited for dead sessions to expire. */
  readonly tree: CoordinatorSnapshot;
  /**
   * Gateway processes, control planes and the app servers' data-layer members (the Cassandra
   * variant's N1) that are running when the tree was read.
   */
  readonly live: {
    readonly gateways: readonly string[];
    readonly controlPlanes: readonly string[];
    readonly dataLayers?: readonly string[];
  };
  /** Each live gateway's admin /state for the app. */
  readonly gatewayStates: readonly GatewayAppState[];
  /** Phase events of the migration log (for traces), with times converted to the hrtime base. */
  readonly events: readonly TimedEvent[];
  /** Faults of this migration as they happened (for traces). */
  readonly faults: readonly FaultRecord[];
}

export interface MigrationOutcome {
  /** The log's status when the campaign stopped waiting ('missing' if it never found the log). */
  readonly status: 'done' | 'rolled-back' | 'failed' | 'running' | 'paused' | 'rolling-back' | 'missing';
  readonly phase: string | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
  /** From submission to the terminal status (or to when the campaign gave up). */
  readonly elapsedMs: number;
  readonly deadlineMs: number;
}

/** One write as the client saw it. */
export interface ClientWrite {
  /** Request id sent as `x-request-id` (HTTP) or the message id (WebSocket); the value written is unique too. */
  readonly id: string;
  readonly key: string;
  readonly value: string;
  readonly via: 'http' | 'ws';
  /** Which load produced it: writer, abort, slow-body, ws. */
  readonly source: string;
  readonly gateway: string;
  readonly startNs: string;
  readonly endNs: string;
  /**
   * acked: a 2xx (or a WebSocket `ok`); rejected: a 4xx (not applied); failed: a 5xx or a
   * connection error (may have been applied: a 502 after one side of a mirror took it);
   * unknown: the client left, or the socket closed, before an answer.
   */
  readonly outcome: 'acked' | 'rejected' | 'failed' | 'unknown';
  readonly status: number;
  /**
   * x-northwest-deployment, x-northwest-mode, x-northwest-epoch, x-northwest-error, x-northwest-mirrored-to when present;
   * `error` of an app's own 5xx is its JSON body's code and cause (`NW_APP_STORE_FAILED (NW_SYNC_WRITE_FAILED)`).
   */
  readonly deployment?: string | undefined;
  readonly mode?: string | undefined;
  readonly epoch?: string | undefined;
  readonly error?: string | undefined;
  readonly mirroredTo?: string | undefined;
}

/** What the tree holds under the campaign's chroot that must not outlive its owner. */
export interface CoordinatorSnapshot {
  /** Version of /apps/<app>/state (its epoch); undefined if it does not exist. */
  readonly stateEpoch: number | undefined;
  /** Content of /apps/<app>/lock, if it exists. */
  readonly lock: string | undefined;
  /** Children of /apps/<app>/acks. */
  readonly acks: readonly string[];
  /** Children of /members. */
  readonly members: readonly string[];
  /** /leader candidates: node name and the control-plane id it holds. */
  readonly leaderCandidates: ReadonlyArray<{ readonly node: string; readonly id: string }>;
  /** Every node under /datalocks/<app> (entity-group locks). */
  readonly dataLocks: readonly string[];
}

export interface GatewayAppState {
  readonly gateway: string;
  readonly epoch: number | undefined;
  readonly mode: string | undefined;
  /** Set when /state could not be read. */
  readonly error?: string;
}

export interface TimedEvent {
  readonly atNs: string;
  readonly event: string;
  readonly phase?: string | undefined;
  readonly detail?: string | undefined;
}

export interface FaultRecord {
  readonly kind: string;
  readonly target: string;
  /** As the trigger came: `fence+40ms`, or `proxy→rollback+40ms` when the migration rolled back before that phase. */
  readonly trigger: string;
  /** failed: the inject threw (detail says why). */
  readonly status: 'injected' | 'failed';
  readonly injectedNs?: string | undefined;
  readonly healedNs?: string | undefined;
  readonly detail?: string | undefined;
}

/** One broken invariant, with the evidence that shows it. */
export interface Violation {
  readonly invariant: InvariantName;
  readonly migrationId: string;
  readonly summary: string;
  /** A few lines from the commit logs, client records, coordinator tree or events, in time order where it applies. */
  readonly trace: readonly string[];
}

export type InvariantName = 'acknowledged-writes' | 'no-n1-after-n2' | 'migration-ends' | 'no-leftovers' | 'same-epoch';

export const INVARIANTS: readonly InvariantName[] = [
  'acknowledged-writes',
  'no-n1-after-n2',
  'migration-ends',
  'no-leftovers',
  'same-epoch',
];
