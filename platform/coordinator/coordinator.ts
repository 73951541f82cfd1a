export { assertValidPath, joinPath, parentPath } from '../../protocol/node-paths.js';
/**
 * The coordination service the control plane and the fleet share. Two
 * implementations: ZooKeeper (a real ensemble) and an embedded in-process one
 * for single-node use and the demo. Semantics follow ZooKeeper: versions
 * start at 0 and grow by one per set, watches fire once, ephemeral nodes die
 * with their session.
 */

export interface NodeData {
  readonly data: Buffer;
  /** Data version (ZooKeeper's stat.version); the epoch of a state node. */
  readonly version: number;
  /**
   * Session id (hex, as sessionId() prints it) owning an ephemeral node; '' for a persistent node.
   * Optional so that other implementations stay valid; both built-in ones fill it in.
   */
  readonly ephemeralOwner?: string;
  /** Number of children at the time of the read (both built-in implementations fill it in). */
  readonly numChildren?: number;
  /**
   * Children created or removed so far (ZooKeeper's stat.cversion): equal in two reads means no
   * child came or went in between, however briefly (both built-in implementations fill it in).
   */
  readonly childChanges?: number;
}

export type CreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential';

export interface WatchEvent {
  readonly type: 'created' | 'deleted' | 'data' | 'children';
  readonly path: string;
}

export type Watcher = (event: WatchEvent) => void;

export type SessionEvent = 'connected' | 'disconnected' | 'expired';

export type TransactionOp =
  | { readonly op: 'create'; readonly path: string; readonly data: Buffer; readonly mode?: CreateMode }
  | { readonly op: 'set'; readonly path: string; readonly data: Buffer; readonly version?: number }
  | { readonly op: 'remove'; readonly path: string; readonly version?: number }
  | { readonly op: 'check'; readonly path: string; readonly version: number };

export interface Coordinator {
  readonly kind: 'zookeeper' | 'embedded';
  /** Connects and resolves once a session exists. */
  connect(): Promise<void>;
  /** Closes the session; its ephemeral nodes disappear. */
  close(): Promise<void>;
  /** Current session id (hex), or '' when not connected. */
  sessionId(): string;
  /**
   * The session timeout the server granted, which is what bounds how long the session outlives this
   * client's silence (ZooKeeper clamps the requested timeout to its min/maxSessionTimeout);
   * undefined without a session, or for a coordinator whose sessions never time out (embedded).
   */
  negotiatedSessionTimeoutMs(): number | undefined;
  /** Reads a node; undefined if it does not exist. The watch fires once on create, set or delete. */
  get(path: string, watch?: Watcher): Promise<NodeData | undefined>;
  /** Child names (sorted); undefined if the node does not exist. The watch fires once on a change. */
  children(path: string, watch?: Watcher): Promise<string[] | undefined>;
  /** Creates a node (parents must exist); returns its path (with the sequence suffix if sequential). */
  create(path: string, data: Buffer, mode?: CreateMode): Promise<string>;
  /** Sets data, optionally only at `version`; returns the new version. */
  set(path: string, data: Buffer, version?: number): Promise<number>;
  remove(path: string, version?: number): Promise<void>;
  /** Creates the node and any missing parents as empty persistent nodes. */
  mkdirp(path: string): Promise<void>;
  /** Applies every op or none. */
  transaction(ops: readonly TransactionOp[]): Promise<void>;
  /** Session state changes; returns an unsubscribe function. */
  onSession(listener: (event: SessionEvent) => void): () => void;
}
