import { z } from 'zod';
import type { DataMode } from '../../protocol/app-state.js';
import type { Coordinator, TransactionOp } from '../../platform/coordinator/coordinator.js';
import { ControlError, isControlError } from '../errors.js';
import type { BarrierRefusal, BarrierReport } from '../../fleet/fleet-barrier.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import type { MigrationPlan } from './plan.js';

export const PHASES = ['prepare', 'sync', 'fence', 'proxy', 'redirect', 'dns', 'done'] as const;
export type PhaseName = (typeof PHASES)[number];

export type MigrationStatus = 'running' | 'paused' | 'rolling-back' | 'done' | 'rolled-back' | 'failed';
export const TERMINAL: ReadonlySet<MigrationStatus> = new Set(['done', 'rolled-back', 'failed']);

/** One line of the phase timeline. */
export interface LogEvent {
  readonly at: string;
  readonly event:
    | 'created'
    | 'phase-started'
    | 'phase-completed'
    | 'phase-failed'
    | 'paused'
    | 'resumed'
    | 'rollback-started'
    | 'rollback-step'
    | 'rolled-back'
    | 'done'
    | 'failed'
    | 'leader'
    | 'note';
  readonly phase?: PhaseName;
  readonly durationMs?: number;
  readonly epochs?: Readonly<Record<string, number>>;
  /** `refused`: the members that refused the epochs (a failed barrier's, in the `data` of its `phase-failed` event). */
  readonly barrier?: Pick<BarrierReport, 'ok' | 'elapsedMs' | 'members' | 'missing' | 'departed'> & {
    readonly refused?: readonly BarrierRefusal[];
  };
  readonly detail?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** The persisted record of a migration: everything a new leader needs to resume it. */
export interface MigrationLog {
  readonly id: string;
  readonly plan: MigrationPlan;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly status: MigrationStatus;
  /** Phase in progress (phaseStatus 'started') or last finished ('completed'); undefined before prepare. */
  readonly phase: PhaseName | undefined;
  readonly phaseStatus: 'started' | 'completed' | undefined;
  /** Phases whose actions changed something outside the fleet that a rollback must undo. */
  readonly dnsChanged: boolean;
  /** Earliest time the DNS switch may happen (old TTL waited out). */
  readonly dnsSwitchNotBefore?: string;
  readonly dnsBefore?: readonly unknown[];
  /** Data-layer mode the sync hooks switched to (copy-on-write, cache copy); carried into fence and later phases. */
  readonly dataMode?: DataMode;
  readonly error?: { readonly code: string; readonly message: string; readonly details?: unknown };
  readonly history: readonly LogEvent[];
}

/** A change to a migration log: any field but its id and history (events are appended separately). */
export type LogChange = Partial<Omit<MigrationLog, 'id' | 'history'>>;

/** What operators ask for; written by anyone, read by the leader. */
export interface MigrationControl {
  readonly pause: boolean;
  readonly abort: boolean;
  readonly reason?: string;
  readonly updatedAt: string;
}

export const controlPath = (id: string): string => `${layout.migration(id)}/control`;

const MAX_HISTORY = 1000;

/**
 * The fields a leader, a status reply and a runner rely on before anything else of a log is read.
 * Loose: the rest (plan details, DNS snapshot, error) was validated when the leader wrote it, and
 * only the control plane's identity can write a log.
 */
const logEnvelopeSchema = z.looseObject({
  id: z.string(),
  status: z.enum(['running', 'paused', 'rolling-back', 'done', 'rolled-back', 'failed']),
  phase: z.enum(PHASES).optional(),
  phaseStatus: z.enum(['started', 'completed']).optional(),
  plan: z.looseObject({ apps: z.array(z.string()).min(1) }),
  history: z.array(z.looseObject({ at: z.string(), event: z.string() })),
});

export function parseLog(id: string, data: Buffer): MigrationLog {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new ControlError('NW_CP_MIGRATION_LOG_CORRUPT', `${id}: not JSON: ${(err as Error).message}`);
  }
  const parsed = logEnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ControlError('NW_CP_MIGRATION_LOG_CORRUPT', `${id}: ${issues}`);
  }
  if (parsed.data.id !== id) throw new ControlError('NW_CP_MIGRATION_LOG_CORRUPT', `${id}: the log names ${parsed.data.id}`);
  return raw as MigrationLog;
}

export function parseControl(data: Buffer | undefined): MigrationControl {
  if (!data || data.length === 0) return { pause: false, abort: false, updatedAt: new Date(0).toISOString() };
  try {
    const c = JSON.parse(data.toString('utf8')) as Partial<MigrationControl>;
    return {
      pause: c.pause === true,
      abort: c.abort === true,
      ...(typeof c.reason === 'string' ? { reason: c.reason } : {}),
      updatedAt: String(c.updatedAt ?? ''),
    };
  } catch {
    // An unreadable control node must not stop a migration half-way; treat as no request.
    return { pause: false, abort: false, updatedAt: '' };
  }
}

/**
 * A migration log held by the leader, with the version it last wrote. Every
 * write is a compare-and-set on that version, and every state the leader
 * writes to the fleet carries a `check` of it in the same transaction: a
 * deposed leader (paused, partitioned) cannot write anything once another
 * leader has touched the log.
 */
export class LogHandle {
  /** A change decided but not yet written: it goes out with the next state write (or the next update). */
  private staged: MigrationLog | undefined;

  private constructor(
    private readonly c: Coordinator,
    private current: MigrationLog,
    private version: number,
  ) {}

  static async open(c: Coordinator, id: string): Promise<LogHandle> {
    const node = await c.get(layout.migration(id));
    if (!node) throw new ControlError('NW_CP_MIGRATION_NOT_FOUND', id);
    return new LogHandle(c, parseLog(id, node.data), node.version);
  }

  /** The log as this leader has decided it: what was written, plus anything staged. */
  get log(): MigrationLog {
    return this.staged ?? this.current;
  }

  /** A transaction op that fails if anyone else wrote the log since we did. */
  fencingCheck(): TransactionOp {
    return { op: 'check', path: layout.migration(this.current.id), version: this.version };
  }

  private next(change: LogChange, events: readonly Omit<LogEvent, 'at'>[]): MigrationLog {
    const at = new Date().toISOString();
    const base = this.log;
    const history = [...base.history, ...events.map((e) => ({ at, ...e }))].slice(-MAX_HISTORY);
    return { ...base, ...change, updatedAt: at, history };
  }

  /**
   * Decides a change without writing it: it is written by `guard()` in the
   * transaction of the next state write (one round trip for both; the phase
   * that starts and the states it writes land together), or by the next
   * `update`. Events are stamped now.
   */
  stage(change: LogChange, ...events: Omit<LogEvent, 'at'>[]): void {
    this.staged = this.next(change, events);
  }

  /**
   * The op a state write carries to stay fenced: the staged change as a
   * compare-and-set on the version we wrote last, or (nothing staged) a check
   * of that version. Call `guardCommitted()` once the transaction succeeded.
   */
  guard(): TransactionOp {
    if (!this.staged) return this.fencingCheck();
    return { op: 'set', path: layout.migration(this.current.id), data: encodeJson(this.staged), version: this.version };
  }

  /** The transaction carrying `guard()` succeeded: a staged change is now the written log. */
  guardCommitted(): void {
    if (!this.staged) return;
    this.current = this.staged;
    this.staged = undefined;
    this.version += 1;
  }

  /** Applies a change plus events (and anything staged), persisted with CAS; throws NW_CP_NOT_LEADER if the log moved. */
  async update(change: LogChange, ...events: Omit<LogEvent, 'at'>[]): Promise<MigrationLog> {
    const next = this.next(change, events);
    try {
      this.version = await this.c.set(layout.migration(this.current.id), encodeJson(next), this.version);
    } catch (err) {
      if (isControlError(err, 'NW_CP_BAD_VERSION'))
        throw new ControlError('NW_CP_NOT_LEADER', `log of ${this.current.id} was written by someone else`);
      throw err;
    }
    this.current = next;
    this.staged = undefined;
    return next;
  }

  /** Writes a staged change now, if there is one. */
  async flush(): Promise<void> {
    if (this.staged) await this.update({});
  }

  /** Notes that a transaction including our fencing check bumped nothing but the states. */
  async reload(): Promise<void> {
    this.staged = undefined;
    const node = await this.c.get(layout.migration(this.current.id));
    if (!node) throw new ControlError('NW_CP_MIGRATION_NOT_FOUND', this.current.id);
    this.current = parseLog(this.current.id, node.data);
    this.version = node.version;
  }
}
