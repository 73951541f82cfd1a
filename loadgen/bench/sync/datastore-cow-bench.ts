import { randomBytes } from 'node:crypto';
import type cassandra from 'cassandra-driver';
import { CassandraDataLayer, createClusterClient, parseDatastoreConfig } from '../../../datasync/index.js';
import { Agent, request } from 'undici';
import { CassandraStore } from '../../reference-app/cassandra-store.js';
import { startReferenceApp } from '../../reference-app/reference-app.js';
import { LatencyRecorder } from '../latency-histogram.js';

export interface DatastoreCowBenchOptions {
  readonly n1: { readonly contactPoint: string; readonly localDataCenter: string; readonly port?: number };
  readonly n2: { readonly contactPoint: string; readonly localDataCenter: string; readonly port?: number };
  /** Writes per mode. */
  readonly writes: number;
  readonly valueBytes: number;
}

export interface DatastoreCowBenchResult {
  readonly localP50Ms: number;
  readonly cowP50Ms: number;
  readonly localP99Ms: number;
  readonly cowP99Ms: number;
  /** cowP50 / localP50 − 1. Paper (write-heavy load during migration, end to end): 7.4 %. */
  readonly overheadP50: number;
  /** Writes measured per mode. */
  readonly samples: number;
  /**
   * The same comparison one level up, as an app's client sees a write: HTTP
   * PUT /kv/:key to the reference app on CassandraStore over the data layer
   * (keep-alive, one at a time, no gateway in between).
   */
  readonly app: {
    readonly localP50Ms: number;
    readonly cowP50Ms: number;
    readonly localP99Ms: number;
    readonly cowP99Ms: number;
    readonly overheadP50: number;
    readonly samples: number;
  };
}

const ROUND = 50;
const WARMUP = 200;

/**
 * Single-row write latency through the CassandraDataLayer in 'local' and in
 * 'copy-on-write' (the N2 write in parallel, both awaited), one write at a
 * time (concurrency 1) so each sample is one client-visible write. The two
 * modes alternate in rounds of ROUND writes, the first mode of each round
 * alternating too, so drift on a noisy machine hits both alike. Keys are
 * fresh per write (inserts, no overwrite); the keyspace is dropped at the end.
 */
export async function runDatastoreCowBench(opts: DatastoreCowBenchOptions): Promise<DatastoreCowBenchResult> {
  const keyspace = `nw_bench_dscow_${randomBytes(4).toString('hex')}`;
  const cfg = parseDatastoreConfig({
    local: {
      contactPoints: [opts.n1.contactPoint],
      localDataCenter: opts.n1.localDataCenter,
      ...(opts.n1.port ? { port: opts.n1.port } : {}),
    },
    n2: {
      contactPoints: [opts.n2.contactPoint],
      localDataCenter: opts.n2.localDataCenter,
      ...(opts.n2.port ? { port: opts.n2.port } : {}),
    },
    keyspace,
  });
  const local = createClusterClient(cfg.local, 'local');
  const n2 = createClusterClient(cfg.n2!, 'n2');
  const layer = new CassandraDataLayer({ local, n2 });
  const recorders = { local: new LatencyRecorder(), cow: new LatencyRecorder() };
  const appRecorders = { local: new LatencyRecorder(), cow: new LatencyRecorder() };
  const agent = new Agent({ connections: 1, pipelining: 1 });
  try {
    await Promise.all([local.connect(), n2.connect()]);
    await layer.executeSchema(
      `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await layer.executeSchema(`CREATE TABLE IF NOT EXISTS ${keyspace}.kv (k text PRIMARY KEY, v text)`);
    const insert = `INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`;
    const value = 'x'.repeat(opts.valueBytes);
    const app = await startReferenceApp({ deployment: 'n1', store: new CassandraStore(layer, { keyspace }) });
    let epoch = 0;
    let seq = 0;
    const writeDirect = (): Promise<unknown> => layer.write(insert, [`k${seq++}`, value]);
    const writeViaApp = async (): Promise<unknown> => {
      const res = await request(`${app.url}/kv/a${seq++}`, { method: 'PUT', body: value, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`reference app answered ${res.statusCode}`);
      return undefined;
    };
    const series = async (
      rec: typeof recorders,
      write: () => Promise<unknown>,
      mode: 'local' | 'cow',
      n: number,
      record: boolean,
    ): Promise<void> => {
      await layer.apply({ datastore: mode === 'cow' ? 'copy-on-write' : 'local', cache: 'local' }, ++epoch);
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await write();
        if (record) rec[mode].recordMs(performance.now() - t0);
      }
    };
    try {
      for (const [rec, write] of [
        [recorders, writeDirect],
        [appRecorders, writeViaApp],
      ] as const) {
        // Warm both paths (prepared statements on both clusters, connection pools, JIT).
        await series(rec, write, 'cow', WARMUP, false);
        await series(rec, write, 'local', WARMUP, false);
        const rounds = Math.ceil(opts.writes / ROUND);
        for (let r = 0; r < rounds; r++) {
          const n = Math.min(ROUND, opts.writes - r * ROUND);
          const order: Array<'local' | 'cow'> = r % 2 === 0 ? ['local', 'cow'] : ['cow', 'local'];
          for (const mode of order) await series(rec, write, mode, n, true);
        }
      }
    } finally {
      await app.close();
    }
    const figures = (rec: typeof recorders) => {
      const l = rec.local.summary();
      const c = rec.cow.summary();
      return {
        localP50Ms: l.p50 / 1000,
        cowP50Ms: c.p50 / 1000,
        localP99Ms: l.p99 / 1000,
        cowP99Ms: c.p99 / 1000,
        overheadP50: c.p50 / l.p50 - 1,
        samples: Math.min(l.count, c.count),
      };
    };
    return { ...figures(recorders), app: figures(appRecorders) };
  } finally {
    for (const r of [recorders, appRecorders]) {
      r.local.destroy();
      r.cow.destroy();
    }
    await agent.close();
    await layer.close().catch(() => undefined);
    await dropAndShutdown([local, n2], keyspace);
  }
}

async function dropAndShutdown(clients: readonly cassandra.Client[], keyspace: string): Promise<void> {
  for (const c of clients) {
    await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await c.shutdown().catch(() => undefined);
  }
}
