import type { MigrationEvidence, Violation } from './evidence.js';

/**
 * No lock or ephemeral node is left behind once a migration has ended and the sessions of the
 * processes the campaign killed have expired: the app's lock is gone, every ack, member node and
 * leader candidate belongs to a process that is running (a gateway, or an app server's data layer),
 * no data-layer lock is left.
 */
export function checkLeftovers(ev: Pick<MigrationEvidence, 'migrationId' | 'app' | 'outcome' | 'tree' | 'live'>): Violation[] {
  const t = ev.tree;
  const liveMembers = new Set([...ev.live.gateways, ...(ev.live.dataLayers ?? [])]);
  const liveControlPlanes = new Set(ev.live.controlPlanes);
  const found: string[] = [];
  if (t.lock !== undefined) found.push(`/apps/${ev.app}/lock holds ${JSON.stringify(t.lock)} (migration ${ev.outcome.status})`);
  for (const a of t.acks) if (!liveMembers.has(a)) found.push(`/apps/${ev.app}/acks/${a}: no such live member`);
  for (const m of t.members) if (!liveMembers.has(m)) found.push(`/members/${m}: no such live member`);
  const seen = new Map<string, number>();
  for (const c of t.leaderCandidates) {
    seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
    if (!liveControlPlanes.has(c.id)) found.push(`/leader/${c.node} (${c.id}): no such live control plane`);
  }
  for (const [id, n] of seen) if (n > 1 && liveControlPlanes.has(id)) found.push(`/leader: ${n} candidates for control plane ${id}`);
  for (const l of t.dataLocks) found.push(`${l}: data-layer lock left`);
  if (found.length === 0) return [];
  return [
    {
      invariant: 'no-leftovers',
      migrationId: ev.migrationId,
      summary: `${found.length} node(s) left behind in the coordinator`,
      trace: [
        ...found,
        `live members: ${[...liveMembers].join(', ') || '-'}; live control planes: ${[...liveControlPlanes].join(', ') || '-'}`,
      ],
    },
  ];
}
