import type { Coordinator, Watcher } from '../platform/coordinator/coordinator.js';
import { layout, type MemberInfo } from '../protocol/coordinator-paths.js';
import { memberInfoOf, type InvalidDocumentReport } from '../fleet/coordinator-documents.js';

export interface MemberStatus extends MemberInfo {
  readonly id: string;
}

/**
 * Every live member with a valid member document, by id (an invalid one is reported and left out).
 * `watch` is set on the member list and on every member document read.
 */
export async function readLiveMembers(c: Coordinator, invalid: InvalidDocumentReport, watch?: Watcher): Promise<MemberStatus[]> {
  const ids = (await c.children(layout.members, watch)) ?? [];
  const out: MemberStatus[] = [];
  await Promise.all(
    ids.map(async (id) => {
      const path = layout.member(id);
      const node = await c.get(path, watch);
      const info = node && memberInfoOf(path, node.data, invalid);
      if (info) out.push({ id, ...info });
    }),
  );
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
