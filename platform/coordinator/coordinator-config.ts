import { z } from 'zod';
import { CoordinatorError } from './coordinator-errors.js';
import type { Coordinator } from './coordinator.js';
import { digestId, type CoordinatorIdentity } from './coordinator-acl.js';
import { defaultEmbeddedStore, EmbeddedCoordinator } from './embedded-coordinator.js';
import { northwestAclPolicy, type CoordinatorRole } from './northwest-acl.js';
import { ZOOKEEPER_DEFAULTS, ZooKeeperCoordinator } from './zookeeper-coordinator.js';

/** A digest identity in a config file: the password comes from the environment, never the file. */
export const identityConfigSchema = z.strictObject({
  user: z.string().regex(/^[^:]+$/, 'non-empty, without ":"'),
  passwordEnv: z.string().min(1),
});
export type IdentityConfig = z.output<typeof identityConfigSchema>;

const embedded = z.strictObject({ kind: z.literal('embedded') });

const zookeeperFields = {
  kind: z.literal('zookeeper'),
  connectString: z.string().min(1),
  chroot: z.string().default('/northwest'),
  sessionTimeoutMs: z.number().int().min(1000).default(ZOOKEEPER_DEFAULTS.sessionTimeoutMs),
  connectTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.connectTimeoutMs),
  opTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.opTimeoutMs),
  /** The identity this process authenticates as (digest ACLs: docs/architecture.md, "Coordinator access"). */
  auth: identityConfigSchema.optional(),
  /** Run without credentials, every node open to anyone who reaches the ensemble. Must be said; default false. */
  insecure: z.boolean().default(false),
};

function requireAuth(c: { kind: string; auth?: unknown; insecure?: boolean }, ctx: z.RefinementCtx): void {
  if (c.kind !== 'zookeeper') return;
  if (!c.auth && !c.insecure) {
    ctx.addIssue({
      code: 'custom',
      path: ['auth'],
      message: 'required: the identity to authenticate as ({ user, passwordEnv }), or insecure: true to run with open ACLs',
    });
  }
  if (c.auth && c.insecure) ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'cannot be combined with auth' });
}

/** Coordinator section of a fleet member's config (a gateway's `fleet.coordinator`). */
export const memberCoordinatorConfigSchema = z
  .discriminatedUnion('kind', [embedded, z.strictObject(zookeeperFields)])
  .superRefine(requireAuth);

/** Coordinator section of a control plane's config: also names the members' identity, to grant it access. */
export const controlPlaneCoordinatorConfigSchema = z
  .discriminatedUnion('kind', [
    embedded,
    z.strictObject({
      ...zookeeperFields,
      /** The identity gateways and data layers authenticate as: it may read states and add member and ack nodes. */
      members: identityConfigSchema.optional(),
    }),
  ])
  .superRefine((c, ctx) => {
    requireAuth(c, ctx);
    if (c.kind !== 'zookeeper') return;
    if (c.auth && !c.members) {
      ctx.addIssue({
        code: 'custom',
        path: ['members'],
        message: 'required with auth: the identity the fleet members authenticate as ({ user, passwordEnv })',
      });
    }
    if (c.members && !c.auth) ctx.addIssue({ code: 'custom', path: ['members'], message: 'needs auth' });
  });

export type MemberCoordinatorConfig = z.output<typeof memberCoordinatorConfigSchema>;
export type ControlPlaneCoordinatorConfig = z.output<typeof controlPlaneCoordinatorConfigSchema>;
export type CoordinatorConfig = MemberCoordinatorConfig | ControlPlaneCoordinatorConfig;

/** The identity a config names, with its password from the environment; `field` names it in the error. */
export function resolveIdentity(field: string, cfg: IdentityConfig, env: NodeJS.ProcessEnv): CoordinatorIdentity {
  const password = env[cfg.passwordEnv];
  if (!password) {
    throw new CoordinatorError('NW_CP_CONFIG_INVALID', `${field}.passwordEnv: environment variable ${cfg.passwordEnv} is not set`);
  }
  return { user: cfg.user, password };
}

/**
 * Builds an (unconnected) coordinator client from config, for one role: the control plane's
 * session creates the tree and grants the members' identity its access; a member's creates only
 * its own nodes. `insecure: true` gives an open tree with no credentials.
 */
export function createCoordinator(cfg: CoordinatorConfig, role: CoordinatorRole, env: NodeJS.ProcessEnv = process.env): Coordinator {
  if (cfg.kind === 'embedded') return new EmbeddedCoordinator(defaultEmbeddedStore);
  const settings = {
    connectString: cfg.connectString,
    chroot: cfg.chroot,
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
    opTimeoutMs: cfg.opTimeoutMs,
  };
  if (!cfg.auth) {
    if (!cfg.insecure) throw new CoordinatorError('NW_CP_CONFIG_INVALID', 'coordinator.auth: required, or insecure: true');
    return new ZooKeeperCoordinator({ ...settings, insecure: true });
  }
  const auth = resolveIdentity('coordinator.auth', cfg.auth, env);
  if (role === 'member') return new ZooKeeperCoordinator({ ...settings, auth, acl: northwestAclPolicy('member') });
  const membersCfg = 'members' in cfg ? cfg.members : undefined;
  if (!membersCfg) throw new CoordinatorError('NW_CP_CONFIG_INVALID', 'coordinator.members: required with auth');
  const members = resolveIdentity('coordinator.members', membersCfg, env);
  return new ZooKeeperCoordinator({ ...settings, auth, acl: northwestAclPolicy('controlplane', digestId(members)) });
}
