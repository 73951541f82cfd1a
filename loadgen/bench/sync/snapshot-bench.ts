import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { runBounded, runSnapshot, type SnapshotOptions, type SnapshotResult } from '../../../datasync/index.js';

/**
 * Snapshot-copy throughput N1 → N2: per value size, loads a fresh keyspace
 * at N1 with one-row entities and creates the same table at N2 (neither
 * timed), then times runSnapshot into N2. Keyspaces are dropped afterwards.
 */

export interface CassandraTarget {
  readonly contactPoint: string;
  readonly port: number;
  readonly localDataCenter: string;
}

export interface SnapshotBenchOptions {
  readonly n1: CassandraTarget;
  readonly n2: CassandraTarget;
  /** Value sizes in bytes, e.g. [100, 1000, 10000, 100000]. */
  readonly sizes: readonly number[];
  /** Entities per size; default about 50 MB per size, between 500 and 50000 rows. */
  readonly rows?: (valueBytes: number) => number;
  /** Tuning passed to runSnapshot (defaults: its own). */
  readonly snapshot?: Pick<SnapshotOptions, 'ranges' | 'concurrency' | 'pageSize' | 'writeConcurrency' | 'batchStatements' | 'batchBytes'>;
  /** Also time the verify pass (reported apart). Default false. */
  readonly verify?: boolean;
  readonly log?: (line: string) => void;
}

export interface SnapshotBenchRow {
  readonly valueBytes: number;
  readonly rows: number;
  /** runSnapshot's copy time (schema check, ranges, checkpoints), verify excluded. */
  readonly seconds: number;
  readonly entitiesPerSec: number;
  readonly mbPerSec: number;
  readonly verifySeconds: number | undefined;
  readonly retries: number;
  /** CPU this Node process spent during runSnapshot (the copier's own cost; Cassandra's is apart). */
  readonly nodeCpuSeconds: number;
}

export function defaultRows(valueBytes: number): number {
  return Math.max(500, Math.min(50_000, Math.round(50_000_000 / valueBytes)));
}

function client(t: CassandraTarget): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [t.contactPoint],
    localDataCenter: t.localDataCenter,
    protocolOptions: { port: t.port },
    socketOptions: { connectTimeout: 10_000, readTimeout: 60_000 },
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  });
}

async function load(n1: cassandra.Client, n2: cassandra.Client, keyspace: string, rows: number, valueBytes: number): Promise<void> {
  // the table exists at N2 beforehand (as after the migration's prepare phase): DDL is not timed
  for (const c of [n1, n2]) {
    await c.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await c.execute(`CREATE TABLE ${keyspace}.entities (kind text, id bigint, version int, value blob, PRIMARY KEY ((kind, id)))`);
  }
  const ids = Array.from({ length: rows }, (_, i) => i);
  const value = randomBytes(valueBytes);
  await runBounded(ids, 64, async (id) => {
    await n1.execute(
      `INSERT INTO ${keyspace}.entities (kind, id, version, value) VALUES (?, ?, ?, ?)`,
      ['bench', cassandra.types.Long.fromNumber(id), 1, value],
      {
        prepare: true,
      },
    );
  });
}

export async function runSnapshotBench(opts: SnapshotBenchOptions): Promise<SnapshotBenchRow[]> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const n1 = client(opts.n1);
  const n2 = client(opts.n2);
  const out: SnapshotBenchRow[] = [];
  try {
    await Promise.all([n1.connect(), n2.connect()]);
    for (const valueBytes of opts.sizes) {
      const rows = (opts.rows ?? defaultRows)(valueBytes);
      const keyspace = `nw_snapbench_${randomBytes(4).toString('hex')}`;
      try {
        log(`snapshot bench: loading ${rows} × ${valueBytes} B into N1 ${keyspace}.entities`);
        await load(n1, n2, keyspace, rows, valueBytes);
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const res: SnapshotResult = await runSnapshot({
          source: n1,
          target: n2,
          tables: [{ keyspace, table: 'entities' }],
          verify: opts.verify === true,
          ...opts.snapshot,
        });
        const seconds = (res.copyMs || performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        if (res.rows !== rows) throw new Error(`copied ${res.rows} rows, expected ${rows}`);
        const row: SnapshotBenchRow = {
          valueBytes,
          rows,
          seconds,
          entitiesPerSec: rows / seconds,
          mbPerSec: res.bytes / 1e6 / seconds,
          verifySeconds: res.verify ? res.verify.durationMs / 1000 : undefined,
          retries: res.retries,
          nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
        };
        log(
          `snapshot bench: ${valueBytes} B: ${rows} rows in ${seconds.toFixed(2)} s = ${Math.round(row.entitiesPerSec)} entities/s, ` +
            `${row.mbPerSec.toFixed(1)} MB/s, copier CPU ${row.nodeCpuSeconds.toFixed(1)} s`,
        );
        out.push(row);
      } finally {
        for (const c of [n1, n2]) await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      }
    }
  } finally {
    await Promise.all([n1.shutdown(), n2.shutdown()]);
  }
  return out;
}
