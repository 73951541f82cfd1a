import { performance } from 'node:perf_hooks';
import zookeeper from 'node-zookeeper-client';
import { z } from 'zod';
import { CoordinatorError, isCoordinatorError, type CoordinatorErrorCode } from './coordinator-errors.js';
import type { AclEntry, AclPermission, AclPolicy, CoordinatorIdentity } from './coordinator-acl.js';
import {
  assertValidPath,
  type Coordinator,
  type CreateMode,
  type NodeData,
  type SessionEvent,
  type TransactionOp,
  type WatchEvent,
  type Watcher,
} from './coordinator.js';

const { ACL, Event, Exception, Id, Permission, State } = zookeeper;

/** Where and how long: the options every ZooKeeperCoordinator takes. */
interface ConnectionOptions {
  /** Ensemble as `host:port[,host:port...]`, without a chroot suffix (use `chroot`). */
  readonly connectString: string;
  /**
   * Node every API path is relative to, e.g. '/northwest', or '/' for none; created on connect if missing.
   * No default: each config schema says its own.
   */
  readonly chroot: string;
  /** Requested session timeout; the server clamps it to its min/max. Default 15000. */
  readonly sessionTimeoutMs?: number;
  /** connect() rejects with NW_CP_COORDINATOR_UNAVAILABLE if no session exists by then. Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * Bound on one operation, including waiting for a lost connection to come back; then it rejects
   * with NW_CP_COORDINATOR_UNAVAILABLE. Like ZooKeeper's CONNECTION_LOSS, a write that timed out may
   * still have been applied. Default 10000.
   */
  readonly opTimeoutMs?: number;
}

/** A session with credentials: the nodes it creates get ACLs. */
interface AuthenticatedOptions {
  /**
   * Digest credentials the session authenticates with (several: the session holds each identity,
   * for tools that clean up after every role). Without an `acl` policy, nodes we create are then
   * readable and writable only by these identities.
   */
  readonly auth: CoordinatorIdentity | readonly CoordinatorIdentity[];
  /** The ACL of each node we create, by path (platform/coordinator/northwest-acl.ts); needs `auth`. */
  readonly acl?: AclPolicy;
  /** With `auth` and no `acl`: everyone may also read the nodes we create. Default false. */
  readonly worldReadable?: boolean;
  readonly insecure?: false;
}

/** A session without credentials; must be asked for. */
interface InsecureOptions {
  readonly auth?: undefined;
  /** Every node we create is open to anyone who can reach the ensemble (ZooKeeper's OPEN_ACL_UNSAFE). */
  readonly insecure: true;
  readonly acl?: undefined;
  readonly worldReadable?: undefined;
}

/** Options of a ZooKeeperCoordinator; checked once by the constructor. */
export type ZooKeeperCoordinatorOptions = ConnectionOptions & (AuthenticatedOptions | InsecureOptions);

/** Session and operation timeouts a coordinator config leaves out (one set, used by every config schema). */
export const ZOOKEEPER_DEFAULTS = Object.freeze({ sessionTimeoutMs: 15_000, connectTimeoutMs: 10_000, opTimeoutMs: 10_000 });

const identitySchema = z.strictObject({ user: z.string().regex(/^[^:]+$/, 'non-empty, without ":"'), password: z.string().min(1) });

const optionsSchema = z
  .strictObject({
    connectString: z.string().regex(/^[^/\s]+$/, 'host:port list without a chroot suffix (use the chroot option)'),
    chroot: z
      .string()
      .refine((p) => p === '/' || (/^(\/[^/\s]+)+$/.test(p) && !/\/\.\.?(\/|$)/.test(p)), 'absolute path such as /northwest'),
    sessionTimeoutMs: z.number().int().min(1000).default(ZOOKEEPER_DEFAULTS.sessionTimeoutMs),
    connectTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.connectTimeoutMs),
    opTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.opTimeoutMs),
    auth: z.union([identitySchema, z.array(identitySchema).min(1)]).optional(),
    insecure: z.boolean().default(false),
    acl: z.custom<AclPolicy>((v) => typeof v === 'function', 'a function from path to ACL').optional(),
    worldReadable: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
    if (!o.auth && !o.insecure)
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'required (digest credentials), or insecure: true to run with open ACLs' });
    if (o.auth && o.insecure) ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'cannot be combined with auth' });
    if (o.acl && !o.auth) ctx.addIssue({ code: 'custom', path: ['acl'], message: 'needs auth (its entries name the session identities)' });
  });

type Settings = Readonly<z.output<typeof optionsSchema>>;

/** Between tries of the next server when all have failed (the library's default is 1 s). */
const SPIN_DELAY_MS = 200;

const MODES: Record<CreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  'persistent-sequential': zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  'ephemeral-sequential': zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

const EVENTS: Record<number, WatchEvent['type']> = {
  [Event.NODE_CREATED]: 'created',
  [Event.NODE_DELETED]: 'deleted',
  [Event.NODE_DATA_CHANGED]: 'data',
  [Event.NODE_CHILDREN_CHANGED]: 'children',
};

const ERROR_CODES = new Map<number, CoordinatorErrorCode>([
  [Exception.NODE_EXISTS, 'NW_CP_NODE_EXISTS'],
  [Exception.NO_NODE, 'NW_CP_NO_NODE'],
  [Exception.BAD_VERSION, 'NW_CP_BAD_VERSION'],
  [Exception.NOT_EMPTY, 'NW_CP_NOT_EMPTY'],
  [Exception.NO_AUTH, 'NW_CP_NO_AUTH'],
  [Exception.AUTH_FAILED, 'NW_CP_NO_AUTH'],
  [Exception.CONNECTION_LOSS, 'NW_CP_COORDINATOR_UNAVAILABLE'],
  [Exception.OPERATION_TIMEOUT, 'NW_CP_COORDINATOR_UNAVAILABLE'],
  [Exception.SESSION_EXPIRED, 'NW_CP_SESSION_EXPIRED'],
]);

const PERMISSIONS: Record<AclPermission, number> = {
  read: Permission.READ,
  write: Permission.WRITE,
  create: Permission.CREATE,
  delete: Permission.DELETE,
  admin: Permission.ADMIN,
};

function toLibraryAcl(entries: readonly AclEntry[]): zookeeper.ACL[] {
  return entries.map(
    (e) =>
      new ACL(
        e.perms.reduce((bits, p) => bits | PERMISSIONS[p], 0),
        new Id(e.scheme, e.id),
      ),
  );
}

/** Errors that are the server's verdict on a request, so they prove the server was reachable. */
const SERVER_VERDICTS = new Set<CoordinatorErrorCode>([
  'NW_CP_NODE_EXISTS',
  'NW_CP_NO_NODE',
  'NW_CP_BAD_VERSION',
  'NW_CP_NOT_EMPTY',
  'NW_CP_NO_AUTH',
]);

function toCoordinatorError(err: unknown, what: string): CoordinatorError {
  if (err instanceof CoordinatorError) return err;
  const code = err instanceof Exception ? (ERROR_CODES.get(err.getCode()) ?? 'NW_CP_COORDINATOR_ERROR') : 'NW_CP_COORDINATOR_ERROR';
  const name = err instanceof Exception ? err.getName() : String(err);
  return new CoordinatorError(code, `${what}: ${name}`, { cause: err });
}

/** The optional NodeData fields a stat carries: the ephemeral owner (hex, '' if persistent), the child count and cversion. */
function statFields(stat: zookeeper.Stat): { ephemeralOwner: string; numChildren: number; childChanges: number } {
  const owner = stat.ephemeralOwner.readBigUInt64BE();
  return { ephemeralOwner: owner === 0n ? '' : owner.toString(16), numChildren: stat.numChildren, childChanges: stat.cversion };
}

/** Hands a library reply on; `value` is only read when `err` is null. */
type Done<T> = (err: Error | null, value: T | undefined) => void;

/**
 * One node-zookeeper-client session. Requests wait for a live connection (the library would
 * otherwise queue them ahead of the re-authentication on reconnect) and are bounded by a deadline.
 */
class SessionLink {
  /** Expired, closed or refused: this client never works again. */
  dead = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly client: zookeeper.Client,
    private readonly opTimeoutMs: number,
    private readonly onReply: () => void,
  ) {}

  /** Wakes requests waiting for the connection; called on every state event. */
  stateChanged(): void {
    for (const wake of [...this.waiters]) wake();
  }

  connected(): boolean {
    return this.client.getState().getCode() === State.SYNC_CONNECTED.getCode();
  }

  /** Resolves once connected; rejects if the session dies or `deadline` (performance.now()) passes. */
  async ready(deadline: number, what: string): Promise<void> {
    for (;;) {
      if (this.dead) throw new CoordinatorError('NW_CP_SESSION_EXPIRED', `${what}: session is gone, connect() again`);
      if (this.connected()) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `${what}: not connected to any server`);
      await this.nextStateChange(left);
    }
  }

  /** Resolves on the next state event or after `ms`, whichever is first. */
  nextStateChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }

  /** Runs one request once connected; `start` hands the library's reply to `done`. */
  async call<T>(what: string, start: (client: zookeeper.Client, done: Done<T>) => void): Promise<T> {
    const deadline = performance.now() + this.opTimeoutMs;
    await this.ready(deadline, what);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `${what}: no reply within ${this.opTimeoutMs} ms`)),
        Math.max(0, deadline - performance.now()),
      );
      const done: Done<T> = (err, value) => {
        clearTimeout(timer);
        const failure = err ? toCoordinatorError(err, what) : undefined;
        if (!failure || SERVER_VERDICTS.has(failure.code)) this.onReply();
        if (failure) reject(failure);
        else resolve(value as T);
      };
      try {
        start(this.client, done);
      } catch (err) {
        clearTimeout(timer);
        reject(toCoordinatorError(err, what));
      }
    });
  }
}

/**
 * Coordinator on a ZooKeeper ensemble through node-zookeeper-client.
 *
 * Session lifecycle: connect() creates a session; the client then rides out connection losses by
 * itself (listeners see 'disconnected' then 'connected'). Once the session has expired (listeners
 * see 'expired') or close() was called, every operation fails fast with NW_CP_SESSION_EXPIRED and
 * watches set through it never fire; call connect() again for a new session (new sessionId), then
 * re-read state and re-create ephemeral nodes.
 *
 * Watches fire at most once; in a race with a concurrent create/delete one may fire early (for a
 * change already seen by the read), never late.
 */
export class ZooKeeperCoordinator implements Coordinator {
  readonly kind = 'zookeeper' as const;
  private readonly settings: Settings;
  /** The ACL of a node we create, by API path; throws for a node this client's role never creates. */
  private readonly aclFor: (path: string) => zookeeper.ACL[];
  private link: SessionLink | undefined;
  private linkId = '';
  private connecting: Promise<void> | undefined;
  private contactAt = Number.NEGATIVE_INFINITY;
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private readonly fanouts = new Map<string, { readonly fn: zookeeper.Watcher; readonly listeners: Set<Watcher> }>();

  constructor(options: ZooKeeperCoordinatorOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
      throw new CoordinatorError('NW_CP_CONFIG_INVALID', `ZooKeeper coordinator options: ${issues}`);
    }
    this.settings = Object.freeze(parsed.data);
    const { auth, worldReadable, acl } = this.settings;
    if (acl) {
      this.aclFor = (path) => {
        const decision = acl(path);
        if ('refused' in decision) throw new CoordinatorError('NW_CP_NO_NODE', `create ${path}: ${decision.refused}`);
        return toLibraryAcl(decision);
      };
    } else {
      const fixed = !auth
        ? ACL.OPEN_ACL_UNSAFE
        : [...ACL.CREATOR_ALL_ACL, ...(worldReadable ? [new ACL(Permission.READ, Id.ANYONE_ID_UNSAFE)] : [])];
      this.aclFor = () => fixed;
    }
  }

  /**
   * performance.now() of the last reply from the server (a result, a server-side error such as
   * NO_NODE, or a (re)connect); -Infinity before the first. For lease-based self-fencing. Pings are
   * not visible through the library, so an idle client should issue a cheap read to renew it.
   */
  lastContactAt(): number {
    return this.contactAt;
  }

  /** Id and password of the live session, for tools that must act on exactly this session. */
  sessionCredentials(): { readonly id: Buffer; readonly password: Buffer } | undefined {
    const client = this.link?.client;
    return client && { id: client.getSessionId(), password: client.getSessionPassword() };
  }

  /** Creates a session (and the chroot if missing); resolves at once if one exists. */
  async connect(): Promise<void> {
    if (this.link) return;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const { connectString, sessionTimeoutMs, connectTimeoutMs, opTimeoutMs, auth, chroot } = this.settings;
    const client = zookeeper.createClient(connectString, { sessionTimeout: sessionTimeoutMs, spinDelay: SPIN_DELAY_MS, retries: 0 });
    const link = new SessionLink(client, opTimeoutMs, () => (this.contactAt = performance.now()));
    client.on('state', (state) => this.onState(link, state));
    for (const id of auth === undefined ? [] : Array.isArray(auth) ? auth : [auth]) {
      client.addAuthInfo('digest', Buffer.from(`${id.user}:${id.password}`));
    }
    client.connect();
    try {
      await link.ready(performance.now() + connectTimeoutMs, `connect to ${connectString}`);
      await this.ensurePath(link, chroot);
    } catch (err) {
      link.dead = true;
      client.close();
      throw err;
    }
    this.link = link;
    this.linkId = client.getSessionId().readBigUInt64BE().toString(16);
    this.emit('connected');
  }

  private onState(link: SessionLink, state: zookeeper.State): void {
    const code = state.getCode();
    if (!link.dead) {
      const adopted = this.link === link;
      if (code === State.SYNC_CONNECTED.getCode()) {
        this.contactAt = performance.now();
        if (adopted) this.emit('connected');
      } else if (code === State.DISCONNECTED.getCode()) {
        if (adopted) this.emit('disconnected');
      } else if (code === State.EXPIRED.getCode() || code === State.AUTH_FAILED.getCode()) {
        // The library does not reconnect after either; both end this client for good.
        link.dead = true;
        if (adopted) {
          this.link = undefined;
          this.emit('expired');
        }
      }
    }
    link.stateChanged();
  }

  /** Ends the session so its ephemeral nodes go; if the connection is down, the server expires it later. */
  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    link.dead = true;
    const wasConnected = link.connected();
    link.client.close();
    // The server drops the connection once the session is closed: wait for that, within bounds.
    const deadline = performance.now() + this.settings.opTimeoutMs;
    while (wasConnected && link.connected() && performance.now() < deadline) await link.nextStateChange(deadline - performance.now());
  }

  /** The session's id in hex; '' without a session. Kept across reconnects of the same session. */
  sessionId(): string {
    return this.link ? this.linkId : '';
  }

  /** What the server answered the session request with (the library keeps it from the connect reply). */
  negotiatedSessionTimeoutMs(): number | undefined {
    return this.link?.client.getSessionTimeout();
  }

  onSession(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivered outside the library's socket handler, so a throwing listener cannot break the connection. */
  private emit(event: SessionEvent): void {
    for (const listener of this.listeners) queueMicrotask(() => listener(event));
  }

  private live(): SessionLink {
    if (!this.link) throw new CoordinatorError('NW_CP_SESSION_EXPIRED', 'no ZooKeeper session: call connect()');
    return this.link;
  }

  /** API path → server path. */
  private full(path: string): string {
    assertValidPath(path);
    const { chroot } = this.settings;
    if (chroot === '/') return path;
    return path === '/' ? chroot : chroot + path;
  }

  /** Server path → API path for an ACL decision; the chroot's own ancestors count as the chroot ('/'). */
  private apiPathOf(server: string): string {
    const { chroot } = this.settings;
    if (chroot === '/' || server.startsWith(`${chroot}/`)) return this.relative(server);
    return '/';
  }

  /** Server path → API path. */
  private relative(path: string): string {
    const { chroot } = this.settings;
    if (chroot === '/') return path;
    return path === chroot ? '/' : path.slice(chroot.length);
  }

  /**
   * One library watcher per (kind, path), fanning out to every caller's one-shot watch. The
   * library ignores a function it already holds for a path, so repeated reads with a watch (a
   * barrier re-arming, a reconcile) do not pile up listeners on a node that rarely changes.
   * Events are delivered outside the library's socket handler.
   */
  private watcher(kind: 'data' | 'children', full: string, watch: Watcher): zookeeper.Watcher {
    const key = `${kind}\u0000${full}`;
    let fanout = this.fanouts.get(key);
    if (!fanout) {
      const listeners = new Set<Watcher>();
      const fn: zookeeper.Watcher = (event) => {
        const type = EVENTS[event.getType()];
        if (!type) return;
        if (this.fanouts.get(key)?.fn === fn) this.fanouts.delete(key);
        const path = this.relative(event.getPath());
        const due = [...listeners];
        listeners.clear();
        for (const l of due) queueMicrotask(() => l({ type, path }));
      };
      fanout = { fn, listeners };
      this.fanouts.set(key, fanout);
    }
    fanout.listeners.add(watch);
    return fanout.fn;
  }

  private exists(link: SessionLink, full: string, watcher?: zookeeper.Watcher): Promise<zookeeper.Stat | null> {
    return link.call(`exists ${full}`, (c, done) => (watcher ? c.exists(full, watcher, done) : c.exists(full, done)));
  }

  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    const full = this.full(path);
    const link = this.live();
    const watcher = watch && this.watcher('data', full, watch);
    return this.readOrWatchCreation(link, full, watcher, () =>
      link.call<NodeData>(`get ${path}`, (c, done) => {
        const reply: zookeeper.DataCallback = (err, data, stat) =>
          err ? done(err, undefined) : done(null, { data: data ?? Buffer.alloc(0), version: stat.version, ...statFields(stat) });
        if (watcher) c.getData(full, watcher, reply);
        else c.getData(full, reply);
      }),
    );
  }

  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    const full = this.full(path);
    const link = this.live();
    const watcher = watch && this.watcher('children', full, watch);
    const names = await this.readOrWatchCreation(link, full, watcher, () =>
      link.call<string[]>(`children ${path}`, (c, done) => {
        const reply: zookeeper.ChildrenCallback = (err, kids) => done(err, kids);
        if (watcher) c.getChildren(full, watcher, reply);
        else c.getChildren(full, reply);
      }),
    );
    return names && [...names].sort();
  }

  /**
   * Runs `read`; if the node is missing and a watch is wanted, sets an exists-watch instead so its
   * creation is heard. The node may appear or vanish between the two calls: loop until they agree.
   */
  private async readOrWatchCreation<T>(
    link: SessionLink,
    full: string,
    watcher: zookeeper.Watcher | undefined,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    for (;;) {
      try {
        return await read();
      } catch (err) {
        if (!isCoordinatorError(err, 'NW_CP_NO_NODE')) throw err;
      }
      if (!watcher || (await this.exists(link, full, watcher)) === null) return undefined;
    }
  }

  async create(path: string, data: Buffer, mode: CreateMode = 'persistent'): Promise<string> {
    const full = this.full(path);
    const acl = this.aclFor(path);
    const created = await this.live().call<string>(`create ${path}`, (c, done) => c.create(full, data, acl, MODES[mode], done));
    return this.relative(created);
  }

  async set(path: string, data: Buffer, version?: number): Promise<number> {
    const full = this.full(path);
    const stat = await this.live().call<zookeeper.Stat>(`set ${path}`, (c, done) => c.setData(full, data, version ?? -1, done));
    return stat.version;
  }

  async remove(path: string, version?: number): Promise<void> {
    const full = this.full(path);
    await this.live().call<null>(`remove ${path}`, (c, done) => c.remove(full, version ?? -1, (err) => done(err, null)));
  }

  async mkdirp(path: string): Promise<void> {
    const full = this.full(path);
    await this.ensurePath(this.live(), full);
  }

  /**
   * Creates each missing node of `full` from the root; checks first, since create on a node we may not write
   * fails NO_AUTH, not NODE_EXISTS.
   */
  private async ensurePath(link: SessionLink, full: string): Promise<void> {
    // Usually the whole path exists already (every state write ensures its acks node): one round trip.
    if ((await this.exists(link, full)) !== null) return;
    let cur = '';
    for (const part of full.split('/').filter(Boolean)) {
      cur += `/${part}`;
      if ((await this.exists(link, cur)) !== null) continue;
      const node = cur;
      const acl = this.aclFor(this.apiPathOf(node));
      try {
        await link.call(`create ${node}`, (c, done: Done<string>) => c.create(node, Buffer.alloc(0), acl, MODES.persistent, done));
      } catch (err) {
        if (!isCoordinatorError(err, 'NW_CP_NODE_EXISTS')) throw err;
      }
    }
  }

  /** Applies all ops or none; on failure rejects with the error of the op that failed, naming its path. */
  async transaction(ops: readonly TransactionOp[]): Promise<void> {
    const full = ops.map((op) => ({ ...op, path: this.full(op.path) }));
    const acls = ops.map((op) => (op.op === 'create' ? this.aclFor(op.path) : []));
    const link = this.live();
    if (full.length === 0) return;
    await link.call<null>('transaction', (c, done) => {
      const tx = c.transaction();
      for (const [i, op] of full.entries()) {
        if (op.op === 'create') tx.create(op.path, op.data, acls[i]!, MODES[op.mode ?? 'persistent']);
        else if (op.op === 'set') tx.setData(op.path, op.data, op.version ?? -1);
        else if (op.op === 'remove') tx.remove(op.path, op.version ?? -1);
        else tx.check(op.path, op.version);
        const queued = tx.ops[tx.ops.length - 1];
        if (queued && op.op !== 'create') queued.version = op.version ?? -1; // undo `version || -1`
      }
      tx.commit((err, results) => {
        if (!err) return done(null, null);
        // Ops before the failing one report OK, those after it RUNTIME_INCONSISTENCY.
        const failed = (results ?? []).findIndex(
          (r) => r.err !== undefined && r.err !== Exception.OK && r.err !== Exception.RUNTIME_INCONSISTENCY,
        );
        const op = ops[failed];
        done(toCoordinatorError(err, op ? `transaction op ${failed} (${op.op} ${op.path})` : 'transaction'), null);
      });
    });
  }
}
