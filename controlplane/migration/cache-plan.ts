import { z } from 'zod';
import { FENCE_LIMITS } from '../../protocol/app-state.js';

const addressSchema = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

/**
 * The replicate strategy's options. N2's Redis becomes a replica of N1's in prepare; the fence
 * waits until the replica's lag is within `lagLimit` (up to `lagWaitMs`, then `onLagLimit`) and,
 * once writes are held, until it has processed N1's whole stream; proxy promotes N2 and makes N1
 * follow it, so a rollback finds N1 current; done releases N1. docs/architecture.md, "The replicate
 * strategy for the cache".
 */
const replicateSchema = z.strictObject({
  /** The link's credentials: `masteruser` (an ACL user, Redis 6+) and `masterauth`, read from the control plane's environment. */
  auth: z.strictObject({ user: z.string().min(1).optional(), passwordEnv: z.string().min(1) }).optional(),
  /** Replicate over TLS (`tls-replication yes`); files are paths on the replica's host (server-wide settings). */
  tls: z
    .strictObject({
      caCertFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), 'certFile and keyFile go together')
    .optional(),
  /** Where N2's Redis reaches N1's (and N1's reaches N2's); default: the endpoints of the control plane's `sync.cache`. */
  n1Address: addressSchema.optional(),
  n2Address: addressSchema.optional(),
  /** The most the replica may be behind when the fence starts: bytes of N1's replication stream, and/or time. */
  lagLimit: z
    .strictObject({
      maxBytes: z.number().int().min(0).optional(),
      maxMs: z.number().int().min(0).max(3_600_000).optional(),
    })
    .refine((l) => l.maxBytes !== undefined || l.maxMs !== undefined, 'name maxBytes or maxMs')
    .prefault({ maxBytes: 1_048_576 }),
  /** How long the fence phase waits, writes flowing, for the lag to get within the limit before `onLagLimit`. */
  lagWaitMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** Over the limit after `lagWaitMs` (nothing held yet): pause for an operator (resume re-runs the fence phase), or roll back. */
  onLagLimit: z.enum(['pause', 'rollback']).default('pause'),
  /**
   * With writes held, how long the replica may take to process its master's whole stream (at the
   * fence, before N2's promotion, and in a rollback before N1's); past it the phase fails and the
   * migration rolls back. Held writes wait as long: keep fence.maxHoldMs above it.
   */
  drainTimeoutMs: z.number().int().min(1).max(FENCE_LIMITS.maxHoldMs).default(3_000),
  /** How long a replica may take to complete a full sync (N2 in sync, N1 once it follows N2). */
  syncTimeoutMs: z.number().int().min(1).max(86_400_000).default(600_000),
  /** Let prepare make N2 a replica although it holds keys (REPLICAOF discards them). */
  discardN2Data: z.boolean().default(false),
});

/**
 * `sync.cache` of a plan: how the `cache` hook moves the cache. `copy-on-write` (the default): the
 * cache layers copy every set and delete to N2 (and hits), then a bulk warm-up. `replicate`: Redis's
 * own replication, with the options under `replicate`.
 */
export const cachePlanSchema = z
  .strictObject({
    strategy: z.enum(['copy-on-write', 'replicate']).default('copy-on-write'),
    replicate: replicateSchema.prefault({}),
  })
  .prefault({});

export type CachePlan = z.output<typeof cachePlanSchema>;
export type CacheReplicatePlan = z.output<typeof replicateSchema>;
