import { createHash } from 'node:crypto';

/** What an ACL entry allows on a node (ZooKeeper's permissions; delete and create apply to a node's children). */
export type AclPermission = 'read' | 'write' | 'create' | 'delete' | 'admin';

/**
 * One ACL entry: `digest` names an identity by its digest id (see digestId), `auth` the
 * identities of the session that creates the node, `world` anyone (id 'anyone').
 */
export interface AclEntry {
  readonly scheme: 'digest' | 'auth' | 'world';
  readonly id: string;
  readonly perms: readonly AclPermission[];
}

/** The ACL a node gets when this client creates it, or why this client never creates it. */
export type AclDecision = readonly AclEntry[] | { readonly refused: string };

/** Maps a node's path (relative to the chroot; '/' is the chroot itself) to its ACL. */
export type AclPolicy = (path: string) => AclDecision;

/** Digest credentials a session authenticates with. */
export interface CoordinatorIdentity {
  readonly user: string;
  readonly password: string;
}

export const ALL_PERMISSIONS: readonly AclPermission[] = Object.freeze(['read', 'write', 'create', 'delete', 'admin']);

/**
 * ZooKeeper's digest id of an identity, `user:base64(sha1(user:password))`: what an ACL names
 * (the server compares it with the digest of the credentials a session adds), so a policy can
 * grant an identity access without holding a session as it.
 */
export function digestId(identity: CoordinatorIdentity): string {
  const hash = createHash('sha1').update(`${identity.user}:${identity.password}`).digest('base64');
  return `${identity.user}:${hash}`;
}
