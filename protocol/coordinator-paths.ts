import { z } from 'zod';
import { appNameSchema } from './identifiers.js';
import { joinPath } from './node-paths.js';

/**
 * Where everything lives in the coordinator (relative to its chroot):
 *
 *   /apps/<app>/state            desired state JSON; its version is the epoch
 *   /apps/<app>/acks/<member>    ephemeral { epoch, appliedAt } per member
 *   /apps/<app>/lock             which migration owns the app right now
 *   /members/<member>            ephemeral { kind, host, pid, startedAt, apps }
 *   /migrations/<id>             persistent phase log
 *   /leader/candidate-<seq>      control-plane election
 *   /sync/<id>/datastore/<ks.table>/<range>   snapshot-copy checkpoint per token range
 *   /datalocks/<app>/<group>/lock-<seq>       ephemeral: entity-group transaction locks (app servers' data layers)
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
});
export type MemberInfo = Readonly<Omit<z.output<typeof memberInfoSchema>, 'apps'>> & { readonly apps: readonly string[] };

/** What a member writes after applying an app's state. */
export const ackInfoSchema = z.object({
  epoch: z.number().int().min(0),
  appliedAt: z.string().max(64),
  /** Time the apply took, including the drain of forbidden writes. */
  applyMs: z.number().min(0),
});
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
