import { z } from 'zod';
import { FENCE_LIMITS } from '../../protocol/app-state.js';

/**
 * The plan's `datastore` section: how the `datastore` sync hook brings N2's
 * data over. `copy-on-write` (the default, also when the section is absent):
 * the data layers write both clusters, a snapshot copies the rest.
 * `replicate`: N2's Cassandra datacenter joins N1's cluster and the engine
 * replicates (docs/architecture.md, "Data sync").
 */
export const datastorePlanSchema = z.strictObject({
  strategy: z.enum(['copy-on-write', 'replicate']).default('copy-on-write'),
  replicate: z
    .strictObject({
      /** A keyspace on SimpleStrategy is made NetworkTopologyStrategy (its factor in N1's datacenter) instead of refused. */
      setNetworkTopology: z.boolean().default(false),
      /** What may still be outstanding toward N2's datacenter, summed over N1's nodes, for the fence to go ahead. */
      lagLimit: z
        .strictObject({
          /** Hint files N1's nodes hold for N2's (writes N2 missed: down, paused, cut off, too slow). */
          hintFiles: z.number().int().min(0).default(0),
          /** Messages queued on N1's connections to N2's datacenter, not sent yet. */
          outboundMessages: z.number().int().min(0).default(100),
        })
        .prefault({}),
      /** How long the end of sync waits for the lag to come within the limit before `onLagLimit`. */
      lagWaitMs: z.number().int().min(0).max(3_600_000).default(60_000),
      /** Over the limit after `lagWaitMs`: pause for an operator (resume re-runs the sync), or roll back. */
      onLagLimit: z.enum(['pause', 'rollback']).default('pause'),
      /**
       * At the fence (and in a rollback from N2), how long the drain may take: the write timeout waited
       * out, the hints delivered, the digests compared. Past it the fence fails and the migration rolls
       * back. Held writes wait as long: the plan's fence.maxHoldMs must be above it (checked).
       */
      drainTimeoutMs: z.number().int().min(1000).max(FENCE_LIMITS.maxHoldMs).default(30_000),
      /**
       * How the fence knows every write N1 acknowledged is at N2's datacenter (docs/architecture.md,
       * "The safety argument"). `each-quorum` (default): before the fence, writes still flowing, the
       * data layers switch to EACH_QUORUM and the datacenters' digests are compared for every row
       * written before the switch; the fence has nothing left to drain. `drain`: the data layers
       * keep their level and the fence waits out the write timeout with every write held.
       */
      finalWindow: z.enum(['each-quorum', 'drain']).default('each-quorum'),
      /**
       * Where the `each-quorum` window runs. `sync` (default): last in the sync step, so the
       * handover command (the fence) finds it done and takes only its barriers; writes wait for N2
       * from the end of sync to the fence, and a pause before the fence puts the layers back to
       * their own level (the fence phase then runs the window itself). `fence`: always first in the
       * fence phase, so writes wait for N2 only during the handover command.
       */
      windowIn: z.enum(['fence', 'sync']).default('sync'),
      /**
       * The floor of the `each-quorum` window's cutoff (ms after its switch): how far the clock of an
       * app server that left before the switch (and so reports nothing) may run ahead of the control
       * plane's. The data layers that ack the switch report where their writes before it end.
       */
      clockSkewMs: z.number().int().min(0).max(60_000).default(250),
      /**
       * Compare every range's digest between the datacenters at the fence, writes held. Default: with
       * the `drain` window (its proof nothing is missing); not with `each-quorum` (compared before).
       */
      digestAtFence: z.boolean().optional(),
    })
    .prefault({}),
});

export type DatastorePlan = z.output<typeof datastorePlanSchema>;

/** Plan fields the replicate strategy cannot work with, as [path, message] pairs (empty if none). */
export function replicateConflicts(plan: {
  datastore?: DatastorePlan | undefined;
  sync: { mode: string };
  proxy: { mirrorWritesToN1: boolean };
  fence: { maxHoldMs?: number | undefined };
}): Array<[string[], string]> {
  if (plan.datastore?.strategy !== 'replicate') return [];
  const out: Array<[string[], string]> = [];
  // N1 and N2 share one cluster: a write sent to both apps would be applied twice to the same rows.
  if (plan.sync.mode !== 'none')
    out.push([['sync', 'mode'], 'must be none with datastore.strategy replicate (N1 and N2 write the same cluster)']);
  if (plan.proxy.mirrorWritesToN1)
    out.push([
      ['proxy', 'mirrorWritesToN1'],
      "must be false with datastore.strategy replicate (N1's datacenter stays a replica: a rollback needs no mirrored writes)",
    ]);
  // The drain (or a digest at the fence) runs with every write held: a gateway that gives up
  // holding first fails those writes (its own default, 5000 ms, is below the drain's). So the plan
  // must hold them longer than the drain. The each-quorum window leaves nothing to do at the fence.
  const { drainTimeoutMs: drain, finalWindow, digestAtFence } = plan.datastore.replicate;
  const holdsForDrain = finalWindow === 'drain' || digestAtFence === true;
  if (holdsForDrain && (plan.fence.maxHoldMs === undefined || plan.fence.maxHoldMs <= drain))
    out.push([
      ['fence', 'maxHoldMs'],
      `must be set above datastore.replicate.drainTimeoutMs (${drain} ms) with datastore.strategy replicate: ` +
        `writes are held while the fence ${finalWindow === 'drain' ? 'drains' : 'compares digests'}`,
    ]);
  return out;
}
