import { z } from 'zod';
import { joinPath } from '../../platform/coordinator/coordinator.js';
import { ZOOKEEPER_DEFAULTS, ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { SyncError } from '../errors.js';

const absolutePath = z
  .string()
  .refine((p) => p === '/' || (/^(\/[^/\s]+)+$/.test(p) && !/\/\.\.?(\/|$)/.test(p)), 'absolute path such as /apps/shop');

/** One side of the metadata sync: a ZooKeeper ensemble, a chroot on it and the subtree's path under the chroot. */
const endpointSchema = z.strictObject({
  connectString: z.string().regex(/^[^/\s]+$/, 'host:port list without a chroot suffix (use chroot)'),
  chroot: absolutePath.default('/'),
  path: absolutePath,
  /** Digest credentials; the password comes from the environment variable named here. */
  auth: z.strictObject({ user: z.string().regex(/^[^:]+$/, 'non-empty, without ":"'), passwordEnv: z.string().min(1) }).optional(),
  sessionTimeoutMs: z.number().int().min(1000).default(ZOOKEEPER_DEFAULTS.sessionTimeoutMs),
});

/** The `sync.metadata` section: copy `source.path` at N1 to `target.path` at N2, then follow it. */
export const metadataSyncConfigSchema = z
  .strictObject({
    source: endpointSchema,
    target: endpointSchema,
    /** Most ops in one transaction written to N2. */
    batchOps: z.number().int().min(1).max(10_000).default(500),
    /** Most estimated bytes in one transaction; ZooKeeper's jute.maxbuffer is 1 MB by default. */
    batchBytes: z
      .number()
      .int()
      .min(4096)
      .max(1_000_000)
      .default(768 * 1024),
    /** Reads in flight at once. */
    concurrency: z.number().int().min(1).max(1024).default(64),
    /** Delete nodes at N2 that are not (or no longer) at N1. */
    deleteExtra: z.boolean().default(false),
  })
  .superRefine((cfg, ctx) => {
    const s = joinPath(cfg.source.chroot, cfg.source.path);
    const t = joinPath(cfg.target.chroot, cfg.target.path);
    const within = (a: string, b: string): boolean => a === b || b === '/' || a.startsWith(`${b}/`);
    if (cfg.source.connectString === cfg.target.connectString && (within(s, t) || within(t, s))) {
      ctx.addIssue({ code: 'custom', path: ['target', 'path'], message: `${t} overlaps the source subtree ${s} on the same ensemble` });
    }
  });

export type MetadataSyncConfig = Readonly<z.output<typeof metadataSyncConfigSchema>>;
export type MetadataEndpointConfig = MetadataSyncConfig['source'];

/** Checks a raw `sync.metadata` section once; NW_SYNC_CONFIG_INVALID names the field (and `origin`, e.g. the file). */
export function parseMetadataSyncConfig(raw: unknown, origin = 'sync.metadata'): MetadataSyncConfig {
  const parsed = metadataSyncConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(section)'}: ${i.message}`).join('; ');
    throw new SyncError('NW_SYNC_CONFIG_INVALID', `${origin}: ${issues}`, {
      details: { fields: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  return Object.freeze(parsed.data);
}

/** An unconnected coordinator for one side; the password is read from the environment now. */
export function metadataCoordinator(
  side: 'source' | 'target',
  cfg: MetadataEndpointConfig,
  env: NodeJS.ProcessEnv = process.env,
): ZooKeeperCoordinator {
  let auth: { user: string; password: string } | undefined;
  if (cfg.auth) {
    const password = env[cfg.auth.passwordEnv];
    if (!password)
      throw new SyncError('NW_SYNC_CONFIG_INVALID', `${side}.auth.passwordEnv: environment variable ${cfg.auth.passwordEnv} is not set`);
    auth = { user: cfg.auth.user, password };
  }
  const where = { connectString: cfg.connectString, chroot: cfg.chroot, sessionTimeoutMs: cfg.sessionTimeoutMs };
  // The app's own metadata ensemble, not Northwest's coordinator: its access is the app's to set,
  // so without credentials the copy runs unauthenticated, as the app's servers do.
  return auth ? new ZooKeeperCoordinator({ ...where, auth }) : new ZooKeeperCoordinator({ ...where, insecure: true });
}
