import cassandra from 'cassandra-driver';
import { z } from 'zod';
import { SyncError } from '../errors.js';

/** An unquoted CQL name (keyspace, table): a letter, then letters, digits or _, at most 48. */
export const CQL_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

const clusterSchema = z.strictObject({
  /** Hosts (or host:port) of the cluster's nodes; the driver discovers the rest. */
  contactPoints: z.array(z.string().min(1)).min(1),
  /** Default port of the contact points without one. */
  port: z.number().int().min(1).max(65_535).default(9042),
  localDataCenter: z.string().min(1),
  /** Per-request client-side timeout (the driver's readTimeout). */
  requestTimeoutMs: z.number().int().positive().default(12_000),
  connectTimeoutMs: z.number().int().positive().default(5000),
  /** Password authentication; the password comes from the environment. */
  auth: z.strictObject({ user: z.string().min(1), passwordEnv: z.string().min(1) }).optional(),
});

/** The `datastore` section of an app server's data-layer config. */
export const datastoreConfigSchema = z.strictObject({
  /** The app server's own cluster (N1 before a handover). */
  local: clusterSchema,
  /** N2's cluster, needed once a migration switches to copy-on-write. */
  n2: clusterSchema.optional(),
  /** Keyspace the app's tables live in (the same name on both clusters). */
  keyspace: z.string().regex(CQL_IDENTIFIER, 'a CQL identifier: a letter, then letters, digits or _ (max 48)'),
  /** Re-sends of a write that straddles a data-mode switch. */
  maxRetries: z.number().int().min(0).max(10).default(3),
  /** How long transaction() waits for an entity-group lock. */
  lockTimeoutMs: z.number().int().positive().default(5000),
});

export type DatastoreClusterConfig = Readonly<z.output<typeof clusterSchema>>;
export type DatastoreConfig = Readonly<z.output<typeof datastoreConfigSchema>>;

/** Checks a raw datastore config once, at the edge; NW_SYNC_CONFIG_INVALID names the field (and `source`, e.g. the file). */
export function parseDatastoreConfig(raw: unknown, source = 'datastore config'): DatastoreConfig {
  const parsed = datastoreConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SyncError('NW_SYNC_CONFIG_INVALID', `${source}: ${issues}`, {
      details: { fields: parsed.error.issues.map((i) => i.path.join('.')) },
    });
  }
  return Object.freeze({
    ...parsed.data,
    local: Object.freeze(parsed.data.local),
    ...(parsed.data.n2 ? { n2: Object.freeze(parsed.data.n2) } : {}),
  });
}

/** An unconnected driver client for one cluster of the config (the driver connects on first use). */
export function createClusterClient(
  cfg: DatastoreClusterConfig,
  side: 'local' | 'n2',
  env: NodeJS.ProcessEnv = process.env,
): cassandra.Client {
  let authProvider: cassandra.auth.AuthProvider | undefined;
  if (cfg.auth) {
    const password = env[cfg.auth.passwordEnv];
    if (!password)
      throw new SyncError('NW_SYNC_CONFIG_INVALID', `${side}.auth.passwordEnv: environment variable ${cfg.auth.passwordEnv} is not set`);
    authProvider = new cassandra.auth.PlainTextAuthProvider(cfg.auth.user, password);
  }
  return new cassandra.Client({
    contactPoints: [...cfg.contactPoints],
    localDataCenter: cfg.localDataCenter,
    protocolOptions: { port: cfg.port },
    socketOptions: { readTimeout: cfg.requestTimeoutMs, connectTimeout: cfg.connectTimeoutMs },
    ...(authProvider ? { authProvider } : {}),
  });
}
