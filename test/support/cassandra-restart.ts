// Crash and restart one of the test Cassandra nodes (scripts/services.sh started them; the pid
// file is in .services/endpoints.json). Other engineers' tests use the same nodes: restart rarely.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.js';
import { REPO_ROOT, type CassandraEndpoint } from './service-endpoints.js';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // a zombie (exited, not reaped yet) counts as gone
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILLs the node (a crash, not a clean shutdown) and waits until the process is gone. */
export async function killCassandra(ep: CassandraEndpoint): Promise<number> {
  const pid = Number(readFileSync(ep.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`bad pid in ${ep.pidFile}`);
  process.kill(pid, 'SIGKILL');
  await eventually(() => !alive(pid), { timeoutMs: 30_000, intervalMs: 100, message: `Cassandra pid ${pid} gone after SIGKILL` });
  return pid;
}

/** Starts whatever Cassandra node is not running (the services script is idempotent) and waits until CQL answers. */
export async function startCassandra(): Promise<void> {
  await run('bash', ['scripts/services.sh', 'up', 'cassandra'], {
    cwd: REPO_ROOT,
    timeout: 300_000,
    env: { ...process.env, NW_SERVICES_QUIET: '1' },
  });
}

// module access the Cassandra tools need on Java 17 (a subset of services.sh's server flags)
const JAVA_TOOL_FLAGS = [
  '--add-exports',
  'java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports',
  'java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports',
  'jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-opens',
  'java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens',
  'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens',
  'java.base/java.io=ALL-UNNAMED',
  '--add-opens',
  'java.base/java.lang=ALL-UNNAMED',
  '--add-opens',
  'java.base/java.nio=ALL-UNNAMED',
];

/**
 * `nodetool flush system_schema` over the node's local JMX port. The test nodes run with
 * -Dcassandra.test.flush_local_schema_changes=false, so a keyspace created just before a
 * SIGKILL is not in the schema the node loads when it starts again (its system_schema rows
 * come back from the commit log, but too late: the node then neither knows the table nor lets
 * it be created again). Flushing first makes the schema survive the crash, as on a real node.
 */
export async function flushSchema(ep: CassandraEndpoint): Promise<void> {
  await run(
    'java',
    [
      ...JAVA_TOOL_FLAGS,
      `-Dcassandra.logdir=${tmpdir()}`,
      `-Duser.home=${tmpdir()}`,
      '-cp',
      path.join(REPO_ROOT, '.services', 'cassandra', 'lib', '*'),
      'org.apache.cassandra.tools.NodeTool',
      '-h',
      '127.0.0.1',
      '-p',
      String(ep.jmxPort),
      'flush',
      'system_schema',
    ],
    { cwd: REPO_ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
}

/** Kill, then start again. */
export async function restartCassandra(ep: CassandraEndpoint): Promise<void> {
  await killCassandra(ep);
  await startCassandra();
}
