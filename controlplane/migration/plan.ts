import { z } from 'zod';
import { loadConfigFile, parseConfig, type ConfigFailure } from '../../platform/config-file.js';
import { ControlError } from '../errors.js';
import { appNameSchema, migrationIdSchema } from '../../protocol/identifiers.js';
import { FENCE_LIMITS } from '../../protocol/app-state.js';

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
});

export type MigrationPlanInput = z.input<typeof planSchema>;
export type MigrationPlan = z.output<typeof planSchema>;

const fail: ConfigFailure = (detail) => new ControlError('NW_CP_PLAN_INVALID', detail);

export function parsePlan(raw: unknown, source = '<plan>'): MigrationPlan {
  return parseConfig(planSchema, raw, source, fail);
}

export function loadPlan(file: string): MigrationPlan {
  return loadConfigFile(planSchema, file, fail);
}
