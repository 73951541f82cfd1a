import type { Client, Host } from 'cassandra-driver';

/**
 * What is still outstanding between two datacenters of one cluster, read from
 * the nodes' virtual tables (the CQL face of `nodetool listpendinghints`,
 * `netstats` and the dropped-message counters): no JVM is started per
 * reading, so the lag can be polled every few hundred milliseconds.
 *
 * A write a coordinator in the sending datacenter acknowledged is, toward
 * the other datacenter, either applied there, on the wire (a message queued
 * on an outbound connection), or a hint (written when the replica did not
 * answer within the write timeout, or was down). So "nothing queued and no
 * hint" after the write timeout has passed means nothing outstanding.
 */

export interface ReplicationLag {
  /** Hint files the sending nodes hold for the receiving datacenter's nodes. */
  readonly hintFiles: number;
  /** Age of the oldest of those hints (ms), if any. */
  readonly oldestHintMs: number | undefined;
  /** Messages queued on the sending nodes' connections to the receiving datacenter, not yet sent. */
  readonly outboundPending: number;
  /**
   * Messages toward the receiving datacenter dropped before they were sent (expired, overload,
   * error) since each node started; a dropped write is hinted.
   */
  readonly outboundDropped: number;
  /** Streaming sessions in progress on either side (a rebuild, a repair). */
  readonly streams: number;
  /** Nodes whose tables could not be read (down, paused, partitioned): the lag is unknown while any is listed. */
  readonly unreadNodes: readonly string[];
}

export interface LagSides {
  /** A client whose local datacenter is the sending one. */
  readonly from: Client;
  readonly fromDc: string;
  /** A client whose local datacenter is the receiving one. */
  readonly to: Client;
  readonly toDc: string;
  /** Per-node read timeout: a paused node must not hold a reading for the driver's default 12 s. */
  readonly readTimeoutMs?: number;
}

const ACTIVE_STREAM = new Set(['init', 'start']);

function hostsIn(client: Client, dc: string): Host[] {
  return client.hosts.values().filter((h) => h.datacenter === dc);
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/**
 * A query on one node, given up after `readTimeoutMs` whatever the driver does: its read timeout
 * does not cover a request waiting for a connection to a paused node (found by the lag test: a
 * reading of a SIGSTOPped node hung for minutes).
 */
export async function onHost(client: Client, host: Host, cql: string, readTimeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${host.address}: no answer within ${readTimeoutMs} ms`)), readTimeoutMs + 250);
  });
  try {
    return (await Promise.race([client.execute(cql, [], { host, readTimeout: readTimeoutMs, isIdempotent: true }), deadline])).rows;
  } finally {
    clearTimeout(timer);
  }
}

export async function measureLag(s: LagSides): Promise<ReplicationLag> {
  const timeout = s.readTimeoutMs ?? 2000;
  const unread: string[] = [];
  let hintFiles = 0;
  let oldest: number | undefined;
  let outboundPending = 0;
  let outboundDropped = 0;
  let streams = 0;
  const senders = hostsIn(s.from, s.fromDc);
  const receivers = hostsIn(s.to, s.toDc);
  if (senders.length === 0) unread.push(`${s.fromDc}: no node known`);
  if (receivers.length === 0) unread.push(`${s.toDc}: no node known`);
  const countStreams = async (client: Client, h: Host): Promise<void> => {
    for (const r of await onHost(client, h, 'SELECT status FROM system_views.streaming', timeout))
      if (ACTIVE_STREAM.has(String(r.get('status')).toLowerCase())) streams++;
  };
  await Promise.all([
    ...senders.map(async (h) => {
      try {
        const [hints, outbound] = await Promise.all([
          onHost(s.from, h, 'SELECT dc, files, oldest FROM system_views.pending_hints', timeout),
          onHost(
            s.from,
            h,
            'SELECT dc, pending_count, expired_count, overload_count, error_count FROM system_views.internode_outbound',
            timeout,
          ),
        ]);
        for (const r of hints) {
          if (r.get('dc') !== s.toDc) continue;
          hintFiles += num(r.get('files'));
          const at = r.get('oldest') as Date | null;
          if (at && num(r.get('files')) > 0) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, at.getTime());
        }
        for (const r of outbound) {
          if (r.get('dc') !== s.toDc) continue;
          outboundPending += num(r.get('pending_count'));
          outboundDropped += num(r.get('expired_count')) + num(r.get('overload_count')) + num(r.get('error_count'));
        }
        await countStreams(s.from, h);
      } catch {
        unread.push(`${h.address} (${s.fromDc})`);
      }
    }),
    ...receivers.map(async (h) => {
      try {
        await countStreams(s.to, h);
      } catch {
        unread.push(`${h.address} (${s.toDc})`);
      }
    }),
  ]);
  return {
    hintFiles,
    oldestHintMs: oldest === undefined ? undefined : Math.max(0, Date.now() - oldest),
    outboundPending,
    outboundDropped,
    streams,
    unreadNodes: unread.sort(),
  };
}

/** The limit a lag must be within for the fence to go ahead. */
export interface LagLimit {
  readonly hintFiles: number;
  readonly outboundMessages: number;
  readonly streams: number;
}

/** Why the lag is over the limit, or undefined if it is within it. An unreadable node is over any limit: its lag is unknown. */
export function overLimit(lag: ReplicationLag, limit: LagLimit): string | undefined {
  const why: string[] = [];
  if (lag.unreadNodes.length > 0) why.push(`unreadable: ${lag.unreadNodes.join(', ')}`);
  if (lag.hintFiles > limit.hintFiles) why.push(`${lag.hintFiles} hint file(s) (limit ${limit.hintFiles})`);
  if (lag.outboundPending > limit.outboundMessages) why.push(`${lag.outboundPending} queued message(s) (limit ${limit.outboundMessages})`);
  if (lag.streams > limit.streams) why.push(`${lag.streams} stream(s) in progress (limit ${limit.streams})`);
  return why.length ? why.join('; ') : undefined;
}

/** Cassandra's write timeout as the sending nodes are configured (the longest), in ms; `fallbackMs` if unreadable. */
export async function writeTimeoutMs(client: Client, dc: string, fallbackMs: number): Promise<number> {
  let max: number | undefined;
  for (const h of hostsIn(client, dc)) {
    try {
      const rows = await onHost(client, h, "SELECT value FROM system_views.settings WHERE name = 'write_request_timeout'", 2000);
      const v = parseDurationMs(String(rows[0]?.get('value') ?? ''));
      if (v !== undefined) max = Math.max(max ?? 0, v);
    } catch {
      // an unreadable node: the fallback stands in for it
      max = Math.max(max ?? 0, fallbackMs);
    }
  }
  return max ?? fallbackMs;
}

/** "2000ms", "2s", "1m" (Cassandra's duration settings), or a bare number of ms. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|us|µs)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  switch ((m[2] ?? 'ms').toLowerCase()) {
    case 's':
      return n * 1000;
    case 'm':
      return n * 60_000;
    case 'us':
    case 'µs':
      return n / 1000;
    default:
      return n;
  }
}
