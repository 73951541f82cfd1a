import { z } from 'zod';
import { identityConfigSchema, parseConfig, readConfigFile, type ConfigFailure } from '../../platform/index.js';
import { cacheConfigSchema, datastoreConfigSchema, jmxNodeSchema, nodetoolConfigSchema } from '../../datasync/index.js';
import { ExperimentError } from './experiment-errors.js';

const syncSchema = z.strictObject({
  /** mirror: writes go to N1 and N2 while the data syncs; none: N1 alone serves, its data layer copies to N2. */
  mode: z.enum(['mirror', 'none']),
  /** Sync hooks the plan runs, by name, in order (the store registers them). */
  hooks: z.array(z.string().min(1)),
});

/**
 * Where a switchover experiment runs: the coordinator, the DNS provider, the
 * stores behind N1 and N2, how many gateways, the load and the number of
 * trials. Every section has a default, so `{}` is the embedded demo.
 */
export const experimentConfigSchema = z
  .strictObject({
    coordinator: z
      .discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('embedded') }),
        z.strictObject({
          kind: z.literal('zookeeper'),
          connectString: z.string().regex(/^[^/\s]+$/, 'host:port list without a chroot suffix (use chroot)'),
          /** Prefix of the per-trial chroots (`<chroot>-<run>-t<N>`), removed after each trial. */
          chroot: z
            .string()
            .regex(/^\/[A-Za-z0-9._-]+$/, 'one absolute path segment, e.g. /nw-experiment')
            .default('/nw-experiment'),
          sessionTimeoutMs: z.number().int().min(1000).default(10_000),
          /** The two identities of the trial's system (the control plane's and the members'), passwords from the environment. */
          auth: z.strictObject({ controlPlane: identityConfigSchema, members: identityConfigSchema }).optional(),
          /** Run without credentials, with open ACLs. Must be said; default false. */
          insecure: z.boolean().default(false),
        }),
      ])
      .prefault({ kind: 'embedded' }),
    dns: z
      .discriminatedUnion('provider', [
        z.strictObject({
          provider: z.literal('memory'),
          /** How long a change stays PENDING before INSYNC. */
          propagationMs: z.number().int().min(0).default(400),
        }),
        z.strictObject({
          provider: z.literal('route53'),
          /** API endpoint override, e.g. a local moto server; the real Route 53 when absent. */
          endpoint: z.url({ protocol: /^https?$/ }).optional(),
          region: z.string().min(1).default('us-east-1'),
          /** Domain of the hosted zone created for each trial (and deleted after it). */
          zone: z
            .string()
            .regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, 'a domain name such as experiment.test')
            .default('northwest-experiment.test'),
          /** default: the standard AWS credential chain; mock: fixed dummy keys, for a local mock such as moto only. */
          credentials: z.enum(['default', 'mock']).default('default'),
        }),
      ])
      .prefault({ provider: 'memory' }),
    gateways: z.number().int().min(1).max(64).default(4),
    /** Gateways refuse writes for a migrating app if the coordinator was silent this long (ms). */
    leaseMs: z.number().int().min(100).default(3000),
    load: z
      .strictObject({
        /**
         * Closed loop: connections per gateway, each sending its next request when the last is answered.
         * With ratePerGateway: the most connections the open-loop client opens per gateway.
         */
        connectionsPerGateway: z.number().int().min(1).default(4),
        /** Open loop instead of closed: requests per second per gateway, evenly spaced, latency from each request's due time. */
        ratePerGateway: z.number().positive().max(100_000).optional(),
        readRatio: z.number().min(0).max(1).default(0.5),
        distribution: z.enum(['uniform', 'zipfian']).default('zipfian'),
        keys: z.number().int().min(1).default(500),
        valueBytes: z
          .number()
          .int()
          .min(1)
          .max(1024 * 1024)
          .default(64),
        durationS: z.number().positive().default(5),
        /** When the migrate command is sent, seconds after the load starts. */
        handoverAtS: z.number().min(0).default(1.5),
      })
      .refine((l) => l.handoverAtS < l.durationS, { message: 'must be earlier than load.durationS', path: ['handoverAtS'] })
      .prefault({}),
    trials: z.number().int().min(1).default(10),
    /** Where `--n2-rtt` makes its links (the API of scripts/services.sh's Toxiproxy by default). */
    toxiproxy: z.strictObject({ apiUrl: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8474') }).prefault({}),
    /** Report directory; default results/<timestamp>. */
    out: z.string().min(1).optional(),
    store: z
      .discriminatedUnion('kind', [
        z.strictObject({
          kind: z.literal('memory'),
          /** Overrides the store's own sync settings. */
          sync: syncSchema.optional(),
        }),
        z.strictObject({
          /** Cassandra behind a Redis cache, synced by the data layers and the cache + datastore hooks. */
          kind: z.literal('cassandra'),
          cassandra: z.strictObject({ n1: datastoreConfigSchema.shape.local, n2: datastoreConfigSchema.shape.local }),
          redis: z.strictObject({ n1: cacheConfigSchema.shape.local, n2: cacheConfigSchema.shape.local }),
          cacheTtlMs: z.number().int().positive().default(60_000),
          sync: syncSchema.optional(),
          /**
           * For `--strategy replicate`: N1's and N2's datacenters of one cluster (scripts/cassandra-dc.sh),
           * used instead of `cassandra.n1`/`n2`; the caches stay `redis.n1`/`n2`.
           */
          replicate: z
            .strictObject({
              cassandra: z.strictObject({ n1: datastoreConfigSchema.shape.local, n2: datastoreConfigSchema.shape.local }),
              n2Nodes: z.array(jmxNodeSchema).min(1),
              nodetool: nodetoolConfigSchema.prefault({}),
              /** Toxiproxy proxies that carry the datacenter link (NW_CASSANDRA_DC_LINK=toxiproxy): `--n2-rtt` sets their latency. */
              linkProxies: z.array(z.string().min(1)).default([]),
              /** The plan's `datastore.replicate.finalWindow`: EACH_QUORUM before the fence, or the drain at it. */
              finalWindow: z.enum(['each-quorum', 'drain']).default('each-quorum'),
              /** The plan's `datastore.replicate.windowIn`: the window last in sync (default), or first in the fence phase. */
              windowIn: z.enum(['fence', 'sync']).default('sync'),
            })
            .optional(),
        }),
      ])
      .prefault({ kind: 'memory' }),
  })
  .superRefine((c, ctx) => {
    if (c.coordinator.kind === 'zookeeper' && !c.coordinator.auth && !c.coordinator.insecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['coordinator', 'auth'],
        message: 'required: { controlPlane: { user, passwordEnv }, members: { user, passwordEnv } }, or insecure: true for open ACLs',
      });
    }
    if (c.coordinator.kind === 'zookeeper' && c.coordinator.auth && c.coordinator.insecure) {
      ctx.addIssue({ code: 'custom', path: ['coordinator', 'insecure'], message: 'cannot be combined with auth' });
    }
    if (c.coordinator.kind === 'zookeeper' && c.leaseMs >= c.coordinator.sessionTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseMs'],
        message: `must be shorter than coordinator.sessionTimeoutMs (${c.coordinator.sessionTimeoutMs})`,
      });
    }
  });

export type ExperimentConfigInput = z.input<typeof experimentConfigSchema>;
export type ExperimentConfig = z.output<typeof experimentConfigSchema>;
export type StoreConfig = ExperimentConfig['store'];
export type PlanSync = z.output<typeof syncSchema>;

const fail: ConfigFailure = (detail, cause) =>
  new ExperimentError('NW_EXP_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });

/** Validates a parsed config; `source` (a file name) is named in every error line with the field. */
export function parseExperimentConfig(raw: unknown, source = '<inline>'): ExperimentConfig {
  return parseConfig(experimentConfigSchema, raw ?? {}, source, fail);
}

/** Reads and validates a YAML (or JSON) experiment config file. */
export function loadExperimentConfig(file: string): ExperimentConfig {
  return parseExperimentConfig(readConfigFile(file, fail), file);
}
