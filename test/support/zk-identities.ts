// The digest identities tests use on the ZooKeeper ensemble, as the shipped configs do: the control
// plane's and the fleet members'. Digest identities need no set-up on the server, so fixed test
// passwords do; they are put in this process's environment (under test-only names) so that config
// files and child processes (gateway processes) find them through `passwordEnv`.
import type { ControlPlaneCoordinatorConfig, MemberCoordinatorConfig } from '../../platform/coordinator/coordinator-config.js';
import { digestId, type CoordinatorIdentity } from '../../platform/coordinator/coordinator-acl.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { northwestAclPolicy, type CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { TREE_ROOTS } from '../../protocol/coordinator-paths.js';

export const TEST_CONTROL_PLANE: CoordinatorIdentity = Object.freeze({
  user: 'nw-test-controlplane',
  password: 'controlplane-test-secret',
});
export const TEST_MEMBERS: CoordinatorIdentity = Object.freeze({ user: 'nw-test-member', password: 'member-test-secret' });
export const CONTROL_PLANE_PASSWORD_ENV = 'NW_TEST_ZK_CONTROLPLANE_PASSWORD';
export const MEMBER_PASSWORD_ENV = 'NW_TEST_ZK_MEMBER_PASSWORD';
process.env[CONTROL_PLANE_PASSWORD_ENV] = TEST_CONTROL_PLANE.password;
process.env[MEMBER_PASSWORD_ENV] = TEST_MEMBERS.password;

export interface ZkSessionOptions {
  readonly connectString: string;
  readonly chroot: string;
  readonly sessionTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly opTimeoutMs?: number;
}

/** An experiment config's `coordinator.auth`: both identities, passwords from the environment. */
export const TEST_EXPERIMENT_AUTH = Object.freeze({
  controlPlane: { user: TEST_CONTROL_PLANE.user, passwordEnv: CONTROL_PLANE_PASSWORD_ENV },
  members: { user: TEST_MEMBERS.user, passwordEnv: MEMBER_PASSWORD_ENV },
});

/** An unconnected client in a role, with the ACL policy the shipped configs give that role. */
export function zkClient(role: CoordinatorRole, opts: ZkSessionOptions): ZooKeeperCoordinator {
  if (role === 'member') return new ZooKeeperCoordinator({ ...opts, auth: TEST_MEMBERS, acl: northwestAclPolicy('member') });
  return new ZooKeeperCoordinator({ ...opts, auth: TEST_CONTROL_PLANE, acl: northwestAclPolicy('controlplane', digestId(TEST_MEMBERS)) });
}

/** An unconnected client holding both identities: for clean-up of a whole chroot (members own their data-lock nodes). */
export function zkAdminClient(opts: ZkSessionOptions): ZooKeeperCoordinator {
  return new ZooKeeperCoordinator({ ...opts, auth: [TEST_CONTROL_PLANE, TEST_MEMBERS] });
}

/** Creates the chroot and the control plane's tree roots, as a control plane does when it starts. */
export async function provisionTree(opts: ZkSessionOptions): Promise<void> {
  const c = zkClient('controlplane', opts);
  try {
    await c.connect();
    for (const p of TREE_ROOTS) await c.mkdirp(p);
  } finally {
    await c.close();
  }
}

/** Removes a subtree depth-first (ephemeral nodes of closed sessions are gone already). */
async function removeSubtree(c: Coordinator, path: string): Promise<void> {
  for (const child of (await c.children(path)) ?? []) await removeSubtree(c, `${path === '/' ? '' : path}/${child}`);
  await c.remove(path).catch(() => undefined);
}

/** Removes a test chroot with everything in it, whichever role created its nodes. */
export async function removeChroot(connectString: string, chroot: string): Promise<void> {
  const admin = zkAdminClient({ connectString, chroot: '/', connectTimeoutMs: 15_000, opTimeoutMs: 15_000 });
  try {
    await admin.connect();
    await removeSubtree(admin, chroot);
  } finally {
    await admin.close();
  }
}

type ZkConfigFields = Omit<ZkSessionOptions, 'connectTimeoutMs' | 'opTimeoutMs'> & { connectTimeoutMs?: number; opTimeoutMs?: number };

/** A gateway's `fleet.coordinator` section for the test ensemble, with the members' identity. */
export function memberCoordinatorConfig(opts: ZkConfigFields): MemberCoordinatorConfig {
  return {
    kind: 'zookeeper',
    sessionTimeoutMs: 15_000,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 15_000,
    ...opts,
    auth: { user: TEST_MEMBERS.user, passwordEnv: MEMBER_PASSWORD_ENV },
    insecure: false,
  };
}

/** A control plane's `coordinator` section for the test ensemble, with both identities. */
export function controlPlaneCoordinatorConfig(opts: ZkConfigFields): ControlPlaneCoordinatorConfig {
  return {
    kind: 'zookeeper',
    sessionTimeoutMs: 15_000,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 15_000,
    ...opts,
    auth: { user: TEST_CONTROL_PLANE.user, passwordEnv: CONTROL_PLANE_PASSWORD_ENV },
    members: { user: TEST_MEMBERS.user, passwordEnv: MEMBER_PASSWORD_ENV },
    insecure: false,
  };
}
