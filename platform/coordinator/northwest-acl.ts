/**
 * Who may do what in Northwest's coordinator tree (protocol/coordinator-paths.ts), as ZooKeeper
 * digest ACLs. Two roles, each one digest identity:
 *
 * - the control plane owns the tree: it creates every persistent node (the roots, each app's
 *   node, state, lock and acks list, migration logs, leader candidates, sync checkpoints) and may
 *   do anything there;
 * - members (gateways and data layers) may read the states and create their own ephemeral member
 *   and ack nodes and their data locks; their member node is written once, their ack nodes only by
 *   their own role, and they can neither write a state nor delete anything under /members or an
 *   acks list (ZooKeeper checks a delete against the parent's ACL). Load agents use the members'
 *   identity: they join a load run and publish their results there, as ephemeral nodes.
 *
 * A node a member creates can name only its own role (a member does not know the control plane's
 * identity), so it is readable by anyone: member and ack documents are not secrets (host, pid,
 * apps, acked epochs) and the control plane must read them. The table is in docs/architecture.md
 * ("Coordinator access"); test/platform/coordinator-acl.test.ts checks it on the ensemble.
 */
import { layout } from '../../protocol/coordinator-paths.js';
import { ALL_PERMISSIONS, type AclDecision, type AclEntry, type AclPolicy } from './coordinator-acl.js';

export type CoordinatorRole = 'controlplane' | 'member';

const SELF_ALL: AclEntry = { scheme: 'auth', id: '', perms: ALL_PERMISSIONS };
const ANYONE_READ: AclEntry = { scheme: 'world', id: 'anyone', perms: ['read'] };

/** What a node is, by its place in the tree. */
type NodeClass =
  | 'tree' // the chroot, /apps, /apps/<app>, a state, a load run and its documents: the control plane's, members read
  | 'private' // locks, migrations, leader, sync checkpoints, anything else: the control plane's alone
  | 'member-parent' // /members, /apps/<app>/acks, /datalocks, a load run's agents and results/<agent>: members read and create
  | 'member-own' // /members/<m>, a load agent's join node and result chunks: written once by its creator, readable by anyone
  | 'ack' // /apps/<app>/acks/<m>: the creating role reads and writes it, anyone reads
  | 'datalock'; // /datalocks/<app>/...: the members' own subtree

function classify(path: string): NodeClass {
  const s = path.split('/').filter(Boolean);
  if (s.length === 0) return 'tree';
  if (path === layout.members || path === layout.datalocks) return 'member-parent';
  if (s[0] === 'members' && s.length === 2) return 'member-own';
  if (s[0] === 'datalocks') return 'datalock';
  if (s[0] === 'apps') {
    if (s.length === 1 || s.length === 2 || (s.length === 3 && s[2] === 'state')) return 'tree';
    if (s.length === 3 && s[2] === 'acks') return 'member-parent';
    if (s.length === 4 && s[2] === 'acks') return 'ack';
  }
  if (s[0] === 'loadruns') return classifyLoadRun(s);
  return 'private';
}

/**
 * A load run (`/loadruns/<run>/…`): the controller (control-plane identity) creates the run, its
 * start and end documents and each agent's results node; load agents (members' identity) read
 * them and add their own ephemeral join node and result chunks, written once.
 */
function classifyLoadRun(s: readonly string[]): NodeClass {
  if (s.length <= 2 || (s.length === 3 && (s[2] === 'start' || s[2] === 'end' || s[2] === 'results'))) return 'tree';
  if ((s.length === 3 && s[2] === 'agents') || (s.length === 4 && s[2] === 'results')) return 'member-parent';
  if ((s.length === 4 && s[2] === 'agents') || (s.length === 5 && s[2] === 'results')) return 'member-own';
  return 'private';
}

/**
 * The ACL policy of one role. The control plane's needs the members' digest id (from their
 * identity: see digestId) to grant them access; a member's names only its own session.
 */
export function northwestAclPolicy(role: CoordinatorRole, membersDigestId?: string): AclPolicy {
  if (role === 'member') {
    return (path): AclDecision => {
      const kind = classify(path);
      if (kind === 'member-own') return [{ scheme: 'auth', id: '', perms: ['read'] }, ANYONE_READ];
      if (kind === 'ack') return [{ scheme: 'auth', id: '', perms: ['read', 'write'] }, ANYONE_READ];
      if (kind === 'datalock') return [SELF_ALL, ANYONE_READ];
      return { refused: `${path} is created by the control plane (start one on this chroot first)` };
    };
  }
  if (!membersDigestId) throw new TypeError("the control plane's ACL policy needs the members' digest id");
  const members = (perms: AclEntry['perms']): AclEntry => ({ scheme: 'digest', id: membersDigestId, perms });
  return (path): AclDecision => {
    const kind = classify(path);
    if (kind === 'tree') return [SELF_ALL, members(['read'])];
    if (kind === 'member-parent') return [SELF_ALL, members(['read', 'create'])];
    if (kind === 'private') return [SELF_ALL];
    return { refused: `${path} is created by a fleet member, not the control plane` };
  };
}
