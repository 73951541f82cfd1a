/**
 * A network partition between one fleet member and an embedded coordinator,
 * with ZooKeeper's session semantics: while cut, every call fails (as a
 * ZooKeeper client's calls fail while it cannot reach a server) and watch
 * events wait; `sessionTimeoutMs` after the cut the server side ends the
 * session (its ephemeral nodes go, so a barrier stops waiting for the
 * member), but the member learns of that only when the cut heals, as a
 * ZooKeeper client does on reconnect. A heal before that delivers the
 * waiting watch events and 'connected'.
 */
import { CoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import type {
  Coordinator,
  CreateMode,
  NodeData,
  SessionEvent,
  TransactionOp,
  WatchEvent,
  Watcher,
} from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, type EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';

export class PartitionableCoordinator implements Coordinator {
  readonly kind = 'embedded' as const;
  private readonly inner: EmbeddedCoordinator;
  private readonly listeners = new Set<(e: SessionEvent) => void>();
  /** Bumped when a session ends: watches set under an older session never fire (as in ZooKeeper). */
  private generation = 0;
  private cutAt: number | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private healTimer: NodeJS.Timeout | undefined;
  /** The server ended the session during the cut; the member is told on heal. */
  private expiredUnseen = false;
  private readonly heldWatchEvents: Array<() => void> = [];

  constructor(store: EmbeddedStore) {
    this.inner = new EmbeddedCoordinator(store);
    this.inner.onSession((e) => {
      // The inner session's own events: 'expired' only comes from our expiry timer, reported on heal.
      if (e === 'connected') this.emit('connected');
    });
  }

  /** True while the member cannot reach the coordinator. */
  get isCut(): boolean {
    return this.cutAt !== undefined;
  }

  /**
   * Cuts the member off for `durationMs`; the server ends its session `sessionTimeoutMs` after the
   * cut unless it healed first. Cutting a member that is already cut only moves the heal.
   */
  cutFor(durationMs: number, sessionTimeoutMs: number): void {
    if (this.cutAt === undefined) {
      this.cutAt = performance.now();
      this.expiryTimer = setTimeout(() => this.serverExpires(), sessionTimeoutMs);
      this.emit('disconnected');
    }
    clearTimeout(this.healTimer);
    this.healTimer = setTimeout(() => this.heal(), durationMs);
  }

  /** Ends the cut now: the member sees 'expired' if its session ended meanwhile, else 'connected'. */
  heal(): void {
    if (this.cutAt === undefined) return;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.healTimer);
    this.cutAt = undefined;
    if (this.expiredUnseen) {
      this.expiredUnseen = false;
      this.heldWatchEvents.length = 0;
      this.emit('expired');
      return;
    }
    for (const deliver of this.heldWatchEvents.splice(0)) deliver();
    this.emit('connected');
  }

  private serverExpires(): void {
    this.generation += 1;
    this.expiredUnseen = true;
    this.heldWatchEvents.length = 0;
    // Ends the session in the store (ephemeral nodes go); its 'expired' event is not passed on yet.
    this.inner.expire();
  }

  private emit(e: SessionEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  private reachable(what: string): void {
    if (this.cutAt !== undefined) throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `${what}: partitioned (test)`);
    if (this.expiredUnseen) throw new CoordinatorError('NW_CP_SESSION_EXPIRED', `${what}: session expired (test)`);
  }

  private wrapWatch(watch: Watcher | undefined): Watcher | undefined {
    if (!watch) return undefined;
    const generation = this.generation;
    return (event: WatchEvent) => {
      if (generation !== this.generation) return;
      if (this.cutAt !== undefined) this.heldWatchEvents.push(() => watch(event));
      else watch(event);
    };
  }

  async connect(): Promise<void> {
    this.reachable('connect');
    await this.inner.connect();
  }

  async close(): Promise<void> {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.healTimer);
    this.cutAt = undefined;
    this.expiredUnseen = false;
    this.generation += 1;
    await this.inner.close();
  }

  sessionId(): string {
    return this.inner.sessionId();
  }

  /** Like the embedded coordinator's: no server negotiates a timeout. */
  negotiatedSessionTimeoutMs(): undefined {
    return undefined;
  }

  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    this.reachable(`get ${path}`);
    return this.inner.get(path, this.wrapWatch(watch));
  }

  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    this.reachable(`children ${path}`);
    return this.inner.children(path, this.wrapWatch(watch));
  }

  async create(path: string, data: Buffer, mode?: CreateMode): Promise<string> {
    this.reachable(`create ${path}`);
    return this.inner.create(path, data, mode);
  }

  async set(path: string, data: Buffer, version?: number): Promise<number> {
    this.reachable(`set ${path}`);
    return this.inner.set(path, data, version);
  }

  async remove(path: string, version?: number): Promise<void> {
    this.reachable(`remove ${path}`);
    return this.inner.remove(path, version);
  }

  async mkdirp(path: string): Promise<void> {
    this.reachable(`mkdirp ${path}`);
    return this.inner.mkdirp(path);
  }

  async transaction(ops: readonly TransactionOp[]): Promise<void> {
    this.reachable('transaction');
    return this.inner.transaction(ops);
  }

  onSession(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
