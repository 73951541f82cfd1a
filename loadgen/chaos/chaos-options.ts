import { z } from 'zod';
import { ALL_FAULT_KINDS, DEFAULT_FAULT_KINDS, type FaultKind, type FaultKindSpec, FAULT_KINDS, isFaultKind } from './fault-kinds.js';

/** What N1 and N2 store in (`--store`): the Cassandra variant runs them on the services' Cassandra and Redis. */
export const STORE_VARIANTS = ['memory', 'cassandra'] as const;
export type StoreVariantName = (typeof STORE_VARIANTS)[number];

/** Whether a kind can run with these app servers (the kinds of a variant need it). */
export const runsOn = (kind: FaultKind, store: StoreVariantName): boolean => {
  const variant: string | undefined = (FAULT_KINDS[kind] as FaultKindSpec).variant;
  return variant === undefined || variant === store;
};

/**
 * `--faults`: `default`, `all` (every kind the `store` variant can run), or a comma-separated list
 * of kinds (names from the catalogue).
 */
export function parseFaultKinds(spec: string, store: StoreVariantName = 'memory'): FaultKind[] {
  if (spec === 'default') return [...DEFAULT_FAULT_KINDS];
  if (spec === 'all') return ALL_FAULT_KINDS.filter((k) => runsOn(k, store));
  const kinds = spec.split(',').map((s) => s.trim());
  const bad = kinds.filter((k) => !isFaultKind(k));
  if (bad.length > 0) throw new RangeError(`unknown fault kind(s) ${bad.join(', ')}; known: ${ALL_FAULT_KINDS.join(', ')}`);
  return [...new Set(kinds as FaultKind[])];
}

/** Everything a campaign takes; the CLI's flags map onto it one to one. */
export const CampaignOptionsSchema = z
  .strictObject({
    migrations: z.number().int().min(1).max(100_000),
    /** Index of the first migration of the seed's schedule to run: `--first 28 --migrations 1` runs migration 28 alone. */
    first: z.number().int().min(0).default(0),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    faultsPerMigration: z.number().int().min(0).max(20).default(3),
    faults: z
      .array(z.string())
      .min(1)
      .default([...DEFAULT_FAULT_KINDS])
      .refine((k) => k.every(isFaultKind), 'unknown fault kind')
      .transform((k) => k as FaultKind[]),
    /** memory: N1 and N2 on in-memory stores, the sync stand-in; cassandra: on Cassandra and Redis, the real sync. */
    store: z.enum(STORE_VARIANTS).default('memory'),
    out: z.string().min(1).default('results/chaos'),
    gateways: z.number().int().min(1).max(16).default(3),
    /** Worker processes per gateway node (`workers: N` in its config); 1: the gateway serves in its one process. */
    workers: z.number().int().min(1).max(8).default(1),
    controlPlanes: z.number().int().min(1).max(5).default(2),
    /** Apps per round: the gateways are restarted with a fresh set of apps every this many migrations. */
    appsPerRound: z.number().int().min(1).max(50).default(10),
    deadlineMs: z.number().int().positive().default(120_000),
    barrierTimeoutMs: z.number().int().positive().default(8000),
    sessionTimeoutMs: z.number().int().min(2000).default(5000),
    leaseMs: z.number().int().min(500).default(2000),
    writers: z.number().int().min(0).max(64).default(6),
    readers: z.number().int().min(0).max(64).default(2),
    webSockets: z.number().int().min(0).max(32).default(2),
  })
  .refine((o) => o.leaseMs < o.sessionTimeoutMs, { message: 'leaseMs must be shorter than sessionTimeoutMs', path: ['leaseMs'] })
  .refine((o) => o.faults.every((k) => runsOn(k, o.store)), {
    message:
      'cassandra-restart and redis-restart need the Cassandra-backed app servers (--store cassandra): ' +
      'with in-memory app servers a restart would disturb the services and test nothing',
    path: ['faults'],
  });

export type CampaignOptionsInput = z.input<typeof CampaignOptionsSchema>;
export type CampaignOptions = z.output<typeof CampaignOptionsSchema>;
