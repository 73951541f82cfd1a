/** A replica as its master lists it (`slaveN:` lines of INFO replication): its acked offset, about once a second. */
export interface ReplicaLine {
  readonly ip: string;
  readonly port: number;
  readonly state: string;
  readonly offset: number;
}

/**
 * The fields of `INFO replication` the replicate strategy decides by. Offsets
 * count bytes of the master's replication stream: every write a master executes is appended to it,
 * in execution order, so "the replica processed offset O of the same history (replid)" means it has
 * executed every write the master had executed when its offset was O.
 */
export interface ReplicationInfo {
  readonly role: 'master' | 'replica';
  /** The history this server is on (a replica: its master's, once synced). */
  readonly replid: string;
  /** The history it was on before its last promotion (all zeros if none): how a promoted replica is recognised. */
  readonly replid2: string;
  readonly masterReplOffset: number;
  /** A replica's master as given to REPLICAOF; undefined for a master. */
  readonly masterHost: string | undefined;
  readonly masterPort: number | undefined;
  readonly linkUp: boolean;
  readonly syncInProgress: boolean;
  /** A replica's processed offset of its master's stream. */
  readonly replicaOffset: number | undefined;
  /** While a full sync loads: bytes of the master's snapshot read so far, and in all (-1 for a diskless one). */
  readonly syncReadBytes: number | undefined;
  readonly syncTotalBytes: number | undefined;
  readonly replicas: readonly ReplicaLine[];
}

function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function replicaLine(v: string): ReplicaLine | undefined {
  const kv = new Map(v.split(',').map((p) => p.split('=', 2) as [string, string]));
  const port = int(kv.get('port'));
  const offset = int(kv.get('offset'));
  if (port === undefined || offset === undefined) return undefined;
  return { ip: kv.get('ip') ?? '', port, state: kv.get('state') ?? '', offset };
}

/** Parses the text of `INFO replication`. */
export function parseReplicationInfo(text: string): ReplicationInfo {
  const f = fields(text);
  const role = f.get('role') === 'slave' ? 'replica' : 'master';
  const replicas: ReplicaLine[] = [];
  for (const [k, v] of f) {
    if (!/^slave\d+$/.test(k)) continue;
    const line = replicaLine(v);
    if (line) replicas.push(line);
  }
  return {
    role,
    replid: f.get('master_replid') ?? '',
    replid2: f.get('master_replid2') ?? '',
    masterReplOffset: int(f.get('master_repl_offset')) ?? 0,
    masterHost: role === 'replica' ? f.get('master_host') : undefined,
    masterPort: role === 'replica' ? int(f.get('master_port')) : undefined,
    linkUp: f.get('master_link_status') === 'up',
    syncInProgress: f.get('master_sync_in_progress') === '1',
    replicaOffset: role === 'replica' ? int(f.get('slave_repl_offset')) : undefined,
    syncReadBytes: int(f.get('master_sync_read_bytes')),
    syncTotalBytes: int(f.get('master_sync_total_bytes')),
    replicas,
  };
}

/** Keys over every database, from the text of `INFO keyspace` (`db0:keys=12,expires=0,avg_ttl=0`). */
export function parseKeyCount(text: string): number {
  let keys = 0;
  for (const [k, v] of fields(text)) if (/^db\d+$/.test(k)) keys += int(/keys=(\d+)/.exec(v)?.[1]) ?? 0;
  return keys;
}

/** Where a replica connects to its master (as REPLICAOF names it). */
export interface ReplicationAddress {
  readonly host: string;
  readonly port: number;
}

export const addressText = (a: ReplicationAddress): string => `${a.host}:${a.port}`;

/** Whether `info` is a replica of the master at `address`. */
export function follows(info: ReplicationInfo, address: ReplicationAddress): boolean {
  return info.role === 'replica' && info.masterHost === address.host && info.masterPort === address.port;
}

/** Whether `info` has processed `offset` of the history `replid` (so holds every write made up to there). */
export function reached(info: ReplicationInfo, replid: string, offset: number): boolean {
  return info.role === 'replica' && info.replid === replid && (info.replicaOffset ?? -1) >= offset;
}

/**
 * Whether the master `promoted` was promoted from following `from`, and took `from`'s history with it:
 * its previous history is `from`'s current one (so `from` wrote nothing on its own since).
 */
export function promotedFrom(promoted: ReplicationInfo, from: ReplicationInfo): boolean {
  return promoted.role === 'master' && from.role === 'master' && promoted.replid2 === from.replid && /[^0]/.test(from.replid);
}
