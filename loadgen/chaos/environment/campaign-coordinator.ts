import { randomBytes } from 'node:crypto';
import { layout, TREE_ROOTS, type MemberInfo } from '../../../protocol/index.js';
import {
  type Coordinator,
  type CoordinatorConfig,
  type CoordinatorRole,
  digestId,
  northwestAclPolicy,
  ZooKeeperCoordinator,
} from '../../../platform/index.js';
import type { MigrationLog } from '../../../controlplane/index.js';
import { removeTree } from '../../experiments/trial-coordinator.js';
import type { CoordinatorSnapshot } from '../invariants/evidence.js';

/** A digest identity whose password every process of the campaign reads from `passwordEnv`. */
export interface CampaignIdentity {
  readonly user: string;
  readonly passwordEnv: string;
}

/**
 * The one place that says how the campaign's processes reach ZooKeeper: the chroot (fresh per
 * campaign), the session timeout, and the two digest identities a real fleet has (control plane,
 * members), with passwords made up per run and put in this process's environment so that every
 * child process finds them. Gateways get the member section with their Toxiproxy addresses as the
 * connect string.
 */
export interface CoordinatorSettings {
  readonly connectString: string;
  readonly chroot: string;
  readonly sessionTimeoutMs: number;
  readonly controlPlane: CampaignIdentity;
  readonly members: CampaignIdentity;
}

/** Makes up the run's two identities (passwords into this process's environment). */
export function campaignIdentities(runId: string): Pick<CoordinatorSettings, 'controlPlane' | 'members'> {
  const make = (role: string, env: string): CampaignIdentity => {
    process.env[env] = randomBytes(12).toString('hex');
    return { user: `nw-chaos-${role}-${runId}`, passwordEnv: env };
  };
  return {
    controlPlane: make('controlplane', 'NW_CHAOS_ZK_CONTROLPLANE_PASSWORD'),
    members: make('member', 'NW_CHAOS_ZK_MEMBER_PASSWORD'),
  };
}

/** The `coordinator` section of a gateway (role member) or control-plane config. */
export function coordinatorSection(s: CoordinatorSettings, role: CoordinatorRole, connectString = s.connectString): CoordinatorConfig {
  const base = {
    kind: 'zookeeper' as const,
    connectString,
    chroot: s.chroot,
    sessionTimeoutMs: s.sessionTimeoutMs,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 10_000,
    insecure: false,
  };
  return role === 'member' ? { ...base, auth: s.members } : { ...base, auth: s.controlPlane, members: s.members };
}

function password(id: CampaignIdentity): { user: string; password: string } {
  const value = process.env[id.passwordEnv];
  if (!value) throw new Error(`chaos: ${id.passwordEnv} is not set`);
  return { user: id.user, password: value };
}

/** The campaign's own client: the control plane's identity, and the members' too so it can remove their nodes. */
function client(s: CoordinatorSettings, chroot: string): ZooKeeperCoordinator {
  return new ZooKeeperCoordinator({
    connectString: s.connectString,
    chroot,
    sessionTimeoutMs: s.sessionTimeoutMs,
    connectTimeoutMs: 15_000,
    opTimeoutMs: 10_000,
    auth: [password(s.controlPlane), password(s.members)],
    acl: northwestAclPolicy('controlplane', digestId(password(s.members))),
  });
}

/** The campaign's own session in its chroot: reads the tree, the migration logs; removes the chroot at the end. */
export class CampaignCoordinator {
  private constructor(
    readonly settings: CoordinatorSettings,
    readonly session: Coordinator,
  ) {}

  static async open(settings: CoordinatorSettings): Promise<CampaignCoordinator> {
    const c = client(settings, settings.chroot);
    await c.connect();
    // The tree the control plane owns, so the gateways can join before a control plane has run.
    for (const p of TREE_ROOTS) await c.mkdirp(p);
    return new CampaignCoordinator(settings, c);
  }

  async migration(id: string): Promise<MigrationLog | undefined> {
    const node = await this.session.get(layout.migration(id));
    return node ? (JSON.parse(node.data.toString('utf8')) as MigrationLog) : undefined;
  }

  /** Id of the leading control plane (lowest /leader candidate), if any. */
  async leader(): Promise<string | undefined> {
    const kids = ((await this.session.children(layout.leader)) ?? []).sort();
    return kids[0] ? (await this.session.get(`${layout.leader}/${kids[0]}`))?.data.toString('utf8') : undefined;
  }

  /** Gateway member ids registered for the app (their /members nodes). */
  async gatewayMembers(): Promise<string[]> {
    const ids = (await this.session.children(layout.members)) ?? [];
    const out: string[] = [];
    for (const id of ids) {
      const node = await this.session.get(layout.member(id));
      if (node && (JSON.parse(node.data.toString('utf8')) as MemberInfo).kind === 'gateway') out.push(id);
    }
    return out;
  }

  async snapshot(app: string): Promise<CoordinatorSnapshot> {
    const c = this.session;
    const leader = ((await c.children(layout.leader)) ?? []).sort();
    const dataLocks: string[] = [];
    const walk = async (path: string): Promise<void> => {
      for (const k of (await c.children(path)) ?? []) {
        dataLocks.push(`${path}/${k}`);
        await walk(`${path}/${k}`);
      }
    };
    await walk(layout.dataLock(app, ''));
    return {
      stateEpoch: (await c.get(layout.state(app)))?.version,
      lock: (await c.get(layout.lock(app)))?.data.toString('utf8'),
      acks: (await c.children(layout.acks(app))) ?? [],
      members: (await c.children(layout.members)) ?? [],
      leaderCandidates: await Promise.all(
        leader.map(async (node) => ({ node, id: (await c.get(`${layout.leader}/${node}`))?.data.toString('utf8') ?? '' })),
      ),
      // only the locks themselves: the group nodes are persistent parents
      dataLocks: dataLocks.filter((p) => /\/lock-\d+$/.test(p)),
    };
  }

  /** Closes the session, then removes the chroot with a fresh one (after every process of the campaign stopped). */
  async dispose(): Promise<void> {
    await this.session.close().catch(() => undefined);
    const root = client(this.settings, '/');
    try {
      await root.connect();
      await removeTree(root, this.settings.chroot);
    } finally {
      await root.close();
    }
  }
}
