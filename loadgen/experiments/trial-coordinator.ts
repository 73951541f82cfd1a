import { randomBytes } from 'node:crypto';
import {
  type CoordinatorConfig,
  type Coordinator,
  EmbeddedCoordinator,
  EmbeddedStore,
  ZooKeeperCoordinator,
} from '../../platform/index.js';
import type { ExperimentConfig } from './experiment-config.js';

/** One trial's coordination space: an embedded store, or a fresh chroot on a ZooKeeper ensemble. */
export interface TrialCoordinator {
  /** Names it in reports, e.g. `zookeeper 127.0.0.1:21811,… /nw-experiment-ab12-t1`. */
  readonly description: string;
  /** The gateway config's `fleet.coordinator` section that describes it. */
  readonly config: CoordinatorConfig;
  /** A new, unconnected client (each gateway and the control plane has its own session). */
  client(): Coordinator;
  /** Removes what the trial left behind (the chroot). Call after every client is closed. */
  dispose(): Promise<void>;
}

/** Removes a subtree depth-first (ephemeral nodes of closed sessions are gone already). */
export async function removeTree(c: Coordinator, path: string): Promise<void> {
  for (const child of (await c.children(path)) ?? []) await removeTree(c, `${path === '/' ? '' : path}/${child}`);
  await c.remove(path).catch(() => undefined);
}

/** A fresh coordination space for one trial, so trials never see each other's state. */
export function trialCoordinator(cfg: ExperimentConfig['coordinator'], trial: number): TrialCoordinator {
  if (cfg.kind === 'embedded') {
    const store = new EmbeddedStore();
    return {
      description: 'embedded (in-process)',
      config: { kind: 'embedded' },
      client: () => new EmbeddedCoordinator(store),
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
  return {
    description: `zookeeper ${cfg.connectString} ${chroot}`,
    config: { kind: 'zookeeper', chroot, ...settings },
    client: () => new ZooKeeperCoordinator({ ...settings, chroot }),
    async dispose() {
      const root = new ZooKeeperCoordinator({ ...settings, chroot: '/' });
      try {
        await root.connect();
        await removeTree(root, chroot);
      } finally {
        await root.close();
      }
    },
  };
}
