import { type Client, type QueryOptions, types } from 'cassandra-driver';
import type { Logger } from '../../platform/logger.js';
import type { DataMode } from '../../protocol/app-state.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import type { DataModeTarget } from './data-mode-target.js';
import type { AckReports } from '../../fleet/state-follower.js';
import { SyncError } from '../errors.js';
import { readError, writeError, type Cluster } from './cluster-errors.js';
import { acquireEntityGroupLock } from './entity-group-lock.js';
import { processWriteTimestamps, type WriteTimestampGenerator } from './write-timestamp.js';

export type { Cluster } from './cluster-errors.js';
export type DatastoreMode = DataMode['datastore'];

/** Bound parameters as the driver takes them. */
export type CqlParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/** One statement of a batch or transaction. */
export interface CqlStatement {
  readonly query: string;
  readonly params?: CqlParams;
}

/** What a write did: its client-side timestamp (µs), the clusters that hold it, and how often it was re-sent after a mode switch. */
export interface WriteResult {
  readonly timestamp: number;
  readonly clusters: readonly Cluster[];
  readonly retries: number;
}

/** What the layer is about to send a write to; the test hook gets it. */
export interface SendInfo {
  readonly cluster: Cluster;
  readonly timestamp: number;
  /** 0 for the first send of a write, n for its n-th re-send after a mode switch. */
  readonly attempt: number;
}

export interface CassandraDataLayerOptions {
  /** The app server's own cluster (N1 before the handover). The caller owns it (connects and shuts it down). */
  readonly local: Client;
  /** N2's cluster; required for 'copy-on-write' and 'n2'. */
  readonly n2?: Client;
  /** How often a write that straddles mode switches is re-sent before NW_SYNC_WRITE_RETRIES_EXHAUSTED (default 3). */
  readonly maxRetries?: number;
  /** Entity-group locks for transaction(); without it transaction() throws NW_SYNC_CONFIG_INVALID. */
  readonly locks?: { readonly coordinator: Coordinator; readonly app: string; readonly timeoutMs?: number };
  /** Defaults to the process-wide generator. */
  readonly timestamps?: WriteTimestampGenerator;
  readonly logger?: Logger;
  /** Runs before every send of a write to one cluster (tests delay sends with it). */
  readonly beforeSend?: (info: SendInfo) => Promise<void> | void;
  /** Mode in force before the first apply (default 'local'). */
  readonly initialMode?: DatastoreMode;
  /** Checked before every write, batch and transaction; a returned error refuses it (DataLayerMember.writeGuard(app): lease fencing). */
  readonly writeGuard?: () => SyncError | undefined;
}

/** Clusters a write must reach in a mode. */
export function writeTargets(mode: DatastoreMode): readonly Cluster[] {
  return mode === 'local' || mode === 'each-quorum' ? ['local'] : mode === 'n2' ? ['n2'] : ['local', 'n2'];
}

/**
 * The options a write is sent with in a mode: in 'each-quorum' the consistency is EACH_QUORUM
 * whatever the caller asked (a quorum of every datacenter acknowledges it, so no acknowledged
 * write is still on its way to N2's datacenter); otherwise the caller's.
 */
export function writeOptions(mode: DatastoreMode, options: QueryOptions): QueryOptions {
  return mode === 'each-quorum' ? { ...options, consistency: types.consistencies.eachQuorum } : options;
}

interface InFlight {
  /** Mode generation the write started in; apply() to a later generation waits for it. */
  readonly generation: number;
  readonly done: Promise<unknown>;
}

/**
 * The datastore access an app server uses during a migration (a DataModeTarget
 * named 'datastore'). Reads go to the local cluster, or to N2 in mode 'n2'.
 * Writes, deletes and batches carry one client-side write timestamp and go to
 * the local cluster; in 'copy-on-write' also to N2, in parallel, and succeed
 * only if both do; in 'n2' only to N2; in 'each-quorum' to the local cluster at
 * EACH_QUORUM (N2 a datacenter of the same cluster). With the same timestamp on both sides,
 * Cassandra's last-write-wins makes re-sends and the parallel snapshot copy
 * harmless.
 *
 * A write that completes after a mode switch is re-sent (same timestamp) to
 * the clusters the new mode requires that it has not reached, up to
 * `maxRetries` times; apply() resolves only once every write started under an
 * older mode has finished, re-sends included. So once a member acks a switch
 * to 'copy-on-write', no write can still commit at the local cluster only.
 */
export class CassandraDataLayer implements DataModeTarget {
  readonly name = 'datastore';
  private current: DatastoreMode;
  private generation = 0;
  private epoch = -1;
  private closed = false;
  private readonly inflight = new Set<InFlight>();
  private readonly maxRetries: number;
  private readonly timestamps: WriteTimestampGenerator;
  private readonly counters = { writes: 0, retried: 0, exhausted: 0 };
  /** The mode in force since: the epoch this process entered it with, the last timestamp handed out before, failed writes under it. */
  private modeSince = { sinceEpoch: -1, writesThroughUs: 0, failures: 0 };

  constructor(private readonly opts: CassandraDataLayerOptions) {
    this.maxRetries = opts.maxRetries ?? 3;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0)
      throw new SyncError('NW_SYNC_CONFIG_INVALID', `maxRetries must be a non-negative integer, got ${this.maxRetries}`);
    this.timestamps = opts.timestamps ?? processWriteTimestamps;
    this.current = opts.initialMode ?? 'local';
    if (this.current !== 'local' && this.current !== 'each-quorum' && !opts.n2)
      throw new SyncError('NW_SYNC_CONFIG_INVALID', `initialMode ${this.current} needs an N2 client`);
  }

  /** The datastore mode in force. */
  get mode(): DatastoreMode {
    return this.current;
  }

  /** Figures for status pages and tests. */
  stats(): { mode: DatastoreMode; epoch: number; inFlight: number; writes: number; retried: number; exhausted: number } {
    return { mode: this.current, epoch: this.epoch, inFlight: 0, ...this.counters };
  }

  /**
   * Switches to `mode.datastore` (a no-op if it is in force or `epoch` is older
   * than one applied before) and resolves once no write started under an
   * older mode is still running.
   */
  async apply(mode: DataMode, epoch: number): Promise<void> {
    this.assertOpen();
    if (epoch < this.epoch) return;
    const next = mode.datastore;
    if (next !== 'local' && next !== 'each-quorum' && !this.opts.n2)
      throw new SyncError('NW_SYNC_CONFIG_INVALID', `datastore mode ${next} needs an N2 client`);
    if (next !== this.current || this.epoch < 0) {
      // Every write sent under the old mode had its timestamp by now: at or below this one.
      this.modeSince = { sinceEpoch: epoch, writesThroughUs: this.timestamps.peek(), failures: 0 };
    }
    if (next !== this.current) {
      this.opts.logger?.info('sync.datastore.mode', { from: this.current, to: next, epoch });
      this.current = next;
      this.generation += 1;
    }
    this.epoch = epoch;
    await this.drain(this.generation);
  }

  /**
   * For the member's ack, read after `apply` resolved: the mode in force, since which epoch this
   * process has been in it, the last timestamp handed out before it entered the mode, and how
   * many writes sent under it failed since (at EACH_QUORUM: one that may have reached N1's
   * datacenter only, which no digest can tell from a write N2's datacenter missed), and how many
   * are still running (their outcome not known yet).
   */
  ackReport(): AckReports {
    if (this.modeSince.sinceEpoch < 0) return {};
    // After apply: every write still running was started under the mode in force.
    return { datastore: { mode: this.current, ...this.modeSince, inFlight: this.inflight.size } };
  }

  /** Runs a read where the mode says reads go (local, or N2 in 'n2'). */
  async read(query: string, params?: CqlParams, options: QueryOptions = {}): Promise<types.ResultSet> {
    this.assertOpen();
    const cluster: Cluster = this.current === 'n2' ? 'n2' : 'local';
    try {
      return await this.client(cluster).execute(query, params as unknown[] | undefined, { prepare: true, ...options });
    } catch (err) {
      throw readError(cluster, err);
    }
  }

  /** Runs one write or delete on every cluster the mode requires, with one write timestamp. */
  write(query: string, params?: CqlParams, options: QueryOptions = {}): Promise<WriteResult> {
    return this.send((client, timestamp, mode) =>
      client.execute(query, params as unknown[] | undefined, writeOptions(mode, { prepare: true, ...options, timestamp })),
    );
  }

  /** Runs statements as one logged batch, with one write timestamp, on every cluster the mode requires. */
  batch(statements: readonly CqlStatement[], options: QueryOptions = {}): Promise<WriteResult> {
    if (statements.length === 0) throw new SyncError('NW_SYNC_CONFIG_INVALID', 'batch has no statements');
    const queries = statements.map((s) => ({ query: s.query, params: s.params as unknown[] | undefined }));
    return this.send((client, timestamp, mode) =>
      client.batch(queries, writeOptions(mode, { prepare: true, logged: true, ...options, timestamp })),
    );
  }

  /**
   * An entity-group transaction: holds the coordinator lock of `group` (the
   * entity group's root key) while the statements are applied as one logged
   * batch with one timestamp, so transactions on one group never interleave
   * (also across app servers). NW_SYNC_LOCK_TIMEOUT if the lock is not
   * acquired in time; NW_SYNC_LOCK_LOST (nothing written) if the session
   * ended before the batch was sent.
   */
  async transaction(
    group: string,
    statements: readonly CqlStatement[],
    options: QueryOptions & { lockTimeoutMs?: number } = {},
  ): Promise<WriteResult> {
    this.assertOpen();
    const locks = this.opts.locks;
    if (!locks) throw new SyncError('NW_SYNC_CONFIG_INVALID', 'transaction() needs the locks option (coordinator and app)');
    const { lockTimeoutMs, ...queryOptions } = options;
    const lock = await acquireEntityGroupLock(locks.coordinator, locks.app, group, lockTimeoutMs ?? locks.timeoutMs ?? 5000);
    try {
      await lock.assertHeld();
      return await this.batch(statements, queryOptions);
    } finally {
      await lock.release();
    }
  }

  /** Runs DDL (CREATE KEYSPACE/TABLE …) on the local cluster and, if configured, on N2. */
  async executeSchema(query: string): Promise<void> {
    this.assertOpen();
    const clusters: Cluster[] = this.opts.n2 ? ['local', 'n2'] : ['local'];
    await Promise.all(
      clusters.map(async (cluster) => {
        try {
          await this.client(cluster).execute(query);
        } catch (err) {
          throw writeError(cluster, err);
        }
      }),
    );
  }

  /** Refuses new operations and waits for writes in flight. Does not shut the clients down (the caller owns them). */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain(Number.POSITIVE_INFINITY);
  }

  private client(cluster: Cluster): Client {
    if (cluster === 'local') return this.opts.local;
    if (!this.opts.n2) throw new SyncError('NW_SYNC_CONFIG_INVALID', 'no N2 client configured');
    return this.opts.n2;
  }

  private assertOpen(): void {
    if (this.closed) throw new SyncError('NW_SYNC_DATALAYER_CLOSED');
  }

  private async drain(generation: number): Promise<void> {
    for (;;) {
      const older = [...this.inflight].filter((w) => w.generation < generation);
      if (older.length === 0) return;
      await Promise.allSettled(older.map((w) => w.done));
    }
  }

  private send(exec: (client: Client, timestamp: number, mode: DatastoreMode) => Promise<unknown>): Promise<WriteResult> {
    try {
      this.assertOpen();
      const refused = this.opts.writeGuard?.();
      if (refused) throw refused;
    } catch (err) {
      return Promise.reject(err);
    }
    const timestamp = this.timestamps.next();
    this.counters.writes += 1;
    const done = this.sendUntilSettled(exec, timestamp);
    const entry: InFlight = { generation: this.generation, done };
    this.inflight.add(entry);
    void done.then(
      () => this.inflight.delete(entry),
      () => this.inflight.delete(entry),
    );
    return done;
  }

  /** Sends to the mode's clusters; re-sends to newly required clusters while mode switches overtake the write. */
  private async sendUntilSettled(
    exec: (client: Client, timestamp: number, mode: DatastoreMode) => Promise<unknown>,
    timestamp: number,
  ): Promise<WriteResult> {
    const reached = new Set<Cluster>();
    let targets = writeTargets(this.current);
    let attempt = 0;
    for (;;) {
      const generation = this.generation;
      try {
        await this.sendTo(targets, exec, timestamp, attempt, reached, this.current);
      } catch (err) {
        // Counted against the mode it was sent under, if that is still the one in force.
        if (this.generation === generation) this.modeSince.failures += 1;
        throw err;
      }
      if (this.generation === generation) break;
      const missing = writeTargets(this.current).filter((c) => !reached.has(c));
      if (missing.length === 0) break;
      if (attempt >= this.maxRetries) {
        this.counters.exhausted += 1;
        throw new SyncError(
          'NW_SYNC_WRITE_RETRIES_EXHAUSTED',
          `write at ${timestamp} reached ${[...reached].join('+')}, mode is now ${this.current}`,
          {
            details: { timestamp, reached: [...reached], retries: attempt },
          },
        );
      }
      attempt += 1;
      this.counters.retried += 1;
      this.opts.logger?.debug('sync.datastore.write_resent', { timestamp, to: missing, attempt });
      targets = missing;
    }
    return { timestamp, clusters: [...reached], retries: attempt };
  }

  /** Sends to every target in parallel; all must succeed (the first failure, preferring an unreachable N2, is thrown). */
  private async sendTo(
    targets: readonly Cluster[],
    exec: (client: Client, timestamp: number, mode: DatastoreMode) => Promise<unknown>,
    timestamp: number,
    attempt: number,
    reached: Set<Cluster>,
    mode: DatastoreMode,
  ): Promise<void> {
    const results = await Promise.allSettled(
      targets.map(async (cluster) => {
        await this.opts.beforeSend?.({ cluster, timestamp, attempt });
        try {
          await exec(this.client(cluster), timestamp, mode);
        } catch (err) {
          throw writeError(cluster, err);
        }
        reached.add(cluster);
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as SyncError] : []));
    if (failures.length === 0) return;
    throw failures.find((e) => e.code === 'NW_SYNC_N2_UNAVAILABLE') ?? failures[0]!;
  }
}
