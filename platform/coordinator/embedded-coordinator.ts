import { CoordinatorError } from './coordinator-errors.js';
import {
  assertValidPath,
  parentPath,
  type Coordinator,
  type CreateMode,
  type NodeData,
  type SessionEvent,
  type TransactionOp,
  type Watcher,
} from './coordinator.js';

interface TreeNode {
  data: Buffer;
  version: number;
  children: Set<string>;
  /** Session that owns an ephemeral node. */
  owner: number | undefined;
  /** Changes to the children (created or removed) so far, as ZooKeeper's cversion; the next sequence number too. */
  cversion: number;
}

/**
 * The shared in-memory tree behind embedded coordinators: one per process,
 * used by every gateway, control plane and data layer in it. Plays the part
 * of a ZooKeeper ensemble, including one-shot watches and ephemeral nodes.
 */
export class EmbeddedStore {
  private readonly nodes = new Map<string, TreeNode>([
    ['/', { data: Buffer.alloc(0), version: 0, children: new Set(), owner: undefined, cversion: 0 }],
  ]);
  private readonly dataWatches = new Map<string, Set<Watcher>>();
  private readonly childWatches = new Map<string, Set<Watcher>>();
  private nextSession = 1;

  newSessionId(): number {
    return this.nextSession++;
  }

  private fire(map: Map<string, Set<Watcher>>, path: string, type: 'created' | 'deleted' | 'data' | 'children'): void {
    const ws = map.get(path);
    if (!ws) return;
    map.delete(path);
    // Like ZooKeeper, deliver after the change is visible and outside the caller's stack.
    queueMicrotask(() => {
      for (const w of ws) w({ type, path });
    });
  }

  read(path: string, watch?: Watcher): NodeData | undefined {
    assertValidPath(path);
    if (watch) this.addWatch(this.dataWatches, path, watch);
    const n = this.nodes.get(path);
    return n
      ? {
          data: Buffer.from(n.data),
          version: n.version,
          ephemeralOwner: n.owner === undefined ? '' : n.owner.toString(16),
          numChildren: n.children.size,
          childChanges: n.cversion,
        }
      : undefined;
  }

  list(path: string, watch?: Watcher): string[] | undefined {
    assertValidPath(path);
    const n = this.nodes.get(path);
    if (!n) {
      if (watch) this.addWatch(this.dataWatches, path, watch);
      return undefined;
    }
    if (watch) this.addWatch(this.childWatches, path, watch);
    return [...n.children].sort();
  }

  private addWatch(map: Map<string, Set<Watcher>>, path: string, w: Watcher): void {
    let set = map.get(path);
    if (!set) {
      set = new Set();
      map.set(path, set);
    }
    set.add(w);
  }

  /** Validates one op against the current tree without changing it (transactions check all first). */
  private check(op: TransactionOp, pending: Map<string, TreeNode | null>): void {
    const get = (p: string): TreeNode | undefined => {
      const v = pending.get(p);
      return v === null ? undefined : (v ?? this.nodes.get(p));
    };
    assertValidPath(op.path);
    const n = get(op.path);
    switch (op.op) {
      case 'create': {
        const sequential = op.mode === 'persistent-sequential' || op.mode === 'ephemeral-sequential';
        if (!sequential && n) throw new CoordinatorError('NW_CP_NODE_EXISTS', op.path);
        const parent = get(parentPath(op.path));
        if (!parent) throw new CoordinatorError('NW_CP_NO_NODE', parentPath(op.path));
        if (parent.owner !== undefined)
          throw new CoordinatorError('NW_CP_COORDINATOR_ERROR', `ephemeral ${parentPath(op.path)} cannot have children`);
        if (!sequential) pending.set(op.path, { data: op.data, version: 0, children: new Set(), owner: undefined, cversion: 0 });
        return;
      }
      case 'set':
      case 'check':
        if (!n) throw new CoordinatorError('NW_CP_NO_NODE', op.path);
        if (op.version !== undefined && op.version !== -1 && n.version !== op.version)
          throw new CoordinatorError('NW_CP_BAD_VERSION', `${op.path}: expected ${op.version}, is ${n.version}`);
        return;
      case 'remove':
        if (!n) throw new CoordinatorError('NW_CP_NO_NODE', op.path);
        if (op.version !== undefined && op.version !== -1 && n.version !== op.version)
          throw new CoordinatorError('NW_CP_BAD_VERSION', `${op.path}: expected ${op.version}, is ${n.version}`);
        if (n.children.size > 0) throw new CoordinatorError('NW_CP_NOT_EMPTY', op.path);
        pending.set(op.path, null);
        return;
    }
  }

  private applyOne(op: TransactionOp, session: number): string {
    switch (op.op) {
      case 'create': {
        const parent = this.nodes.get(parentPath(op.path))!;
        let path = op.path;
        if (op.mode === 'persistent-sequential' || op.mode === 'ephemeral-sequential') path += String(parent.cversion).padStart(10, '0');
        parent.cversion += 1;
        const ephemeral = op.mode === 'ephemeral' || op.mode === 'ephemeral-sequential';
        this.nodes.set(path, {
          data: Buffer.from(op.data),
          version: 0,
          children: new Set(),
          owner: ephemeral ? session : undefined,
          cversion: 0,
        });
        parent.children.add(path.slice(path.lastIndexOf('/') + 1));
        this.fire(this.dataWatches, path, 'created');
        this.fire(this.childWatches, parentPath(path), 'children');
        return path;
      }
      case 'set': {
        const n = this.nodes.get(op.path)!;
        n.data = Buffer.from(op.data);
        n.version += 1;
        this.fire(this.dataWatches, op.path, 'data');
        return op.path;
      }
      case 'remove': {
        this.removeNode(op.path);
        return op.path;
      }
      case 'check':
        return op.path;
    }
  }

  private removeNode(path: string): void {
    this.nodes.delete(path);
    const parent = this.nodes.get(parentPath(path));
    parent?.children.delete(path.slice(path.lastIndexOf('/') + 1));
    if (parent) parent.cversion += 1;
    this.fire(this.dataWatches, path, 'deleted');
    this.fire(this.childWatches, path, 'deleted');
    this.fire(this.childWatches, parentPath(path), 'children');
  }

  /** Validates all ops, then applies all; returns the created/changed paths. */
  commit(ops: readonly TransactionOp[], session: number): string[] {
    const pending = new Map<string, TreeNode | null>();
    for (const op of ops) this.check(op, pending);
    return ops.map((op) => this.applyOne(op, session));
  }

  version(path: string): number {
    return this.nodes.get(path)?.version ?? -1;
  }

  /** Drops every ephemeral node a session owns (close or expiry). */
  endSession(session: number): void {
    const owned = [...this.nodes].filter(([, n]) => n.owner === session).map(([p]) => p);
    for (const p of owned) this.removeNode(p);
  }
}

/** Process-wide default store, so every embedded client in a process sees the same tree. */
export const defaultEmbeddedStore = new EmbeddedStore();

/** One session against an EmbeddedStore. */
export class EmbeddedCoordinator implements Coordinator {
  readonly kind = 'embedded' as const;
  private session = 0;
  private readonly listeners = new Set<(e: SessionEvent) => void>();

  constructor(private readonly store: EmbeddedStore = defaultEmbeddedStore) {}

  async connect(): Promise<void> {
    if (this.session === 0) {
      this.session = this.store.newSessionId();
      this.emit('connected');
    }
  }

  async close(): Promise<void> {
    if (this.session !== 0) {
      this.store.endSession(this.session);
      this.session = 0;
    }
  }

  /** Test hook: the session expires as if the coordinator had lost this client. */
  expire(): void {
    if (this.session === 0) return;
    this.store.endSession(this.session);
    this.session = 0;
    this.emit('expired');
  }

  private emit(e: SessionEvent): void {
    for (const l of this.listeners) l(e);
  }

  private live(): number {
    if (this.session === 0) throw new CoordinatorError('NW_CP_SESSION_EXPIRED', 'embedded session is closed');
    return this.session;
  }

  sessionId(): string {
    return this.session === 0 ? '' : this.session.toString(16);
  }

  /** Embedded sessions end only by close() or expire(), never by a timeout. */
  negotiatedSessionTimeoutMs(): undefined {
    return undefined;
  }

  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    this.live();
    return this.store.read(path, watch);
  }

  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    this.live();
    return this.store.list(path, watch);
  }

  async create(path: string, data: Buffer, mode: CreateMode = 'persistent'): Promise<string> {
    return this.store.commit([{ op: 'create', path, data, mode }], this.live())[0]!;
  }

  async set(path: string, data: Buffer, version?: number): Promise<number> {
    this.store.commit([{ op: 'set', path, data, ...(version === undefined ? {} : { version }) }], this.live());
    return this.store.version(path);
  }

  async remove(path: string, version?: number): Promise<void> {
    this.store.commit([{ op: 'remove', path, ...(version === undefined ? {} : { version }) }], this.live());
  }

  async mkdirp(path: string): Promise<void> {
    const session = this.live();
    assertValidPath(path);
    let cur = '';
    for (const part of path.split('/').slice(1)) {
      cur += `/${part}`;
      if (!this.store.read(cur)) this.store.commit([{ op: 'create', path: cur, data: Buffer.alloc(0) }], session);
    }
  }

  async transaction(ops: readonly TransactionOp[]): Promise<void> {
    this.store.commit(ops, this.live());
  }

  onSession(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
