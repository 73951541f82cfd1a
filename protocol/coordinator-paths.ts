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
  dataLock: (app: string, group: string): string => joinPath('datalocks', app, group),
} as const;

/** What a member writes about itself. */
export interface MemberInfo {
  readonly kind: 'gateway' | 'datalayer' | 'controlplane';
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  /** Apps this member applies state for; barriers wait only on members that serve the app. */
  readonly apps: readonly string[];
}

/** What a member writes after applying an app's state. */
export interface AckInfo {
  readonly epoch: number;
  readonly appliedAt: string;
  /** Time the apply took, including the drain of forbidden writes. */
  readonly applyMs: number;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
