// Minimal type declarations for node-zookeeper-client 1.1.x, which ships none.
// Only the parts Northwest uses; extend as needed. Import it as a default import:
//   import zookeeper from 'node-zookeeper-client';
declare module 'node-zookeeper-client' {
  import type { EventEmitter } from 'node:events';

  namespace zookeeper {
    interface ClientOptions {
      /** Requested session timeout in ms (the server clamps it to its min/max). Default 30000. */
      sessionTimeout?: number;
      /** Delay in ms between attempts to connect to the next server. Default 1000. */
      spinDelay?: number;
      /** Retries of a failed operation (connection loss). Default 0. */
      retries?: number;
      /** Resume this existing session (8 bytes) instead of creating one; needs `sessionPassword`. */
      sessionId?: Buffer;
      /** Password (16 bytes) of the session named by `sessionId`. */
      sessionPassword?: Buffer;
    }

    interface State {
      readonly name: string;
      readonly code: number;
      getName(): string;
      getCode(): number;
      toString(): string;
    }
    const State: {
      readonly DISCONNECTED: State;
      readonly SYNC_CONNECTED: State;
      readonly AUTH_FAILED: State;
      readonly CONNECTED_READ_ONLY: State;
      readonly SASL_AUTHENTICATED: State;
      readonly EXPIRED: State;
    };

    /** A watch notification. */
    interface Event {
      readonly type: number;
      readonly name: string;
      readonly path: string;
      getType(): number;
      getName(): string;
      getPath(): string;
      toString(): string;
    }
    const Event: {
      readonly NODE_CREATED: 1;
      readonly NODE_DELETED: 2;
      readonly NODE_DATA_CHANGED: 3;
      readonly NODE_CHILDREN_CHANGED: 4;
    };

    const CreateMode: {
      readonly PERSISTENT: 0;
      readonly EPHEMERAL: 1;
      readonly PERSISTENT_SEQUENTIAL: 2;
      readonly EPHEMERAL_SEQUENTIAL: 3;
    };

    const Permission: {
      readonly READ: number;
      readonly WRITE: number;
      readonly CREATE: number;
      readonly DELETE: number;
      readonly ADMIN: number;
      readonly ALL: number;
    };

    class Id {
      constructor(scheme: string, id: string);
      readonly scheme: string;
      readonly id: string;
      static readonly ANYONE_ID_UNSAFE: Id;
      static readonly AUTH_IDS: Id;
    }

    class ACL {
      constructor(permission: number, id: Id);
      readonly permission: number;
      readonly id: Id;
      static readonly OPEN_ACL_UNSAFE: ACL[];
      static readonly CREATOR_ALL_ACL: ACL[];
      static readonly READ_ACL_UNSAFE: ACL[];
    }

    /** ZooKeeper error; compare getCode() with the static codes, e.g. Exception.NO_NODE. */
    class Exception extends Error {
      readonly code: number;
      readonly path?: string;
      getCode(): number;
      getName(): string;
      getPath(): string | undefined;
      static readonly OK: 0;
      static readonly SYSTEM_ERROR: -1;
      static readonly RUNTIME_INCONSISTENCY: -2;
      static readonly DATA_INCONSISTENCY: -3;
      static readonly CONNECTION_LOSS: -4;
      static readonly MARSHALLING_ERROR: -5;
      static readonly UNIMPLEMENTED: -6;
      static readonly OPERATION_TIMEOUT: -7;
      static readonly BAD_ARGUMENTS: -8;
      static readonly API_ERROR: -100;
      static readonly NO_NODE: -101;
      static readonly NO_AUTH: -102;
      static readonly BAD_VERSION: -103;
      static readonly NO_CHILDREN_FOR_EPHEMERALS: -108;
      static readonly NODE_EXISTS: -110;
      static readonly NOT_EMPTY: -111;
      static readonly SESSION_EXPIRED: -112;
      static readonly INVALID_CALLBACK: -113;
      static readonly INVALID_ACL: -114;
      static readonly AUTH_FAILED: -115;
    }

    /** Node metadata. 64-bit fields (zxids, times, ephemeralOwner) are 8-byte big-endian Buffers. */
    interface Stat {
      czxid: Buffer;
      mzxid: Buffer;
      ctime: Buffer;
      mtime: Buffer;
      version: number;
      cversion: number;
      aversion: number;
      ephemeralOwner: Buffer;
      dataLength: number;
      numChildren: number;
      pzxid: Buffer;
    }

    type Watcher = (event: Event) => void;
    type ErrorCallback = (error: Exception | Error | null) => void;
    type PathCallback = (error: Exception | Error | null, path: string) => void;
    type StatCallback = (error: Exception | Error | null, stat: Stat) => void;
    type ExistsCallback = (error: Exception | Error | null, stat: Stat | null) => void;
    type DataCallback = (error: Exception | Error | null, data: Buffer | undefined, stat: Stat) => void;
    type ChildrenCallback = (error: Exception | Error | null, children: string[], stat: Stat) => void;

    interface OpResult {
      type: number;
      err?: number;
      path?: string;
      stat?: Stat;
    }

    /** One queued transaction op (internal to the library). */
    interface TransactionOpRecord {
      type: number;
      path: string;
      version?: number;
    }

    interface Transaction {
      /**
       * The ops queued so far. Internal, but the only way around 1.1.3's `version || -1`
       * in setData/check/remove, which turns an expected version 0 into "any version".
       */
      readonly ops: TransactionOpRecord[];
      create(path: string, data?: Buffer | null, acls?: ACL[], mode?: number): Transaction;
      create(path: string, data: Buffer | null, mode: number): Transaction;
      setData(path: string, data: Buffer | null, version?: number): Transaction;
      check(path: string, version?: number): Transaction;
      remove(path: string, version?: number): Transaction;
      commit(callback: (error: Exception | Error | null, results: OpResult[]) => void): void;
    }

    interface Client extends EventEmitter {
      connect(): void;
      close(): void;
      getState(): State;
      getSessionId(): Buffer;
      getSessionPassword(): Buffer;
      getSessionTimeout(): number;
      addAuthInfo(scheme: string, auth: Buffer): void;

      create(path: string, callback: PathCallback): void;
      create(path: string, data: Buffer | null, callback: PathCallback): void;
      create(path: string, data: Buffer | null, mode: number, callback: PathCallback): void;
      create(path: string, data: Buffer | null, acls: ACL[], mode: number, callback: PathCallback): void;

      mkdirp(path: string, callback: PathCallback): void;
      mkdirp(path: string, data: Buffer | null, callback: PathCallback): void;
      mkdirp(path: string, data: Buffer | null, mode: number, callback: PathCallback): void;
      mkdirp(path: string, data: Buffer | null, acls: ACL[], mode: number, callback: PathCallback): void;

      remove(path: string, callback: ErrorCallback): void;
      remove(path: string, version: number, callback: ErrorCallback): void;
      removeRecursive(path: string, callback: ErrorCallback): void;
      removeRecursive(path: string, version: number, callback: ErrorCallback): void;

      exists(path: string, callback: ExistsCallback): void;
      exists(path: string, watcher: Watcher, callback: ExistsCallback): void;

      getData(path: string, callback: DataCallback): void;
      getData(path: string, watcher: Watcher, callback: DataCallback): void;

      setData(path: string, data: Buffer | null, callback: StatCallback): void;
      setData(path: string, data: Buffer | null, version: number, callback: StatCallback): void;

      getChildren(path: string, callback: ChildrenCallback): void;
      getChildren(path: string, watcher: Watcher, callback: ChildrenCallback): void;

      transaction(): Transaction;

      on(event: 'state', listener: (state: State) => void): this;
      on(event: 'connected' | 'connectedReadOnly' | 'disconnected' | 'expired' | 'authenticationFailed', listener: () => void): this;
      once(event: 'state', listener: (state: State) => void): this;
      once(event: 'connected' | 'connectedReadOnly' | 'disconnected' | 'expired' | 'authenticationFailed', listener: () => void): this;
    }

    function createClient(connectionString: string, options?: ClientOptions): Client;
  }

  export = zookeeper;
}
