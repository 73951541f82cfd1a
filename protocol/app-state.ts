import { z } from 'zod';
import { migrationIdSchema } from './identifiers.js';

/** Which deployment a request is sent to. */
export type Deployment = 'n1' | 'n2';
export const deploymentSchema = z.enum(['n1', 'n2']);

const serveState = z.strictObject({ mode: z.literal('serve') });

const mirrorState = z.strictObject({
  mode: z.literal('mirror'),
  /** Whose reply a mirrored write returns; both must succeed either way. */
  primary: deploymentSchema.default('n1'),
  /** Where reads go first; on connection error or 5xx they fall back to the other side. */
  readFrom: deploymentSchema.default('n1'),
  /** Also send reads to the other side and compare status + body hash. */
  shadowCompare: z.boolean().default(false),
});

/**
 * The most a state may ask a gateway to hold: held writes keep their bodies in memory and their
 * clients waiting, so a state (written by whoever can write the state node) must not be able to
 * ask for unbounded memory or for clients to wait past any sensible request timeout.
 */
export const FENCE_LIMITS = Object.freeze({ maxHeldWrites: 10_000, maxHoldMs: 60_000 });

/** A state document is a few hundred bytes; anything much larger is refused before it is parsed. */
export const MAX_STATE_DOCUMENT_BYTES = 16 * 1024;

const fenceState = z.strictObject({
  mode: z.literal('fence'),
  /** Reads continue to this deployment while writes are held. */
  readFrom: deploymentSchema.default('n1'),
  maxHeldWrites: z.number().int().min(0).max(FENCE_LIMITS.maxHeldWrites).optional(),
  maxHoldMs: z.number().int().positive().max(FENCE_LIMITS.maxHoldMs).optional(),
});

const proxyState = z.strictObject({
  mode: z.literal('proxy'),
  /** Writes served by N2 are also applied to N1 (both must succeed) so a rollback loses nothing. */
  mirrorWritesToN1: z.boolean().default(false),
});

const redirectState = z.strictObject({
  mode: z.literal('redirect'),
  status: z.union([z.literal(301), z.literal(307), z.literal(308)]).default(307),
  /** 'all' redirects every method; 'safe' redirects GET/HEAD and proxies the rest to N2. */
  methods: z.enum(['all', 'safe']).default('all'),
  /** With 'safe': writes proxied to N2 are also applied to N1 (both must succeed), as in proxy mode. */
  mirrorWritesToN1: z.boolean().default(false),
});

export const appModeSchema = z.discriminatedUnion('mode', [serveState, mirrorState, fenceState, proxyState, redirectState]);

export type AppMode = z.output<typeof appModeSchema>;
export type AppModeName = AppMode['mode'];

/** Marks an app as mid-migration: lease fencing applies to it while this is set. */
export const migrationTagSchema = z.strictObject({
  id: migrationIdSchema,
  phase: z.string().min(1).max(64),
});
export type MigrationTag = z.output<typeof migrationTagSchema>;

/**
 * What the data layers of an app (the app servers' datastore and cache
 * clients) do under a state. Gateways ignore it; data-layer members apply it
 * and ack the same epoch, so one barrier covers both.
 * - datastore: local (only the local cluster), copy-on-write (every write and
 *   delete also goes to N2 with the same write timestamp), n2 (all access to N2),
 *   each-quorum (the local cluster only, every write at EACH_QUORUM: acknowledged
 *   once every datacenter of the cluster holds it; the replicate strategy's last
 *   window before the fence).
 * - cache: local, or copy (sets/deletes also applied to N2's cache, and hits
 *   copied to N2: copy-on-write plus copy-on-read), or follow (the local Redis
 *   is a replica of N2's: sets and deletes are left to replication, reads local).
 */
export const dataModeSchema = z.strictObject({
  datastore: z.enum(['local', 'copy-on-write', 'n2', 'each-quorum']).default('local'),
  cache: z.enum(['local', 'copy', 'follow']).default('local'),
});
export type DataMode = z.output<typeof dataModeSchema>;
export const LOCAL_DATA_MODE: DataMode = Object.freeze({ datastore: 'local', cache: 'local' });

/**
 * Desired state of one app, applied as a whole. `epoch` orders states (the
 * ZooKeeper version of the app's state node); `migration` is set while a
 * migration is in progress.
 */
export type AppState = AppMode & { readonly epoch: number; readonly migration?: MigrationTag; readonly data?: DataMode };
export type AppStateInput = z.input<typeof appModeSchema> & {
  epoch: number;
  migration?: MigrationTag;
  data?: z.input<typeof dataModeSchema>;
};

function prefixIssues(err: z.ZodError, field: string): z.ZodError {
  return new z.ZodError(err.issues.map((i) => ({ ...i, path: [field, ...i.path] })));
}

/** Parses a state document for one app; throws ZodError naming the field. */
export function parseAppState(raw: unknown): AppState {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new z.ZodError([{ code: 'custom', path: [], message: 'state must be an object', input: raw }]);
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  if (bytes > MAX_STATE_DOCUMENT_BYTES) {
    const message = `state document is ${bytes} bytes, over the limit of ${MAX_STATE_DOCUMENT_BYTES}`;
    throw new z.ZodError([{ code: 'custom', path: [], message, input: undefined }]);
  }
  const { epoch, migration, data, ...rest } = raw as Record<string, unknown>;
  const epochParsed = z.number().int().min(0).safeParse(epoch);
  if (!epochParsed.success) throw prefixIssues(epochParsed.error, 'epoch');
  let tag: MigrationTag | undefined;
  if (migration !== undefined) {
    const m = migrationTagSchema.safeParse(migration);
    if (!m.success) throw prefixIssues(m.error, 'migration');
    tag = m.data;
  }
  let dataMode: DataMode | undefined;
  if (data !== undefined) {
    const d = dataModeSchema.safeParse(data);
    if (!d.success) throw prefixIssues(d.error, 'data');
    dataMode = Object.freeze(d.data);
  }
  const mode = appModeSchema.parse(rest);
  return Object.freeze({
    ...mode,
    epoch: epochParsed.data,
    ...(tag ? { migration: Object.freeze(tag) } : {}),
    ...(dataMode ? { data: dataMode } : {}),
  });
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** Reads are methods without side effects; everything else is a write. */
export function isWriteMethod(method: string): boolean {
  return !SAFE.has(method);
}

/** Deployments that may receive writes under a state: the fence waits out the others. */
export function allowedWriteTargets(state: AppMode): ReadonlySet<Deployment> {
  switch (state.mode) {
    case 'serve':
      return new Set(['n1']);
    case 'mirror':
      return new Set(['n1', 'n2']);
    case 'fence':
      return new Set();
    case 'proxy':
      return new Set(state.mirrorWritesToN1 ? ['n2', 'n1'] : ['n2']);
    case 'redirect':
      if (state.methods !== 'safe') return new Set();
      return new Set(state.mirrorWritesToN1 ? ['n2', 'n1'] : ['n2']);
  }
}
