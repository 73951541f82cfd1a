import { z } from 'zod';
import { loadConfigFile, parseConfig, type ConfigFailure } from '../../platform/config-file.js';
import { ControlError } from '../errors.js';
import { appNameSchema, migrationIdSchema } from '../../protocol/identifiers.js';
import { FENCE_LIMITS } from '../../protocol/app-state.js';
import { datastorePlanSchema, replicateConflicts } from './datastore-plan.js';
import { cachePlanSchema } from './cache-plan.js';

const appName = appNameSchema;

const valueRecordSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['A', 'AAAA', 'CNAME']),
  ttl: z.number().int().min(0).max(604800).default(60),
  values: z.array(z.string().min(1)).min(1),
});

const aliasRecordSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['A', 'AAAA']),
  /** Route 53 alias (e.g. to N2's load balancer); aliases have no TTL of their own. */
  alias: z.strictObject({ hostedZoneId: z.string().min(1), dnsName: z.string().min(1), evaluateTargetHealth: z.boolean().default(false) }),
});

const dnsRecordSchema = z.union([valueRecordSchema, aliasRecordSchema]);

const weightedTargetSchema = z.strictObject({ setIdentifier: z.string().min(1).max(128), values: z.array(z.string().min(1)).min(1) });

/** A weighted record pair that moves resolvers from N1 to N2 in steps instead of at once. */
const weightedShiftSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['A', 'AAAA', 'CNAME']),
  ttl: z.number().int().min(0).max(604800).default(60),
  n1: weightedTargetSchema,
  n2: weightedTargetSchema,
  /** Percent of weight on N2 at each step; the last must be 100. */
  steps: z
    .array(z.number().int().min(0).max(100))
    .min(1)
    .refine((s) => s[s.length - 1] === 100, 'the last step must put 100 % on N2')
    .default([10, 50, 100]),
  holdMs: z.number().int().min(0).default(60_000),
});

export type PlanDnsRecord = z.output<typeof dnsRecordSchema>;

/** At most this many evaluations per phase: each is an event in the migration log (which keeps 1,000). */
export const MAX_ANALYSIS_EVALUATIONS = 100;

/**
 * Analysis gates (as Argo Rollouts' analysis and Flagger's metric checks): while the apps are in
 * proxy, and in redirect when it is enabled, the migration stays there for `durationMs` and every
 * `intervalMs` reads the gateways' /metrics and judges N2 over the last `windowMs`. A metric over
 * its limit in `failureLimit` consecutive conclusive evaluations rolls the migration back
 * (NW_CP_ANALYSIS_FAILED). docs/operations.md, "Analysis gates".
 */
const analysisSchema = z
  .strictObject({
    /** How often the gateways' metrics are read and N2 judged. */
    intervalMs: z.number().int().min(100).max(600_000).default(10_000),
    /** What each evaluation covers: the gateways' counters' growth over this long, up to the read. */
    windowMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** How long the migration stays in proxy (and redirect) under the gates before it moves on. */
    durationMs: z.number().int().min(100).max(86_400_000).default(60_000),
    /** Consecutive failing evaluations (inconclusive ones neither count nor reset) that roll back. */
    failureLimit: z.number().int().min(1).max(MAX_ANALYSIS_EVALUATIONS).default(2),
    /** N2 requests the window must hold for an evaluation to count; fewer is inconclusive. */
    minRequests: z.number().int().min(1).max(1_000_000_000).default(20),
    metrics: z
      .strictObject({
        /** N2's 5xx replies / N2's requests, 0..1. */
        errorRate: z.strictObject({ max: z.number().min(0).max(1) }).optional(),
        /** N2's 99th-percentile latency through the gateways, ms (from their histogram buckets). */
        p99Ms: z.strictObject({ max: z.number().positive().max(600_000) }).optional(),
      })
      .refine((m) => m.errorRate !== undefined || m.p99Ms !== undefined, 'name at least one metric: errorRate or p99Ms'),
  })
  .refine((a) => a.windowMs >= a.intervalMs, { path: ['windowMs'], message: 'must be at least intervalMs' })
  .refine((a) => a.durationMs >= a.intervalMs, { path: ['durationMs'], message: 'must be at least intervalMs (one evaluation)' })
  .refine((a) => a.durationMs / a.intervalMs <= MAX_ANALYSIS_EVALUATIONS, {
    path: ['durationMs'],
    message: `at most ${MAX_ANALYSIS_EVALUATIONS} evaluations per phase (durationMs / intervalMs)`,
  });

export type AnalysisPlan = z.output<typeof analysisSchema>;

/** A migration plan: which apps move together and how each phase behaves. */
export const planSchema = z.strictObject({
  /** Migration id; generated when absent. */
  id: migrationIdSchema.optional(),
  /** Apps that move as one unit: they flip in the same barriers or not at all. */
  apps: z
    .array(appName)
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'apps must not repeat'),
  /** How long each barrier waits for every live member's ack. */
  barrierTimeoutMs: z.number().int().positive().default(15_000),
  /** What a barrier timeout does: roll back (default) or pause for an operator. */
  onBarrierTimeout: z.enum(['rollback', 'pause']).default('rollback'),
  prepare: z
    .strictObject({
      /** N2 endpoints that must answer 2xx before anything changes. */
      n2HealthUrls: z.array(z.url({ protocol: /^https?$/ })).default([]),
      healthAttempts: z.number().int().min(1).max(100).default(3),
    })
    .prefault({}),
  sync: z
    .strictObject({
      /** mirror: simultaneous execution while data syncs (apps without a datastore sync); none: keep serving from N1. */
      mode: z.enum(['mirror', 'none']).default('mirror'),
      shadowCompare: z.boolean().default(false),
      /** Named sync hooks to run in order (registered with the control plane). */
      hooks: z.array(z.string().min(1)).default([]),
      /**
       * A hook that fails because a store is unreachable for a while (a node or Redis restarting) is
       * run again, with backoff, for up to this long before the migration fails; 0: never.
       */
      retryForMs: z.number().int().min(0).max(600_000).default(60_000),
      /** How the `cache` hook moves the cache: copy-on-write (default) or replicate. */
      cache: cachePlanSchema,
    })
    .refine((s) => s.cache.strategy !== 'replicate' || s.hooks.includes('cache'), {
      path: ['cache'],
      message: 'the replicate strategy is run by the cache hook: list cache in sync.hooks',
    })
    .prefault({}),
  fence: z
    .strictObject({
      // The gateways refuse a fence state past these limits: refuse the plan before it starts.
      maxHoldMs: z.number().int().positive().max(FENCE_LIMITS.maxHoldMs).optional(),
      maxHeldWrites: z.number().int().min(0).max(FENCE_LIMITS.maxHeldWrites).optional(),
    })
    .prefault({}),
  proxy: z.strictObject({ mirrorWritesToN1: z.boolean().default(true) }).prefault({}),
  redirect: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** While rollback is possible. */
      status: z.union([z.literal(307), z.literal(308)]).default(307),
      /** Once the migration is done. */
      finalStatus: z.union([z.literal(301), z.literal(307), z.literal(308)]).default(301),
      /** safe: only GET/HEAD redirected, writes keep going through the gateway (and are mirrored back to N1 until done). */
      methods: z.enum(['all', 'safe']).default('safe'),
    })
    .prefault({}),
  /** Analysis gates in proxy and redirect; none without this section. */
  analysis: analysisSchema.optional(),
  dns: z
    .strictObject({
      zoneId: z.string().min(1),
      /** TTL set ahead of the switch; the old TTL is waited out before switching. */
      lowerTtlTo: z.number().int().min(0).default(60),
      /** Records as they must be after the switch (N2). Sent as one batch. */
      records: z.array(dnsRecordSchema).default([]),
      /** Or (also) shift weighted records gradually. */
      weighted: weightedShiftSchema.optional(),
      pollMs: z.number().int().positive().default(1000),
      timeoutMs: z.number().int().positive().default(300_000),
      /** Skip waiting out the old TTL (tests and demos only). */
      skipTtlWait: z.boolean().default(false),
    })
    .refine((d) => d.records.length > 0 || d.weighted !== undefined, { message: 'needs records or weighted', path: ['records'] })
    .optional(),
  /** How the datastore sync hook moves the data; absent: copy-on-write. */
  datastore: datastorePlanSchema.optional(),
});

/** The plan with the checks that span sections. */
const checkedPlanSchema = planSchema.superRefine((plan, ctx) => {
  for (const [path, message] of replicateConflicts(plan)) ctx.addIssue({ code: 'custom', path, message });
});

export type MigrationPlanInput = z.input<typeof planSchema>;
export type MigrationPlan = z.output<typeof planSchema>;

const fail: ConfigFailure = (detail) => new ControlError('NW_CP_PLAN_INVALID', detail);

export function parsePlan(raw: unknown, source = '<plan>'): MigrationPlan {
  return parseConfig(checkedPlanSchema, raw, source, fail);
}

export function loadPlan(file: string): MigrationPlan {
  return loadConfigFile(checkedPlanSchema, file, fail);
}
