import { createCoordinator, type Coordinator } from '../../platform/index.js';
import { layout, MAX_MEMBER_DOCUMENT_BYTES, memberInfoSchema, type MemberInfo } from '../../protocol/index.js';
import type { AttachConfig } from './attach-config.js';
import { AttachError } from './attach-errors.js';

/** The gateways a run loads, and how they were found (for the report title). */
export interface AttachTargets {
  readonly urls: readonly string[];
  /** e.g. `2 gateways listed`, `2 live gateways of ZooKeeper 10.0.0.5:2181… /northwest`. */
  readonly description: string;
}

/** The member documents under /members that parse; the others are left out (a broken member is not a target). */
async function readMembers(c: Coordinator): Promise<Array<{ id: string; info: MemberInfo }>> {
  const ids = ((await c.children(layout.members)) ?? []).sort();
  const out: Array<{ id: string; info: MemberInfo }> = [];
  for (const id of ids) {
    const node = await c.get(layout.member(id));
    if (!node || node.data.length > MAX_MEMBER_DOCUMENT_BYTES) continue;
    try {
      const parsed = memberInfoSchema.safeParse(JSON.parse(node.data.toString('utf8')));
      if (parsed.success) out.push({ id, info: parsed.data });
    } catch {
      // not JSON: not a member we can use
    }
  }
  return out;
}

const UNSPECIFIED = new Set(['0.0.0.0', '[::]', '::']);

/** A gateway's traffic URL as a client on another host reaches it: a wildcard bind gets the member's host name. */
export function reachableUrl(url: string, memberHost: string): string {
  const u = new URL(url);
  if (UNSPECIFIED.has(u.hostname)) u.hostname = memberHost;
  return u.origin;
}

/**
 * The live gateways of a fleet that serve `app`, one traffic URL each (the first plain-HTTP
 * listener it publishes, else its first), read once from the coordinator's member documents with
 * the members' identity.
 */
export async function fleetGatewayUrls(coordinator: Coordinator, app: string): Promise<{ urls: string[]; skipped: string[] }> {
  const urls: string[] = [];
  const skipped: string[] = [];
  for (const { id, info } of await readMembers(coordinator)) {
    if (info.kind !== 'gateway' || !info.apps.includes(app)) continue;
    const published = info.trafficUrls ?? [];
    const url = published.find((u) => u.startsWith('http:')) ?? published[0];
    if (url === undefined) skipped.push(`${id} publishes no trafficUrls (a gateway from before attach mode)`);
    else urls.push(reachableUrl(url, info.host));
  }
  return { urls, skipped };
}

/** Where the load goes: the listed gateways, or the fleet's live gateways serving the app. */
export async function resolveTargets(cfg: AttachConfig, env: NodeJS.ProcessEnv = process.env): Promise<AttachTargets> {
  const { target } = cfg;
  if (target.gateways)
    return { urls: target.gateways.map((u) => new URL(u).origin), description: `${target.gateways.length} gateways listed` };
  const section = target.fleet!.coordinator;
  // The schema refuses an embedded coordinator: it lives inside one process.
  if (section.kind !== 'zookeeper') throw new TypeError('target.fleet.coordinator must be zookeeper');
  const c = createCoordinator(section, 'member', env);
  let found: { urls: string[]; skipped: string[] };
  try {
    await c.connect();
    found = await fleetGatewayUrls(c, cfg.app);
  } finally {
    await c.close();
  }
  // The first server names the ensemble well enough for a title.
  const servers = section.connectString.split(',');
  const where = `ZooKeeper ${servers[0]}${servers.length > 1 ? '…' : ''} ${section.chroot}`;
  if (found.urls.length === 0) {
    const why = found.skipped.length ? `; ${found.skipped.join('; ')}` : '';
    throw new AttachError('NW_ATTACH_NO_GATEWAYS', `no live gateway serving ${cfg.app} under /members of ${where}${why}`);
  }
  return { urls: found.urls, description: `${found.urls.length} live gateways of ${where}` };
}
