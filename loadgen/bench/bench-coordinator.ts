import { randomBytes } from 'node:crypto';
import { type CoordinatorConfig, digestId, northwestAclPolicy, ZooKeeperCoordinator } from '../../platform/index.js';
import { TREE_ROOTS } from '../../protocol/index.js';

/** Where the members of a bench run find their password (set by benchCoordinator for this process). */
const MEMBER_PASSWORD_ENV = 'NW_BENCH_ZK_MEMBER_PASSWORD';

export interface BenchCoordinator {
  /** The gateways' `fleet.coordinator` section. */
  readonly memberConfig: CoordinatorConfig;
  /** A new control-plane client (it writes the states and runs the barriers). */
  controlPlane(): ZooKeeperCoordinator;
  /** Creates the tree the control plane owns, so the gateways can join. */
  provision(): Promise<void>;
}

/**
 * A bench run's coordinator with the ACLs a real fleet has: digest identities with passwords made
 * up for this run (a digest identity needs no set-up on the server), so the figures include the
 * cost of authentication and ACL checks.
 */
export function benchCoordinator(connectString: string, chroot: string): BenchCoordinator {
  const members = { user: 'bench-member', password: randomBytes(12).toString('hex') };
  const controlPlane = { user: 'bench-controlplane', password: randomBytes(12).toString('hex') };
  process.env[MEMBER_PASSWORD_ENV] = members.password;
  const cpClient = (): ZooKeeperCoordinator =>
    new ZooKeeperCoordinator({
      connectString,
      chroot,
      sessionTimeoutMs: 10_000,
      auth: controlPlane,
      acl: northwestAclPolicy('controlplane', digestId(members)),
    });
  return {
    memberConfig: {
      kind: 'zookeeper',
      connectString,
      chroot,
      sessionTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      opTimeoutMs: 10_000,
      auth: { user: members.user, passwordEnv: MEMBER_PASSWORD_ENV },
      insecure: false,
    },
    controlPlane: cpClient,
    async provision() {
      const c = cpClient();
      try {
        await c.connect();
        for (const p of TREE_ROOTS) await c.mkdirp(p);
      } finally {
        await c.close();
      }
    },
  };
}
