import { hostname } from 'node:os';
import { z } from 'zod';
import { isLoopbackHost, LOOPBACK_ONLY_MESSAGE } from '../platform/admin-http.js';
import { loadConfigFile, parseConfig, type ConfigFailure } from '../platform/config-file.js';
import { controlPlaneCoordinatorConfigSchema } from '../platform/coordinator/coordinator-config.js';
import { ControlError } from './errors.js';
import { syncConfigSchema } from './sync/sync-config.js';
import { nodeIdSchema } from '../protocol/identifiers.js';

/** `<hostname>-<pid>`, with characters a coordinator node name cannot hold replaced. */
function defaultId(): string {
  return `${
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 100) || 'controlplane'
  }-${process.pid}`;
}

const adminSchema = z.strictObject({
  host: z.string().refine(isLoopbackHost, LOOPBACK_ONLY_MESSAGE).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(9911),
  /** Environment variable holding the admin token; without it every endpoint but /healthz answers 401. */
  tokenEnv: z.string().min(1).default('NORTHWEST_ADMIN_TOKEN'),
  /** How long a dashboard sign-in lasts: 1 minute to 7 days (12 hours). */
  dashboardSessionTtlMs: z
    .number()
    .int()
    .min(60_000)
    .max(7 * 24 * 3600_000)
    .default(12 * 3600_000),
});

const dnsSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('route53'),
    /** Route 53 API endpoint override (e.g. a local moto server); the AWS default when absent. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).optional(),
  }),
  z.strictObject({
    provider: z.literal('memory'),
    /** How long a change stays PENDING before it reports INSYNC. */
    propagationMs: z.number().int().min(0).optional(),
  }),
]);

/** The control-plane config file: one strict schema, defaults inside it. */
export const controlPlaneConfigSchema = z.strictObject({
  /** Candidate id in the leader election; unique per process. */
  id: nodeIdSchema.default(defaultId),
  coordinator: controlPlaneCoordinatorConfigSchema,
  admin: adminSchema.prefault({}),
  dns: dnsSchema.optional(),
  /** Data sync: each part present (metadata, cache, datastore) registers the sync hook of that name. */
  sync: syncConfigSchema.optional(),
  log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') }).prefault({}),
});

/** Config as written in the file (before defaults). */
export type ControlPlaneConfigInput = z.input<typeof controlPlaneConfigSchema>;
/** Validated config with defaults filled in; frozen after load. */
export type ControlPlaneConfig = z.output<typeof controlPlaneConfigSchema>;
/** Which DNS provider the control plane talks to, and how; absent means no DNS phase. */
export type ControlPlaneDnsConfig = z.output<typeof dnsSchema>;

const fail: ConfigFailure = (detail, cause) =>
  new ControlError('NW_CP_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseControlPlaneConfig(raw: unknown, source = '<inline>'): ControlPlaneConfig {
  return parseConfig(controlPlaneConfigSchema, raw, source, fail);
}

/** Reads, parses (YAML, or JSON for `.json`) and validates a control-plane config file. */
export function loadControlPlaneConfig(file: string): ControlPlaneConfig {
  return loadConfigFile(controlPlaneConfigSchema, file, fail);
}
