import assert from 'node:assert/strict';
import { Client } from 'cassandra-driver';
import { isSyncError } from '../../datasync/errors.js';
import { rebuildDataCenter } from '../../datasync/replication/datacenter-rebuild.js';
import { requireService } from '../support/service-endpoints.js';

/**
 * A rebuild another leader started that never seems to end: nodetool keeps answering "still
 * rebuilding" and the streams cannot be read (the client reading them is shut down). The step
 * must fail after the rebuild timeout, not wait until someone aborts the migration.
 */
describe('datacenter rebuild: waiting for a rebuild an earlier leader started', () => {
  it('gives up after the rebuild timeout when its streams cannot be read', async function () {
    this.timeout(15_000);
    const n1 = requireService('cassandra').n1;
    const client = new Client({ contactPoints: [`${n1.contactPoint}:${n1.port}`], localDataCenter: n1.localDataCenter });
    await client.connect();
    await client.shutdown();
    const started = performance.now();
    const err = await rebuildDataCenter({
      // Stands in for nodetool: what Cassandra answers while a rebuild it runs already is not done.
      nodetool: {
        command: ['sh', '-c', 'echo "error: Node is still rebuilding. Check nodetool netstats." >&2; exit 2', 'nodetool'],
        timeoutMs: 5000,
      },
      nodes: [{ host: '127.0.0.1', jmxPort: 1 }],
      sourceDc: 'dc1',
      keyspaces: ['shop'],
      target: client,
      targetDc: n1.localDataCenter,
      timeoutMs: 1500,
      pollMs: 100,
      signal: new AbortController().signal,
      onProgress: () => undefined,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isSyncError(err, 'NW_SYNC_REBUILD_FAILED'), String(err));
    assert.match((err as Error).message, /could not be read after 1500 ms/);
    assert.ok(performance.now() - started < 10_000);
  });
});
