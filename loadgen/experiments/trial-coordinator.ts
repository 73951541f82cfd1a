import { randomBytes } from 'node:crypto';
import {
  type CoordinatorConfig,
  type CoordinatorIdentity,
  type CoordinatorRole,
  type Coordinator,
  digestId,
  EmbeddedCoordinator,
  EmbeddedStore,
  northwestAclPolicy,
  resolveIdentity,
  ZooKeeperCoordinator,
} from '../../platform/index.js';
import { TREE_ROOTS } from '../../protocol/index.js';
import type { ExperimentConfig } from './experiment-config.js';

/** One trial's coordination space: an embedded store, or a fresh chroot on a ZooKeeper ensemble. */
export interface TrialCoordinator {
  /** Names it in reports, e.g. `zookeeper 127.0.0.1:21811,… /nw-experiment-ab12-t1`. */
  readonly description: string;
  /** The gateway config's `fleet.coordinator` section that describes it (a member's identity). */
  readonly config: CoordinatorConfig;
  /** A new, unconnected client in one role (each gateway, data layer and the control plane has its own session). */
  client(role: CoordinatorRole): Coordinator;
  /** Creates the tree the control plane owns, so members may join before the control plane starts. */
  provision(): Promise<void>;
  /** Removes what the trial left behind (the chroot). Call after every client is closed. */
  dispose(): Promise<void>;
}

/** Removes a subtree depth-first (ephemeral nodes of closed sessions are gone already). */
export async function removeTree(c: Coordinator, path: string): Promise<void> {
  for (const child of (await c.children(path)) ?? []) await removeTree(c, `${path === '/' ? '' : path}/${child}`);
  await c.remove(path).catch(() => undefined);
}

/** A fresh coordination space for one trial, so trials never see each other's state. */
export function trialCoordinator(
  cfg: ExperimentConfig['coordinator'],
  trial: number,
  env: NodeJS.ProcessEnv = process.env,
): TrialCoordinator {
  if (cfg.kind === 'embedded') {
    const store = new EmbeddedStore();
    return {
      description: 'embedded (in-process)',
      config: { kind: 'embedded' },
      client: () => new EmbeddedCoordinator(store),
      provision: async () => {},
      dispose: async () => {},
    };
  }
  const chroot = `${cfg.chroot}-${randomBytes(3).toString('hex')}-t${trial}`;
  const settings = {
    connectString: cfg.connectString,
    sessionTimeoutMs: cfg.sessionTimeoutMs,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 15_000,
  };
  let ids: { controlPlane: CoordinatorIdentity; members: CoordinatorIdentity } | undefined;
  if (cfg.auth) {
    ids = {
      controlPlane: resolveIdentity('coordinator.auth.controlPlane', cfg.auth.controlPlane, env),
      members: resolveIdentity('coordinator.auth.members', cfg.auth.members, env),
    };
  }
  const client = (role: CoordinatorRole, at = chroot): ZooKeeperCoordinator => {
    if (!ids) return new ZooKeeperCoordinator({ ...settings, chroot: at, insecure: true });
    const acl = role === 'member' ? northwestAclPolicy('member') : northwestAclPolicy('controlplane', digestId(ids.members));
    return new ZooKeeperCoordinator({ ...settings, chroot: at, auth: role === 'member' ? ids.members : ids.controlPlane, acl });
  };
  return {
    description: `zookeeper ${cfg.connectString} ${chroot}`,
    config: { kind: 'zookeeper', chroot, ...settings, ...(cfg.auth ? { auth: cfg.auth.members, insecure: false } : { insecure: true }) },
    client: (role) => client(role),
    async provision() {
      const cp = client('controlplane');
      try {
        await cp.connect();
        for (const p of TREE_ROOTS) await cp.mkdirp(p);
      } finally {
        await cp.close();
      }
    },
    async dispose() {
      // Both identities: the control plane's tree holds the members' data-lock nodes.
      const root = new ZooKeeperCoordinator({
        ...settings,
        chroot: '/',
        ...(ids ? { auth: [ids.controlPlane, ids.members] } : { insecure: true }),
      });
      try {
        await root.connect();
        await removeTree(root, chroot);
      } finally {
        await root.close();
      }
    },
  };
}
