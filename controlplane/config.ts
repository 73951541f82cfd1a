import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isLoopbackHost } from '../gateway/config/config-schema.js';
import { formatIssues } from '../gateway/config/load-config.js';
import { coordinatorConfigSchema } from './coordinator/coordinator-config.js';
import { ControlError } from './errors.js';
import { syncConfigSchema } from './sync/sync-config.js';

const ID = /^[A-Za-z0-9._-]{1,128}$/;

/** `<hostname>-<pid>`, with characters a coordinator node name cannot hold replaced. */
function defaultId(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100) || 'controlplane'}-${process.pid}`;
}

const adminSchema = z.strictObject({
  host: z.string().refine(isLoopbackHost, 'admin must bind to a loopback address (127.0.0.0/8, ::1, localhost)').default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(9911),
  /** Environment variable holding the admin token; without it every endpoint but /healthz answers 401. */
  tokenEnv: z.string().min(1).default('NORTHWEST_ADMIN_TOKEN'),
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
  id: z.string().regex(ID, 'ids are [A-Za-z0-9._-], at most 128 characters').default(defaultId),
  coordinator: coordinatorConfigSchema,
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

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseControlPlaneConfig(raw: unknown, source = '<inline>'): ControlPlaneConfig {
  const r = controlPlaneConfigSchema.safeParse(raw);
  if (!r.success) throw new ControlError('NW_CP_CONFIG_INVALID', `\n${formatIssues(source, r.error.issues)}`);
  return deepFreeze(r.data);
}

/** Reads, parses (YAML, or JSON for `.json`) and validates a control-plane config file. */
export function loadControlPlaneConfig(file: string): ControlPlaneConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ControlError('NW_CP_CONFIG_INVALID', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const json = extname(file) === '.json';
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ControlError('NW_CP_CONFIG_INVALID', `${file}: not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { cause: err });
  }
  return parseControlPlaneConfig(raw, file);
}
