import type { Redis } from 'ioredis';
import { SyncError } from '../../errors.js';
import { isConnectionFailure } from '../../layer/cache-errors.js';
import { addressText, parseKeyCount, parseReplicationInfo, type ReplicationAddress, type ReplicationInfo } from './replication-info.js';

/** n1: the migration's source Redis; n2: its target. */
export type ReplicationSide = 'n1' | 'n2';

/**
 * How a replica authenticates to its master and whether the link is TLS. Set on the replica with
 * CONFIG SET before REPLICAOF (the server reads them when it connects). The TLS files are paths on
 * the replica's host and are server-wide settings: they also apply to the replica's own TLS
 * listener.
 */
export interface ReplicationLinkOptions {
  /** ACL user of the link (`masteruser`, Redis 6+); without it the master's default user. */
  readonly user?: string;
  /** `masterauth`; undefined leaves the server's setting as it is. */
  readonly password?: string;
  /** `tls-replication yes`, with these files when given. */
  readonly tls?: { readonly caCertFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

function mapped(side: ReplicationSide, what: string, err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  // A server that answered refused it (ACL, a renamed command, a bad TLS file); else it was not reachable.
  const code = isConnectionFailure(err) ? 'NW_SYNC_CACHE_UNAVAILABLE' : 'NW_SYNC_CACHE_REPLICATION_REFUSED';
  return new SyncError(code, `${side} ${what}: ${reason}`, { cause: err, details: { side, command: what } });
}

/** `INFO replication` of one side; NW_SYNC_CACHE_UNAVAILABLE if it does not answer (within the client's command timeout). */
export async function readReplication(client: Redis, side: ReplicationSide): Promise<ReplicationInfo> {
  try {
    return parseReplicationInfo(await client.info('replication'));
  } catch (err) {
    throw mapped(side, 'INFO replication', err);
  }
}

/** Keys over every database of one side (INFO keyspace). */
export async function countKeys(client: Redis, side: ReplicationSide): Promise<number> {
  try {
    return parseKeyCount(await client.info('keyspace'));
  } catch (err) {
    throw mapped(side, 'INFO keyspace', err);
  }
}

async function configSet(client: Redis, side: ReplicationSide, name: string, value: string): Promise<void> {
  try {
    await client.config('SET', name, value);
  } catch (err) {
    // The error names the parameter, never its value (masterauth).
    throw mapped(side, `CONFIG SET ${name}`, err);
  }
}

/**
 * Makes `replica` follow the master at `master`: link settings first, then REPLICAOF. Idempotent:
 * REPLICAOF naming the master it already follows changes nothing (no new sync); otherwise the
 * replica drops its data and syncs from the master (partially, if it has the master's history).
 */
export async function attachReplica(
  replica: Redis,
  side: ReplicationSide,
  master: ReplicationAddress,
  link: ReplicationLinkOptions,
): Promise<void> {
  if (link.user !== undefined) await configSet(replica, side, 'masteruser', link.user);
  if (link.password !== undefined) await configSet(replica, side, 'masterauth', link.password);
  if (link.tls) {
    if (link.tls.caCertFile !== undefined) await configSet(replica, side, 'tls-ca-cert-file', link.tls.caCertFile);
    if (link.tls.certFile !== undefined) await configSet(replica, side, 'tls-client-cert-file', link.tls.certFile);
    if (link.tls.keyFile !== undefined) await configSet(replica, side, 'tls-client-key-file', link.tls.keyFile);
    await configSet(replica, side, 'tls-replication', 'yes');
  }
  try {
    await replica.call('REPLICAOF', master.host, String(master.port));
  } catch (err) {
    throw mapped(side, `REPLICAOF ${addressText(master)}`, err);
  }
}

/** REPLICAOF NO ONE: the server keeps its data and takes writes; its history so far becomes its replid2. */
export async function promote(client: Redis, side: ReplicationSide): Promise<void> {
  try {
    await client.call('REPLICAOF', 'NO', 'ONE');
  } catch (err) {
    throw mapped(side, 'REPLICAOF NO ONE', err);
  }
}
