import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'cassandra-driver';
import { createClusterClient, type DatastoreClusterConfig } from '../../../datasync/index.js';
import { ChaosError } from '../chaos-errors.js';
import { type BackedStores, tableOf } from './backed-stores-config.js';
import { type CassandraNodeEndpoint, owningCheckout } from './service-endpoints.js';

const run = promisify(execFile);

type Side = 'n1' | 'n2';

// module access the Cassandra tools need on Java 17 (as test/support/cassandra-restart.ts)
const JAVA_TOOL_FLAGS = [
  ...['--add-exports', 'java.base/jdk.internal.misc=ALL-UNNAMED', '--add-exports', 'java.base/java.lang.ref=ALL-UNNAMED'],
  ...['--add-exports', 'jdk.unsupported/sun.misc=ALL-UNNAMED', '--add-opens', 'java.base/jdk.internal.ref=ALL-UNNAMED'],
  ...['--add-opens', 'java.base/sun.nio.ch=ALL-UNNAMED', '--add-opens', 'java.base/java.io=ALL-UNNAMED'],
  ...['--add-opens', 'java.base/java.lang=ALL-UNNAMED', '--add-opens', 'java.base/java.nio=ALL-UNNAMED'],
];

/** A short-lived client: the campaign's schema changes are rare, and a fresh client never waits out a reconnection backoff. */
async function withCluster<T>(cluster: DatastoreClusterConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = createClusterClient(cluster, 'local');
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.shutdown().catch(() => undefined);
  }
}

/**
 * The run's keyspace on both clusters and the tables of the apps in it: created before a round of
 * migrations, dropped at the end. The services script runs the test nodes with
 * `-Dcassandra.test.flush_local_schema_changes=false`, so a table created just before a kill -9
 * would be gone when the node starts again; `nodetool flush system_schema` after each change makes
 * the schema survive the crash, as on a real node (what test/support/cassandra-restart.ts does).
 */
export class CampaignKeyspace {
  constructor(
    private readonly stores: BackedStores,
    private readonly nodes: Readonly<Record<Side, CassandraNodeEndpoint>>,
  ) {}

  /** Creates the keyspace and the apps' tables where missing, on both clusters, and flushes the schema. */
  async createTables(apps: readonly string[]): Promise<void> {
    const ks = this.stores.keyspace;
    await Promise.all(
      (['n1', 'n2'] as const).map((side) =>
        withCluster(this.stores.cassandra[side], async (c) => {
          await c.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
          for (const app of apps) await c.execute(`CREATE TABLE IF NOT EXISTS ${ks}.${tableOf(app)} (k text PRIMARY KEY, v text)`);
        }),
      ),
    );
    await Promise.all((['n1', 'n2'] as const).map((side) => this.flushSchema(side)));
  }

  /** Drops the apps' tables (a long campaign keeps the clusters small). */
  async dropTables(apps: readonly string[]): Promise<void> {
    await Promise.all(
      (['n1', 'n2'] as const).map((side) =>
        withCluster(this.stores.cassandra[side], async (c) => {
          for (const app of apps) await c.execute(`DROP TABLE IF EXISTS ${this.stores.keyspace}.${tableOf(app)}`);
        }),
      ),
    );
  }

  async drop(): Promise<void> {
    await Promise.allSettled(
      (['n1', 'n2'] as const).map((side) =>
        withCluster(this.stores.cassandra[side], (c) => c.execute(`DROP KEYSPACE IF EXISTS ${this.stores.keyspace}`)),
      ),
    );
  }

  /** `nodetool flush system_schema` over the node's JMX port, with the Cassandra jars of the checkout that runs it. */
  private async flushSchema(side: Side): Promise<void> {
    const node = this.nodes[side];
    const lib = path.join(owningCheckout(node.pidFile), '.services', 'cassandra', 'lib');
    if (!existsSync(lib)) throw new ChaosError('NW_CHAOS_SERVICE_MISSING', `no Cassandra jars at ${lib} (for nodetool)`);
    const nodetool = [
      ...JAVA_TOOL_FLAGS,
      `-Dcassandra.logdir=${tmpdir()}`,
      `-Duser.home=${tmpdir()}`,
      '-cp',
      path.join(lib, '*'),
      'org.apache.cassandra.tools.NodeTool',
      ...['-h', '127.0.0.1', '-p', String(node.jmxPort), 'flush', 'system_schema'],
    ];
    await run('java', nodetool, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  }
}
