/**
 * The identifier rules every part shares. Each becomes a coordinator node
 * name somewhere (/members/<id>, /apps/<app>, /migrations/<id>), so all are
 * restricted to characters a node name, a URL path segment and a metric label
 * can hold without escaping.
 */
import { z } from 'zod';

/** Member ids, gateway names, control-plane ids. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** Migration ids (plans, state tags, admin URLs, the CLI). */
export const MIGRATION_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** App names: lowercase, a DNS label. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const nodeIdSchema = z.string().regex(NODE_ID_PATTERN, 'ids are [A-Za-z0-9._-], at most 128 characters');
export const migrationIdSchema = z.string().regex(MIGRATION_ID_PATTERN, 'migration ids are [A-Za-z0-9._-], at most 64 characters');
export const appNameSchema = z.string().regex(APP_NAME_PATTERN, 'app names are lowercase [a-z0-9-]');

export function isValidMemberId(id: string): boolean {
  return NODE_ID_PATTERN.test(id);
}
