import type { Coordinator, TransactionOp } from '../platform/coordinator/coordinator.js';
import { CoordinatorError, isCoordinatorError, type CoordinatorErrorCode } from '../platform/coordinator/coordinator-errors.js';
import { encodeJson, layout, type MemberInfo } from '../protocol/coordinator-paths.js';

/** Errors of the registration transaction that mean another session changed one of its nodes meanwhile. */
const RACES: readonly CoordinatorErrorCode[] = ['NW_CP_NODE_EXISTS', 'NW_CP_NO_NODE', 'NW_CP_BAD_VERSION'];

export interface MemberRegistration {
  readonly memberId: string;
  readonly info: MemberInfo;
  /** Sessions of this same member (earlier ones of this process): their nodes are replaced at once. */
  readonly ownSessions: ReadonlySet<string>;
}

/**
 * Creates a member's ephemeral node under its id, in one transaction with the removal of acks
 * under that id that other sessions left (they would count for this member before it applied
 * anything). A node another session holds is not taken: the session of a crashed predecessor ends
 * within about its timeout, so this waits 1.5 negotiated session timeouts for the node to go; if
 * it is still held then, a live member has the same id (NW_CP_MEMBER_ID_IN_USE) and nothing of its
 * is touched. Returns the session the node was created in.
 */
export async function registerMember(c: Coordinator, r: MemberRegistration): Promise<string> {
  const path = layout.member(r.memberId);
  const deadline = performance.now() + 1.5 * (c.negotiatedSessionTimeoutMs() ?? 0);
  for (;;) {
    const session = c.sessionId();
    let changed: () => void = () => undefined;
    const change = new Promise<void>((resolve) => (changed = resolve));
    const node = await c.get(path, () => changed());
    const owner = node?.ephemeralOwner;
    // '' is a persistent node: no session holds it.
    if (node && owner !== '' && owner !== session && !r.ownSessions.has(owner ?? '')) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new CoordinatorError(
          'NW_CP_MEMBER_ID_IN_USE',
          `${r.memberId} is held by session ${owner ?? '(unknown)'} (ours is ${session}); give each member its own id`,
        );
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([change, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
      continue;
    }
    const ops: TransactionOp[] = node ? [{ op: 'remove', path, version: node.version }] : [];
    for (const app of r.info.apps) {
      const ack = await c.get(layout.ack(app, r.memberId));
      if (ack && ack.ephemeralOwner !== session) ops.push({ op: 'remove', path: layout.ack(app, r.memberId), version: ack.version });
    }
    ops.push({ op: 'create', path, data: encodeJson(r.info), mode: 'ephemeral' });
    try {
      await c.transaction(ops);
      return session;
    } catch (err) {
      // Someone created, removed or changed one of these nodes since they were read: look again.
      if (!RACES.some((code) => isCoordinatorError(err, code))) throw err;
    }
  }
}
