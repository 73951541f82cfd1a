import { execFile } from 'node:child_process';
import { z } from 'zod';
import { SyncError } from '../errors.js';

/** How the control plane reaches Cassandra's nodetool: a command (a real install's `nodetool`, or a wrapper) and each node's JMX. */
export const nodetoolConfigSchema = z.strictObject({
  /** The command and its leading arguments; `-h HOST -p PORT` and the subcommand follow. */
  command: z.array(z.string().min(1)).min(1).default(['nodetool']),
  /** Commands that answer at once (status, tpstats); rebuild and repair wait as long as they stream. */
  timeoutMs: z.number().int().positive().max(600_000).default(60_000),
});

export const jmxNodeSchema = z.strictObject({
  /** The node's JMX host (Cassandra binds JMX to 127.0.0.1 by default: nodetool then runs on the node's host). */
  host: z.string().min(1),
  jmxPort: z.number().int().min(1).max(65_535).default(7199),
});

export type NodetoolConfig = Readonly<z.output<typeof nodetoolConfigSchema>>;
export type JmxNode = Readonly<z.output<typeof jmxNodeSchema>>;

export interface NodetoolRun {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The last lines of a command's output, for an error message (nodetool prints its error last). */
function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/**
 * Runs `nodetool -h host -p port ARGS` and resolves with its stdout; any failure (exit status,
 * timeout, node unreachable) is NW_SYNC_NODETOOL_FAILED with the output's tail, transient: the
 * node may be restarting.
 */
export function runNodetool(cfg: NodetoolConfig, node: JmxNode, args: readonly string[], run: NodetoolRun = {}): Promise<string> {
  const [file, ...lead] = cfg.command as [string, ...string[]];
  const argv = [...lead, '-h', node.host, '-p', String(node.jmxPort), ...args];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      {
        timeout: run.timeoutMs ?? cfg.timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
        ...(run.signal ? { signal: run.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = err.killed ? 'killed (timeout or abort)' : `exit ${String(err.code ?? '?')}`;
        reject(
          new SyncError(
            'NW_SYNC_NODETOOL_FAILED',
            `${node.host}:${node.jmxPort} nodetool ${args.join(' ')}: ${why}: ${tail(`${stdout}\n${stderr}`)}`,
            {
              cause: err,
              details: { node: `${node.host}:${node.jmxPort}`, args: [...args], output: tail(`${stdout}\n${stderr}`, 20) },
            },
          ),
        );
      },
    );
  });
}
