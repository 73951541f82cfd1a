import { z } from 'zod';
import { jmxNodeSchema, nodetoolConfigSchema } from './nodetool.js';

/**
 * `sync.datastore.replicate` of the control-plane config: what the datastore
 * hook's `replicate` strategy needs besides the two clients (`n1`, `n2`:
 * contact points in each datacenter of the one cluster, whose
 * `localDataCenter` names N1's and N2's datacenter).
 */
export const replicateConfigSchema = z.strictObject({
  nodetool: nodetoolConfigSchema.prefault({}),
  /** N2's datacenter's nodes as nodetool reaches them: each rebuilds from N1, and finalize repairs from them. */
  n2Nodes: z.array(jmxNodeSchema).min(1),
  /** Replicas of each keyspace in N2's datacenter; default: as many as N1's datacenter has. */
  replicationFactor: z.number().int().min(1).max(20).optional(),
  /** Longest one node's rebuild (or repair) of one keyspace may take. */
  rebuildTimeoutMs: z
    .number()
    .int()
    .positive()
    .max(7 * 86_400_000)
    .default(6 * 3_600_000),
  /** Cassandra's write_request_timeout, used when system_views.settings cannot be read. */
  writeTimeoutMs: z.number().int().positive().max(600_000).default(2000),
});

export type ReplicateConfig = Readonly<z.output<typeof replicateConfigSchema>>;
