import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCacheBench, type CacheBenchResult } from './sync/cache-bench.js';
import { runDatastoreCowBench, type DatastoreCowBenchResult } from './sync/datastore-cow-bench.js';
import { runMetadataBench, type MetadataBenchRow } from './sync/metadata-bench.js';
import { runSnapshotBench, type SnapshotBenchRow } from './sync/snapshot-bench.js';

const PARTS = ['snapshot', 'cow', 'cache', 'metadata'] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: npm run bench:sync -- [--parts ${PARTS.join(',')}] [--sizes 100,1000,10000,100000]
                          [--meta-sizes 1000,5000,10000,50000,100000] [--ops 3000] [--out results]

Measures the data sync on the real services (scripts/services.sh up is run first):
  snapshot   snapshot copy N1 → N2 (Cassandra 127.0.0.2 → 127.0.0.3) in entities/s per entity size
  cow        datastore copy-on-write: write latency local vs copy-on-write (p50 overhead)
  cache      cache copy-on-write (set) and copy-on-read (get hit) added p50, bulk warm-up keys/s
  metadata   ZooKeeper subtree copy time vs node count (the paper's Table 1 sizes)
Writes results/bench-sync-<time>.json, bench-sync-latest.json and bench-sync-latest.md.`;

interface Endpoints {
  zookeeper: { connectString: string };
  redis: { n1: { host: string; port: number }; n2: { host: string; port: number } };
  cassandra: {
    n1: { contactPoint: string; port: number; localDataCenter: string };
    n2: { contactPoint: string; port: number; localDataCenter: string };
  };
}

const f = (n: number, d = 2): string => n.toFixed(d);
const ints = (s: string): number[] => s.split(',').map(Number);

function markdown(doc: {
  at: string;
  machine: { cpus: number; cpu: string | undefined };
  snapshot?: SnapshotBenchRow[];
  cow?: DatastoreCowBenchResult;
  cache?: CacheBenchResult;
  metadata?: MetadataBenchRow[];
}): string {
  const out = [
    `### Data-sync bench ${doc.at.slice(0, 16).replace('T', ' ')} UTC (${doc.machine.cpus} × ${doc.machine.cpu}, ` +
      `node ${process.version}; Cassandra ×2, Redis ×2, ZooKeeper ×3 on the same machine)`,
    '',
  ];
  if (doc.snapshot) {
    out.push(
      '**Snapshot copy N1 → N2** (Cassandra, token ranges in parallel, write times kept; paper: ' +
        'one entity per 2.3–3.2 ms serially ≈ 400/s; goal ≥ 5,000/s at 1 KB)',
      '',
    );
    out.push('| entity size | entities | copy time | entities/s | MB/s | verify time |', '| ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of doc.snapshot)
      out.push(
        `| ${r.valueBytes} B | ${r.rows} | ${f(r.seconds)} s | ${Math.round(r.entitiesPerSec)} | ${f(r.mbPerSec, 1)} ` +
          `| ${r.verifySeconds === undefined ? '—' : `${f(r.verifySeconds)} s`} |`,
      );
    out.push('');
  }
  if (doc.cow || doc.cache) {
    out.push('**Copy-on-write / copy-on-read overhead** (one operation at a time, modes interleaved in rounds)', '');
    out.push(
      '| operation | local p50 | copying p50 | added p50 | added p99 | paper (added) | goal |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    if (doc.cow) {
      const c = doc.cow;
      out.push(
        `| datastore write, data layer alone (copy-on-write to N2) ` +
          `| ${f(c.localP50Ms, 3)} ms | ${f(c.cowP50Ms, 3)} ms | ${f(c.cowP50Ms - c.localP50Ms, 3)} ms (${f(c.overheadP50 * 100, 1)} %) ` +
          `| ${f(c.cowP99Ms - c.localP99Ms, 3)} ms | — | — |`,
      );
      const a = c.app;
      out.push(
        `| write request to the app (HTTP PUT → CassandraStore → data layer) ` +
          `| ${f(a.localP50Ms, 3)} ms | ${f(a.cowP50Ms, 3)} ms | ${f(a.cowP50Ms - a.localP50Ms, 3)} ms (${f(a.overheadP50 * 100, 1)} %) ` +
          `| ${f(a.cowP99Ms - a.localP99Ms, 3)} ms | 7.4 % (write-heavy mix, end to end) | ≤ 10 % at p50 |`,
      );
    }
    if (doc.cache) {
      const c = doc.cache;
      out.push(
        `| cache set (copy-on-write) | ${f(c.setLocalP50Ms, 3)} ms | ${f(c.setCopyP50Ms, 3)} ms ` +
          `| ${f(c.cowOverheadP50Ms, 3)} ms | ${f(c.cowOverheadP99Ms, 3)} ms | 0.17 ms | no worse |`,
      );
      out.push(
        `| cache get hit (copy-on-read) | ${f(c.getLocalP50Ms, 3)} ms | ${f(c.getCopyP50Ms, 3)} ms ` +
          `| ${f(c.corOverheadP50Ms, 3)} ms | ${f(c.corOverheadP99Ms, 3)} ms | 0.85 ms | no worse |`,
      );
    }
    out.push('');
    if (doc.cache)
      out.push(
        `Cache bulk warm-up (SCAN + DUMP/RESTORE, TTL kept): ${doc.cache.warmup.keys} keys of ${doc.cache.warmup.valueBytes} B ` +
          `in ${f(doc.cache.warmup.durationMs / 1000)} s = ${Math.round(doc.cache.warmup.keysPerSec)} keys/s.`,
        '',
      );
  }
  if (doc.metadata) {
    out.push("**Metadata copy** (ZooKeeper subtree, depth-first reads in parallel, batched multi writes; the paper's Table 1 sizes)", '');
    out.push('| nodes | copy time | nodes/s | transactions |', '| ---: | ---: | ---: | ---: |');
    for (const r of doc.metadata) out.push(`| ${r.nodes} | ${f(r.seconds)} s | ${Math.round(r.nodesPerSec)} | ${r.batches} |`);
    out.push('');
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      parts: { type: 'string', default: PARTS.join(',') },
      sizes: { type: 'string', default: '100,1000,10000,100000' },
      'meta-sizes': { type: 'string', default: '1000,5000,10000,50000,100000' },
      ops: { type: 'string', default: '3000' },
      out: { type: 'string', default: 'results' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const parts = values.parts.split(',') as Part[];
  const sizes = ints(values.sizes);
  const metaSizes = ints(values['meta-sizes']);
  const ops = Number(values.ops);
  if (parts.some((p) => !PARTS.includes(p)) || [...sizes, ...metaSizes].some((n) => !Number.isInteger(n) || n < 1) || !(ops >= 100)) {
    throw new Error(`bench:sync: bad arguments\n${USAGE}`);
  }
  execFileSync('bash', ['scripts/services.sh', 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const ep = JSON.parse(readFileSync('.services/endpoints.json', 'utf8')) as Endpoints;
  const log = (line: string): void => void process.stderr.write(`bench:sync: ${line}\n`);
  const load = [loadavg()[0]!];
  const doc: Parameters<typeof markdown>[0] & { kind: string; params: unknown; loadavg1: number[] } = {
    kind: 'bench-sync',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model },
    params: { parts, sizes, metaSizes, ops },
    loadavg1: load,
  };
  if (parts.includes('snapshot')) {
    log(`snapshot copy, sizes ${sizes.join(', ')} B…`);
    doc.snapshot = await runSnapshotBench({ n1: ep.cassandra.n1, n2: ep.cassandra.n2, sizes, verify: true, log });
  }
  if (parts.includes('cow')) {
    log(`datastore copy-on-write, ${ops} writes of 1 KB…`);
    doc.cow = await runDatastoreCowBench({ n1: ep.cassandra.n1, n2: ep.cassandra.n2, writes: ops, valueBytes: 1024 });
  }
  if (parts.includes('cache')) {
    log(`cache copy-on-write / copy-on-read, ${ops} ops per series…`);
    doc.cache = await runCacheBench({ n1: ep.redis.n1, n2: ep.redis.n2, ops, valueBytes: 1024 });
  }
  if (parts.includes('metadata')) {
    log(`metadata copy, ${metaSizes.join(', ')} nodes…`);
    doc.metadata = await runMetadataBench({ connectString: ep.zookeeper.connectString, sizes: metaSizes });
  }
  load.push(loadavg()[0]!);
  const stamp = doc.at.replace(/[:.]/g, '-');
  mkdirSync(values.out, { recursive: true });
  for (const name of [`bench-sync-${stamp}.json`, 'bench-sync-latest.json'])
    writeFileSync(join(values.out, name), `${JSON.stringify(doc, null, 2)}\n`);
  const md = `${markdown(doc)}\nLoad average (1 min) at start / end: ${load.map((l) => f(l, 1)).join(' / ')}.\n`;
  writeFileSync(join(values.out, 'bench-sync-latest.md'), md);
  process.stdout.write(`${md}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:sync: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
