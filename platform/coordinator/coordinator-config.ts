import { z } from 'zod';
import { CoordinatorError } from './coordinator-errors.js';
import type { Coordinator } from './coordinator.js';
import { defaultEmbeddedStore, EmbeddedCoordinator } from './embedded-coordinator.js';
import { ZOOKEEPER_DEFAULTS, ZooKeeperCoordinator } from './zookeeper-coordinator.js';

/** Coordinator section of gateway and control-plane configs. */
export const coordinatorConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('embedded') }),
  z.strictObject({
    kind: z.literal('zookeeper'),
    connectString: z.string().min(1),
    chroot: z.string().default('/northwest'),
    sessionTimeoutMs: z.number().int().min(1000).default(ZOOKEEPER_DEFAULTS.sessionTimeoutMs),
    connectTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.connectTimeoutMs),
    opTimeoutMs: z.number().int().positive().default(ZOOKEEPER_DEFAULTS.opTimeoutMs),
    /** Digest ACLs: nodes are created readable/writable only by this user. The password comes from the environment. */
    auth: z.strictObject({ user: z.string().min(1), passwordEnv: z.string().min(1) }).optional(),
  }),
]);

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>;

/** Builds an (unconnected) coordinator client from config. */
export function createCoordinator(cfg: CoordinatorConfig, env: NodeJS.ProcessEnv = process.env): Coordinator {
  if (cfg.kind === 'embedded') return new EmbeddedCoordinator(defaultEmbeddedStore);
  let auth: { user: string; password: string } | undefined;
  if (cfg.auth) {
    const password = env[cfg.auth.passwordEnv];
    if (!password)
      throw new CoordinatorError(
        'NW_CP_CONFIG_INVALID',
        `coordinator.auth.passwordEnv: environment variable ${cfg.auth.passwordEnv} is not set`,
      );
    auth = { user: cfg.auth.user, password };
  }
  return new ZooKeeperCoordinator({
    connectString: cfg.connectString,
    chroot: cfg.chroot,
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
    opTimeoutMs: cfg.opTimeoutMs,
    ...(auth ? { auth } : {}),
  });
}
