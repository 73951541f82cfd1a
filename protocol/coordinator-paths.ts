import { z } from 'zod';
import { dataModeSchema } from './app-state.js';
import { appNameSchema } from './identifiers.js';
import { joinPath } from './node-paths.js';

/**
 * Where everything lives in the coordinator (relative to its chroot):
 *
 *   /apps/<app>/state            desired state JSON; its version is the epoch
 *   /apps/<app>/acks/<member>    ephemeral { epoch, appliedAt, applyMs, refused?, datastore?, datastoreTargets? } per member
 *   /apps/<app>/lock             which migration owns the app right now
 *   /members/<member>            ephemeral { kind, host, pid, startedAt, apps, adminUrl?, trafficUrls? }
 *   /migrations/<id>             persistent phase log
 *   /leader/candidate-<seq>      control-plane election
 *   /sync/<id>/datastore/<ks.table>/<range>   snapshot-copy checkpoint per token range
 *   /datalocks/<app>/<group>/lock-<seq>       ephemeral: entity-group transaction locks (app servers' data layers)
 *   /loadruns/<run>                          one run of several load agents (`northwest-loadgen`), made by its controller:
 *     agents/<agent>                         ephemeral: an agent that joined the run
 *     start                                  the controller's start document (start time, agents, load spec)
 *     results/<agent>/part-<n>, manifest     ephemeral: the agent's result in chunks, the manifest written last
 *     end                                    the controller collected (or gave up): agents may leave
 *
 * Who may create and write each node (ZooKeeper digest ACLs): docs/architecture.md, "Coordinator access".
 */
export const layout = {
  apps: '/apps',
  app: (app: string): string => joinPath('apps', app),
  state: (app: string): string => joinPath('apps', app, 'state'),
  acks: (app: string): string => joinPath('apps', app, 'acks'),
  ack: (app: string, member: string): string => joinPath('apps', app, 'acks', member),
  lock: (app: string): string => joinPath('apps', app, 'lock'),
  members: '/members',
  member: (id: string): string => joinPath('members', id),
  migrations: '/migrations',
  migration: (id: string): string => joinPath('migrations', id),
  leader: '/leader',
  /** Root of one migration's datastore snapshot checkpoints (one child per `ks.table`). */
  syncDatastore: (migrationId: string): string => joinPath('sync', migrationId, 'datastore'),
  /** One entity group's lock waiters (ephemeral-sequential children). */
  datalocks: '/datalocks',
  dataLock: (app: string, group: string): string => joinPath('datalocks', app, group),
  loadRuns: '/loadruns',
  loadRun: (run: string): string => joinPath('loadruns', run),
  loadRunAgents: (run: string): string => joinPath('loadruns', run, 'agents'),
  loadRunAgent: (run: string, agent: string): string => joinPath('loadruns', run, 'agents', agent),
  loadRunStart: (run: string): string => joinPath('loadruns', run, 'start'),
  loadRunResults: (run: string): string => joinPath('loadruns', run, 'results'),
  /** One agent's result: chunk nodes and the manifest, which the agent creates last. */
  loadRunResult: (run: string, agent: string): string => joinPath('loadruns', run, 'results', agent),
  loadRunEnd: (run: string): string => joinPath('loadruns', run, 'end'),
} as const;

/** The persistent nodes the control plane creates (with their ACLs) before any member can join. */
export const TREE_ROOTS: readonly string[] = Object.freeze([
  layout.apps,
  layout.members,
  layout.migrations,
  layout.leader,
  layout.datalocks,
]);

/**
 * Bound on a member or ack document: both are a few hundred bytes, so anything near ZooKeeper's
 * 1 MB node limit is hostile or broken and is refused before it is parsed.
 */
export const MAX_MEMBER_DOCUMENT_BYTES = 16 * 1024;

/** Bound on a refusal's detail, well inside the document bound (a member truncates to it). */
export const MAX_REFUSAL_DETAIL_CHARS = 1024;

/** Bound on a member's `adminUrl` (a loopback address and port need a few dozen characters). */
export const MAX_ADMIN_URL_CHARS = 256;

/** Bound on how many `trafficUrls` a member publishes (one per listener). */
export const MAX_TRAFFIC_URLS = 16;

export const memberKindSchema = z.enum(['gateway', 'datalayer', 'controlplane']);

/**
 * What a member writes about itself. Loose (unknown fields are dropped, not refused) so that a
 * newer member adding a field stays readable; the fields a barrier relies on are required.
 */
export const memberInfoSchema = z.object({
  kind: memberKindSchema,
  host: z.string().max(255),
  pid: z.number().int().min(0),
  startedAt: z.string().max(64),
  /** Apps this member applies state for; barriers wait only on members that serve the app. */
  apps: z.array(appNameSchema).max(1024),
  /**
   * Where a gateway's admin API listens (its own loopback address, as `admin` binds only there): the
   * control plane reads `/metrics` from it for a plan's analysis gates. An invalid or overlong one is
   * dropped, never the member: a barrier must not stop waiting for a member over this field.
   */
  adminUrl: z
    .url({ protocol: /^https?$/ })
    .max(MAX_ADMIN_URL_CHARS)
    .optional()
    .catch(() => undefined),
  /**
   * Where a gateway takes traffic: one URL per listener, as bound (a wildcard bind reads
   * `http://0.0.0.0:<port>`; a reader puts the member's `host` in its place). A load test attached
   * to the fleet (northwest-loadtest) sends its load there. Dropped, never the member, when invalid.
   */
  trafficUrls: z
    .array(z.url({ protocol: /^https?$/ }).max(MAX_ADMIN_URL_CHARS))
    .max(MAX_TRAFFIC_URLS)
    .optional()
    .catch(() => undefined),
});
export type MemberInfo = Readonly<Omit<z.output<typeof memberInfoSchema>, 'apps'>> & { readonly apps: readonly string[] };

/**
 * A member's refusal of one epoch: a state it can never take (a document it cannot apply, or a
 * fence toward N2 it must not ack because N2 failed writes that N1 confirmed to clients). The
 * control plane's barrier ends at once on it instead of waiting out its deadline.
 */
export const ackRefusalSchema = z.object({
  /** The epoch refused: a barrier waiting for this one or an older one cannot pass without a newer state. */
  epoch: z.number().int().min(0),
  /** A code from the member's error catalogue (NW_GW_…, NW_SYNC_…, NW_CP_DOCUMENT_INVALID). */
  code: z.string().regex(/^NW_[A-Z0-9_]{1,64}$/),
  /** For the operator: what the member could not take, and why (app, counts). */
  detail: z.string().max(MAX_REFUSAL_DETAIL_CHARS),
});
export type AckRefusal = Readonly<z.output<typeof ackRefusalSchema>>;

/**
 * What a data layer's datastore says with its ack (docs/architecture.md, "Replicate: no
 * acknowledged write missing at N2"): the mode in force, since which epoch this process has been
 * in it, the last write timestamp it handed out before it entered it (every write it sent under
 * the mode before has a timestamp at or below), how many of its writes under the mode failed
 * since, and how many are still running. The control plane trusts the `each-quorum` window's shortcut only when every data layer
 * says it was in the mode since the switch with no failed write; anything else (no report, a
 * report that does not parse) sends the fence to the drain, which needs none.
 */
export const datastoreAckReportSchema = z.strictObject({
  mode: dataModeSchema.shape.datastore.removeDefault(),
  sinceEpoch: z.number().int().min(0),
  writesThroughUs: z.number().int().min(0),
  failures: z.number().int().min(0),
  /** Writes under the mode still running when it acked (their outcome unknown yet). */
  inFlight: z.number().int().min(0),
});
export type DatastoreAckReport = Readonly<z.output<typeof datastoreAckReportSchema>>;

/**
 * What a member writes to its ack node: the last epoch it applied and acked in this session, and
 * the epoch it refused since, if any. The refusal rides in the ack node rather than a sibling node
 * because a member may write nothing else (ACLs), and a barrier already holds a watch on every ack
 * it waits for, so a refusal costs it the same one read as an ack. It is backward-compatible both
 * ways: an old ack (no `refused`) reads as before; an older control plane ignores `refused` and
 * reads the epoch as the ack it has always been — never as an ack of the refused epoch. A member
 * that refuses before it acked anything in this session writes `refused` alone: an older control
 * plane finds that document invalid and counts it as no ack (it times out, as before refusals).
 */
export const ackInfoSchema = z
  .object({
    epoch: z.number().int().min(0).optional(),
    appliedAt: z.string().max(64).optional(),
    /** Time the apply took, including the drain of forbidden writes. */
    applyMs: z.number().min(0).optional(),
    refused: ackRefusalSchema.optional(),
    /** A data layer's report on its datastore writes; one that does not parse reads as none (never the ack). */
    datastore: datastoreAckReportSchema.optional().catch(() => undefined),
    /**
     * How many datastore layers the data layer has for the app: 0 says it writes no datastore through
     * Northwest (a cache-only member), so it has nothing to report. Absent (an older member): unknown.
     */
    datastoreTargets: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .catch(() => undefined),
  })
  .refine((a) => (a.epoch === undefined) === (a.appliedAt === undefined) && (a.epoch === undefined) === (a.applyMs === undefined), {
    message: 'epoch, appliedAt and applyMs go together',
  })
  .refine((a) => a.epoch !== undefined || a.refused !== undefined, { message: 'neither an ack (epoch) nor a refusal' });
export type AckInfo = Readonly<z.output<typeof ackInfoSchema>>;

/** Why a coordinator document was refused, naming the field (for a typed, logged error). */
export type DocumentVerdict<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Parses a JSON document of bounded size against a schema; never throws. */
export function parseDocument<T>(schema: z.ZodType<T>, data: Buffer, maxBytes: number): DocumentVerdict<T> {
  if (data.length > maxBytes) return { ok: false, reason: `document is ${data.length} bytes, over the limit of ${maxBytes}` };
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = parsed.error.issues.map((i) => `${i.path.length === 0 ? '(root)' : i.path.join('.')}: ${i.message}`);
  return { ok: false, reason: issues.join('; ') };
}

export const parseMemberInfo = (data: Buffer): DocumentVerdict<MemberInfo> =>
  parseDocument(memberInfoSchema, data, MAX_MEMBER_DOCUMENT_BYTES);
export const parseAckInfo = (data: Buffer): DocumentVerdict<AckInfo> => parseDocument(ackInfoSchema, data, MAX_MEMBER_DOCUMENT_BYTES);

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
