import type { Client } from 'cassandra-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSyncError, SyncError } from '../errors.js';
import { type JmxNode, type NodetoolConfig, runNodetool } from './nodetool.js';
import { onHost } from './replication-lag.js';

/**
 * `nodetool rebuild --keyspace KS -- SOURCE_DC` on every node of N2's
 * datacenter, one keyspace at a time: each node streams its ranges of the
 * keyspace from N1's datacenter. Progress comes from the receiving nodes'
 * `system_views.streaming` (what `nodetool netstats` prints), polled while
 * nodetool waits.
 *
 * Resumable: run again after the node, the nodetool process or the control
 * plane died, a rebuild skips the ranges already streamed (the node must run
 * with -Dcassandra.reset_bootstrap_progress=false; Cassandra 5 refuses to
 * rebuild over earlier progress otherwise: NW_SYNC_REBUILD_NOT_RESUMABLE). If a
 * rebuild another process started is still running on the node ("still
 * rebuilding"), this waits for its streams to end and runs it again.
 */

export interface RebuildProgress {
  readonly node: string;
  readonly keyspace: string;
  readonly streams: number;
  readonly bytesReceived: number;
  readonly bytesToReceive: number;
  readonly percent: number | undefined;
}

export interface RebuildOptions {
  readonly nodetool: NodetoolConfig;
  readonly nodes: readonly JmxNode[];
  readonly sourceDc: string;
  readonly keyspaces: readonly string[];
  /** A client whose local datacenter is N2's: the streams are read on its nodes. */
  readonly target: Client;
  readonly targetDc: string;
  /** Longest one node's rebuild of one keyspace may take. */
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly signal: AbortSignal;
  readonly onProgress: (p: RebuildProgress) => void;
  /** A rebuild an earlier leader started still streams on the node: this one waits for it, then resumes. */
  readonly onWaitingForRunning?: (node: string, keyspace: string) => void;
}

export interface RebuildFigures {
  readonly rebuilds: number;
  /** Rebuilds found already running (started by an earlier leader) and waited for. */
  readonly waitedForRunning: number;
  readonly durationMs: number;
}

interface StreamReading {
  readonly active: number;
  readonly received: number;
  readonly toReceive: number;
  readonly failure: string | undefined;
}

async function readRebuildStreams(client: Client, dc: string): Promise<StreamReading> {
  let active = 0;
  let received = 0;
  let toReceive = 0;
  let failure: string | undefined;
  for (const host of client.hosts.values().filter((h) => h.datacenter === dc)) {
    const rows = await onHost(
      client,
      host,
      'SELECT operation, status, bytes_received, bytes_to_receive, failure_cause, follower FROM system_views.streaming',
      2000,
    );
    for (const r of rows) {
      if (r.get('operation') !== 'Rebuild' || r.get('follower') === true) continue;
      const status = String(r.get('status')).toLowerCase();
      if (status === 'init' || status === 'start') {
        active++;
        received += Number(r.get('bytes_received') ?? 0);
        toReceive += Number(r.get('bytes_to_receive') ?? 0);
      } else if (status === 'failure') {
        failure = String(r.get('failure_cause') ?? 'stream failed');
      }
    }
  }
  return { active, received, toReceive, failure };
}

const STILL_REBUILDING = /still rebuilding/i;
const NOT_RESUMABLE = /existing bootstrap data/i;

export async function rebuildDataCenter(o: RebuildOptions): Promise<RebuildFigures> {
  const started = performance.now();
  const pollMs = o.pollMs ?? 1000;
  let rebuilds = 0;
  let waitedForRunning = 0;
  for (const node of o.nodes) {
    const name = `${node.host}:${node.jmxPort}`;
    for (const keyspace of o.keyspaces) {
      for (let attempt = 1; ; attempt++) {
        if (o.signal.aborted) throw new SyncError('NW_SYNC_ABORTED', 'rebuild stopped (it goes on in the node; a re-run resumes)');
        const watching = new AbortController();
        const watch = (async () => {
          while (!watching.signal.aborted) {
            await sleep(pollMs, undefined, { signal: watching.signal }).catch(() => undefined);
            if (watching.signal.aborted) return;
            const s = await readRebuildStreams(o.target, o.targetDc).catch(() => undefined);
            if (s && s.active > 0)
              o.onProgress({
                node: name,
                keyspace,
                streams: s.active,
                bytesReceived: s.received,
                bytesToReceive: s.toReceive,
                percent: s.toReceive > 0 ? Math.round((1000 * s.received) / s.toReceive) / 10 : undefined,
              });
          }
        })();
        try {
          await runNodetool(o.nodetool, node, ['rebuild', '--keyspace', keyspace, '--', o.sourceDc], {
            timeoutMs: o.timeoutMs,
            signal: o.signal,
          });
          rebuilds++;
          break;
        } catch (err) {
          if (o.signal.aborted) throw new SyncError('NW_SYNC_ABORTED', 'rebuild stopped (it goes on in the node; a re-run resumes)');
          const text = err instanceof Error ? err.message : String(err);
          if (isSyncError(err, 'NW_SYNC_NODETOOL_FAILED') && NOT_RESUMABLE.test(text))
            throw new SyncError(
              'NW_SYNC_REBUILD_NOT_RESUMABLE',
              `${name} ${keyspace}: the node has progress of an earlier rebuild and refuses to resume; ` +
                'start it with -Dcassandra.reset_bootstrap_progress=false',
              { cause: err, details: { node: name, keyspace } },
            );
          if (!(isSyncError(err, 'NW_SYNC_NODETOOL_FAILED') && STILL_REBUILDING.test(text)) || attempt > 100) {
            if (isSyncError(err, 'NW_SYNC_NODETOOL_FAILED'))
              throw new SyncError('NW_SYNC_REBUILD_FAILED', `${name} ${keyspace}: ${text}`, {
                cause: err,
                details: { node: name, keyspace },
              });
            throw err;
          }
          // A rebuild an earlier leader started still streams: wait for it, then run ours (it resumes).
          // As long as a rebuild of our own may take, no longer: streams that never end, or that
          // cannot be read, fail the step instead of holding the migration until an abort.
          waitedForRunning++;
          o.onWaitingForRunning?.(name, keyspace);
          const until = performance.now() + o.timeoutMs;
          for (;;) {
            await sleep(pollMs, undefined, { signal: o.signal }).catch(() => undefined);
            if (o.signal.aborted) break;
            const s = await readRebuildStreams(o.target, o.targetDc).catch(() => undefined);
            if (s && s.active === 0) break;
            if (performance.now() >= until)
              throw new SyncError(
                'NW_SYNC_REBUILD_FAILED',
                `${name} ${keyspace}: a rebuild started earlier ${s ? 'still streamed' : 'had streams that could not be read'} ` +
                  `after ${o.timeoutMs} ms`,
                { details: { node: name, keyspace, streams: s?.active } },
              );
          }
        } finally {
          watching.abort();
          await watch;
        }
      }
    }
  }
  return { rebuilds, waitedForRunning, durationMs: Math.round(performance.now() - started) };
}
