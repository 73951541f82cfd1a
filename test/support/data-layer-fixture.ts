// Real Cassandra clusters (n1, n2) and ZooKeeper chroots for the data-layer tests, with clean-up.
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { requireService, type CassandraEndpoint } from './service-endpoints.js';

/** A driver client for one of the services' clusters (or any host:port, e.g. an unused one). */
export function cassandraClient(
  ep: Pick<CassandraEndpoint, 'contactPoint' | 'port' | 'localDataCenter'>,
  connectTimeoutMs = 10_000,
): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [ep.contactPoint],
    localDataCenter: ep.localDataCenter,
    protocolOptions: { port: ep.port },
    socketOptions: { connectTimeout: connectTimeoutMs, readTimeout: 60_000 },
    // One reconnection policy that does not hammer an address nobody listens on.
    policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(1000) },
  });
}

/** Connected clients for N1 and N2, and a fresh keyspace name to use on both. */
export interface TwoClusters {
  readonly n1: cassandra.Client;
  readonly n2: cassandra.Client;
  readonly keyspace: string;
  /** Creates the keyspace (SimpleStrategy rf 1) and a `kv (k text PRIMARY KEY, v text)` table on the given sides. */
  createKvTable(table: string, on?: readonly ('n1' | 'n2')[]): Promise<void>;
  /** Drops the keyspace on both clusters and shuts the clients down. */
  close(): Promise<void>;
}

export async function connectTwoClusters(area: string): Promise<TwoClusters> {
  const eps = requireService('cassandra');
  const n1 = cassandraClient(eps.n1);
  const n2 = cassandraClient(eps.n2);
  await Promise.all([n1.connect(), n2.connect()]);
  const keyspace = `nw_${area}_${randomBytes(4).toString('hex')}`;
  const clients = { n1, n2 };
  return {
    n1,
    n2,
    keyspace,
    async createKvTable(table, on = ['n1', 'n2']) {
      for (const side of on) {
        const c = clients[side];
        await c.execute(
          `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
        );
        await c.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} (k text PRIMARY KEY, v text)`);
      }
    },
    async close() {
      for (const c of [n1, n2]) {
        await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
        await c.shutdown().catch(() => undefined);
      }
    },
  };
}

/** Removes a coordinator subtree, children first (test chroots). */
export async function removeTree(c: Coordinator, path: string): Promise<void> {
  for (const child of (await c.children(path).catch(() => undefined)) ?? []) await removeTree(c, `${path === '/' ? '' : path}/${child}`);
  if (path !== '/') await c.remove(path).catch(() => undefined);
}

/** A promise with its resolve function, to hold a step of a test until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Lets pending promise callbacks and I/O callbacks run a few times. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
