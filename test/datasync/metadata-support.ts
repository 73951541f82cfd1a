// Shared by the metadata sync tests: coordinators under a fresh /nw_meta_<random> chroot on the
// real ensemble (one server per harness, so one client reads another's writes at once), and
// reading a whole subtree back for comparison. These stand in for an app's own metadata ensembles,
// which have no Northwest ACLs: clients are unauthenticated (insecure) unless a test passes `auth`.
import { randomBytes } from 'node:crypto';
import { joinPath, type Coordinator } from '../../platform/coordinator/coordinator.js';
import type { CoordinatorIdentity } from '../../platform/coordinator/coordinator-acl.js';
import { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { removeSubtree } from '../../datasync/metadata/subtree-remove.js';
import { walkTree } from '../../datasync/metadata/tree-walk.js';
import { requireService } from '../support/service-endpoints.js';

export type Auth = CoordinatorIdentity;

/** What a test may add to a harness client. */
export interface ClientExtras {
  readonly auth?: Auth;
  readonly sessionTimeoutMs?: number;
  readonly opTimeoutMs?: number;
}

export interface MetadataHarness {
  /** Server chroot of this harness, e.g. /nw_meta_1a2b3c. */
  readonly base: string;
  /** The one server this harness's clients use. */
  readonly server: string;
  /** The other servers (to expire a session from elsewhere). */
  readonly others: string;
  /** A connected coordinator chrooted at `${base}${sub}`, closed by cleanup(). */
  open(sub: string, extra?: ClientExtras): Promise<ZooKeeperCoordinator>;
  /** Closes every client, then removes the base chroot (as `auth`, which may also remove open nodes). */
  cleanup(auth?: Auth): Promise<void>;
}

export function metadataHarness(): MetadataHarness {
  const zk = requireService('zookeeper');
  const servers = zk.servers.map((s) => `${s.host}:${s.port}`);
  const i = Math.floor(Math.random() * servers.length);
  const server = servers[i] as string;
  const base = `/nw_meta_${randomBytes(5).toString('hex')}`;
  const clients: ZooKeeperCoordinator[] = [];
  const open = async (sub: string, { auth, ...extra }: ClientExtras = {}): Promise<ZooKeeperCoordinator> => {
    const where = { connectString: server, chroot: joinPath(base, sub), sessionTimeoutMs: 4000, ...extra };
    const c = auth ? new ZooKeeperCoordinator({ ...where, auth }) : new ZooKeeperCoordinator({ ...where, insecure: true });
    clients.push(c);
    await c.connect();
    return c;
  };
  return {
    base,
    server,
    others: servers.filter((_, j) => j !== i).join(','),
    open,
    async cleanup(auth?: Auth) {
      await Promise.all(clients.map((c) => c.close()));
      const where = { connectString: server, chroot: '/' };
      const admin = auth ? new ZooKeeperCoordinator({ ...where, auth }) : new ZooKeeperCoordinator({ ...where, insecure: true });
      await admin.connect();
      try {
        await removeSubtree(admin, base);
      } finally {
        await admin.close();
      }
    },
  };
}

/** Every node of the subtree at `root` as relative path → data ('' for the root itself). */
export async function readTree(c: Coordinator, root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await walkTree([root], 32, async (path) => {
    const node = await c.get(path);
    if (!node) return [];
    out.set(path === root ? '' : path.slice(root === '/' ? 0 : root.length), node.data);
    return ((await c.children(path)) ?? []).map((k) => joinPath(path, k));
  });
  return out;
}

/** Describes how two trees differ (at most a few paths), '' if they are equal. */
export function treeDiff(expected: Map<string, Buffer>, actual: Map<string, Buffer>): string {
  const problems: string[] = [];
  for (const [p, d] of expected) {
    const got = actual.get(p);
    if (!got) problems.push(`missing ${p}`);
    else if (!got.equals(d)) problems.push(`data differs at ${p} (${d.length} vs ${got.length} bytes)`);
  }
  for (const p of actual.keys()) if (!expected.has(p)) problems.push(`extra ${p}`);
  return problems.length === 0 ? '' : `${problems.length} differences: ${problems.slice(0, 5).join('; ')}`;
}
