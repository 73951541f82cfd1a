import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { planSchema, type MigrationPlan } from '../../controlplane/index.js';
import { memberCoordinatorConfigSchema, parseConfig, readConfigFile, type ConfigFailure } from '../../platform/index.js';
import { appNameSchema } from '../../protocol/index.js';
import { ExperimentError } from '../experiments/experiment-errors.js';

const httpUrl = z.url({ protocol: /^https?$/ });
/** An HTTP header name (RFC 9110 token). */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name');
const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const path = z.string().regex(/^\/\S*$/, 'a path starting with /, without spaces');
const keyedPath = path.refine((p) => p.includes('{key}'), 'must contain the {key} placeholder');

/**
 * One request of the app's own API. `{key}` in the path and body is the key (`key-<n>`, URL-safe),
 * `{value}` in a write's body the value written (unique per write, [A-Za-z0-9._-]).
 */
const requestTemplateSchema = z
  .strictObject({
    method,
    path,
    body: z
      .string()
      .max(64 * 1024)
      .optional(),
    headers: z.record(headerName, z.string()).default({}),
  })
  .refine((t) => t.path.includes('{key}') || t.body?.includes('{key}') === true, {
    message: 'must contain the {key} placeholder (or the body must)',
    path: ['path'],
  });

const readBackSchema = z.strictObject({
  method: method.default('GET'),
  path: keyedPath,
  headers: z.record(headerName, z.string()).default({}),
  /** Where the value is in a 2xx answer: the whole body, or a JSON pointer (RFC 6901) into it. */
  value: z
    .union([z.literal('body'), z.strictObject({ json: z.string().regex(/^(\/[^/]*)*$/, 'a JSON pointer such as /value') })])
    .default('body'),
  /** Statuses that mean the key is absent (a delete acknowledged last). */
  absentStatus: z.array(z.number().int().min(200).max(599)).default([404]),
  /** Read N2's app servers here after a handover, instead of through the first gateway (with the Host header). */
  n2Url: httpUrl.optional(),
  /** Read N1's app servers here after a rollback, instead of through the first gateway. */
  n1Url: httpUrl.optional(),
});

const apiSchema = z.strictObject({
  read: requestTemplateSchema,
  write: requestTemplateSchema.refine((t) => t.body?.includes('{value}') === true, {
    message: 'needs a body with the {value} placeholder (the lost-write check reads that value back)',
    path: ['body'],
  }),
  /** Only with load.deleteRatio > 0. */
  delete: requestTemplateSchema.optional(),
  /** How the lost-write check reads a key back once the migration ended. */
  readBack: readBackSchema,
});

const loadSchema = z
  .strictObject({
    /** Closed loop: connections per gateway; with ratePerGateway, the most the open-loop client opens per gateway. */
    connectionsPerGateway: z.number().int().min(1).max(1000).default(4),
    /** Open loop instead of closed: requests per second per gateway, latency from each request's due time. */
    ratePerGateway: z.number().positive().max(100_000).optional(),
    readRatio: z.number().min(0).max(1).default(0.5),
    deleteRatio: z.number().min(0).max(1).default(0),
    distribution: z.enum(['uniform', 'zipfian']).default('zipfian'),
    keys: z.number().int().min(1).max(1_000_000).default(200),
    valueBytes: z.number().int().min(1).max(65_536).default(64),
    /** Seconds of load at least; it goes on until the migration ended plus tailS. */
    durationS: z.number().positive().default(5),
    /** Load kept up after the migration ended, seconds. */
    tailS: z.number().min(0).default(1),
    /** Write every key once through the gateways before the load: the app's data at the start, checked too. */
    preload: z.boolean().default(true),
    /** Per-request timeout, seconds. */
    timeoutS: z.number().positive().max(600).default(10),
  })
  .refine((l) => l.readRatio + l.deleteRatio <= 1, { message: 'readRatio + deleteRatio must be at most 1', path: ['deleteRatio'] });

const migrationSchema = z
  .strictObject({
    /** The plan to start: a file (relative to this config's directory) or the plan itself. */
    plan: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
    /** Seconds after the load starts that the plan is started. */
    startAfterS: z.number().min(0).default(1.5),
    /** Instead of a plan: wait for a migration of the app that an operator starts. */
    wait: z.boolean().default(false),
    /** With wait: how long to wait for it to start, seconds. */
    waitTimeoutS: z.number().positive().default(600),
    /** Longest the migration may take once started, seconds. */
    timeoutS: z.number().positive().default(600),
  })
  .superRefine((m, ctx) => {
    if (m.plan === undefined && !m.wait)
      ctx.addIssue({ code: 'custom', path: ['plan'], message: 'required: a plan to run, or wait: true' });
    if (m.plan !== undefined && m.wait) ctx.addIssue({ code: 'custom', path: ['wait'], message: 'cannot be combined with plan' });
  });

/**
 * Attach mode: the switchover measurement against a running deployment. Where its gateways are
 * (listed, or the live members of its fleet), the app's own API, the load, the control plane's
 * admin API and the migration to measure. docs/loadtest.md.
 */
export const attachConfigSchema = z
  .strictObject({
    /** The app that moves (in the plan's apps; with wait, the migration waited for moves it). */
    app: appNameSchema,
    target: z
      .strictObject({
        /** Host header sent with every request: selects the app at the gateways. */
        host: z.string().min(1),
        /** The gateways' traffic URLs. */
        gateways: z.array(httpUrl).min(1).max(256).optional(),
        /** Or: the fleet's live gateways, read from the coordinator (a gateway's `fleet.coordinator` section). */
        fleet: z.strictObject({ coordinator: memberCoordinatorConfigSchema }).optional(),
      })
      .superRefine((t, ctx) => {
        if ((t.gateways === undefined) === (t.fleet === undefined))
          ctx.addIssue({
            code: 'custom',
            path: ['gateways'],
            message: 'give either gateways (a list of URLs) or fleet, not both or neither',
          });
        if (t.fleet?.coordinator.kind === 'embedded')
          ctx.addIssue({
            code: 'custom',
            path: ['fleet', 'coordinator', 'kind'],
            message: 'must be zookeeper: an embedded coordinator lives inside one process',
          });
      }),
    api: apiSchema,
    load: loadSchema.prefault({}),
    controlPlane: z.strictObject({
      /** The control plane's admin API. */
      url: httpUrl,
      /** Environment variable holding the admin token. */
      tokenEnv: z.string().min(1).default('NORTHWEST_ADMIN_TOKEN'),
    }),
    migration: migrationSchema,
    /** Report directory; default results/attach-<timestamp>. */
    out: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.load.deleteRatio > 0 && !c.api.delete)
      ctx.addIssue({ code: 'custom', path: ['api', 'delete'], message: 'required when load.deleteRatio > 0' });
  });

export type AttachConfigInput = z.input<typeof attachConfigSchema>;
export type AttachConfig = z.output<typeof attachConfigSchema>;
export type RequestTemplate = z.output<typeof requestTemplateSchema>;
export type ReadBackTemplate = z.output<typeof readBackSchema>;
export type AppApi = z.output<typeof apiSchema>;

/** A validated config with what it names outside itself: the plan (read and checked), the admin token. */
export interface AttachSetup {
  readonly config: AttachConfig;
  /** Undefined with migration.wait. */
  readonly plan: MigrationPlan | undefined;
  readonly token: string;
  /** Where the config came from, for messages. */
  readonly source: string;
}

const fail: ConfigFailure = (detail, cause) =>
  new ExperimentError('NW_EXP_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });

/** Validates a parsed attach config; `source` (a file name) is named in every error line with the field. */
export function parseAttachConfig(raw: unknown, source = '<inline>'): AttachConfig {
  return parseConfig(attachConfigSchema, raw ?? {}, source, fail);
}

function planOf(cfg: AttachConfig, source: string, baseDir: string): MigrationPlan | undefined {
  const { plan } = cfg.migration;
  if (plan === undefined) return undefined;
  // A plan file's errors name that file and the field; an inline plan's this file and migration.plan.<field>.
  const file = typeof plan === 'string' ? resolve(baseDir, plan) : undefined;
  const parsed = file
    ? parseConfig(planSchema, readConfigFile(file, fail), file, fail)
    : parseConfig(planSchema, plan, `${source}: migration.plan`, fail);
  if (!parsed.apps.includes(cfg.app))
    throw fail(
      `\n${file ?? `${source}: migration.plan`}: apps: ${JSON.stringify(parsed.apps)} does not include app ${JSON.stringify(cfg.app)}`,
    );
  return parsed;
}

/** The config with its plan and the secrets it names from the environment; every problem names the file and field. */
export function prepareAttach(raw: unknown, source: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): AttachSetup {
  const config = parseAttachConfig(raw, source);
  const plan = planOf(config, source, baseDir);
  const token = env[config.controlPlane.tokenEnv];
  if (!token) throw fail(`\n${source}: controlPlane.tokenEnv: environment variable ${config.controlPlane.tokenEnv} is not set`);
  const coordinator = config.target.fleet?.coordinator;
  if (coordinator?.kind === 'zookeeper' && coordinator.auth && !env[coordinator.auth.passwordEnv])
    throw fail(`\n${source}: target.fleet.coordinator.auth.passwordEnv: environment variable ${coordinator.auth.passwordEnv} is not set`);
  return { config, plan, token, source };
}

/** Reads a YAML (or JSON) attach config, its plan file and the secrets it names. */
export function loadAttachSetup(file: string, env: NodeJS.ProcessEnv = process.env): AttachSetup {
  return prepareAttach(readConfigFile(file, fail), file, dirname(resolve(file)), env);
}
