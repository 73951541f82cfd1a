import type { Client } from 'cassandra-driver';
import { SyncError } from '../errors.js';

/**
 * Keyspace replication as `ALTER KEYSPACE` changes it: which datacenters hold
 * replicas, and how many each. Adding N2's datacenter makes Cassandra send
 * every later write there too; existing data needs a rebuild.
 */

const NTS = 'org.apache.cassandra.locator.NetworkTopologyStrategy';
const SIMPLE = 'org.apache.cassandra.locator.SimpleStrategy';

export type Replication = Readonly<Record<string, string>>;

export async function readReplication(client: Client, keyspace: string): Promise<Replication | undefined> {
  const rs = await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true });
  const row = rs.first();
  return row ? (row.get('replication') as Record<string, string>) : undefined;
}

/** Replicas per datacenter of an NTS keyspace (the class entry left out). */
export function dataCenterFactors(r: Replication): Record<string, number> {
  return Object.fromEntries(
    Object.entries(r)
      .filter(([k]) => k !== 'class')
      .map(([k, v]) => [k, Number(v)]),
  );
}

function alterCql(keyspace: string, factors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(factors).map(([dc, n]) => `'${dc.replaceAll("'", "''")}': ${n}`);
  return `ALTER KEYSPACE ${keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', ${entries.join(', ')}}`;
}

/** Datacenters with at least one node, as the driver's metadata knows the cluster. */
export function knownDataCenters(client: Client): Set<string> {
  return new Set(client.hosts.values().map((h) => h.datacenter));
}

export interface AddDataCenterOptions {
  readonly keyspace: string;
  readonly source: string;
  readonly target: string;
  /** Replicas in the target datacenter; default: as many as the source has. */
  readonly targetFactor: number | undefined;
  /** Turn a SimpleStrategy keyspace into NTS with the source datacenter holding its replicas. */
  readonly setNetworkTopology: boolean;
}

/**
 * Makes `target` a replica datacenter of the keyspace (idempotent). A keyspace that is not NTS is
 * refused (NW_SYNC_KEYSPACE_NOT_NTS) unless `setNetworkTopology`: then a SimpleStrategy keyspace
 * becomes NTS with its factor in `source`, which places replicas as before in a single-datacenter,
 * single-rack cluster (Cassandra's documented path; with racks, run a repair after it).
 * Returns whether the keyspace changed.
 */
export async function addDataCenter(
  client: Client,
  o: AddDataCenterOptions,
): Promise<{ changed: boolean; factors: Record<string, number> }> {
  const r = await readReplication(client, o.keyspace);
  if (!r)
    throw new SyncError('NW_SYNC_SCHEMA_MISMATCH', `keyspace ${o.keyspace} does not exist at N1`, { details: { keyspace: o.keyspace } });
  let factors: Record<string, number>;
  if (r.class === NTS) {
    factors = dataCenterFactors(r);
  } else if (r.class === SIMPLE && o.setNetworkTopology) {
    factors = { [o.source]: Number(r.replication_factor) };
  } else {
    throw new SyncError(
      'NW_SYNC_KEYSPACE_NOT_NTS',
      `keyspace ${o.keyspace} uses ${r.class ?? 'an unknown strategy'}` +
        (r.class === SIMPLE ? ' (the plan may allow datastore.replicate.setNetworkTopology)' : ''),
      { details: { keyspace: o.keyspace, class: r.class } },
    );
  }
  const sourceFactor = factors[o.source];
  if (!sourceFactor)
    throw new SyncError('NW_SYNC_DATACENTER_UNKNOWN', `keyspace ${o.keyspace} has no replicas in N1's datacenter ${o.source}`, {
      details: { keyspace: o.keyspace, replication: factors },
    });
  const want = o.targetFactor ?? sourceFactor;
  if (factors[o.target] === want && r.class === NTS) return { changed: false, factors };
  const next = { ...factors, [o.target]: want };
  await client.execute(alterCql(o.keyspace, next));
  return { changed: true, factors: next };
}

/** Drops `dc` from the keyspace's replication (idempotent); at least one datacenter must stay. */
export async function removeDataCenter(client: Client, keyspace: string, dc: string): Promise<boolean> {
  const r = await readReplication(client, keyspace);
  if (!r || r.class !== NTS) return false;
  const factors = dataCenterFactors(r);
  if (!(dc in factors)) return false;
  delete factors[dc];
  if (Object.keys(factors).length === 0)
    throw new SyncError('NW_SYNC_FINALIZE_FAILED', `keyspace ${keyspace}: ${dc} is its only datacenter`, { details: { keyspace } });
  await client.execute(alterCql(keyspace, factors));
  return true;
}
