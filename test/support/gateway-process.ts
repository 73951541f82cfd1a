import type { ChildProcess } from 'node:child_process';
import { spawnUntilReady, stopChild } from './spawn-until-ready.js';

/** A gateway running as its own OS process (gateway/cli.ts), for kill -9 / SIGSTOP tests. */
export interface GatewayProcess {
  readonly pid: number;
  readonly url: string;
  /** The admin API's URL, when the config has an `admin` section. */
  readonly adminUrl: string | undefined;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr and stdout so far. */
  output(): string;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `gateway/cli.ts` with the given config object (written as JSON) and waits until it listens. */
export async function spawnGatewayProcess(
  config: Record<string, unknown>,
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GatewayProcess> {
  const c = await spawnUntilReady('gateway/cli.ts', (file) => ['--config', file], config, /traffic:\s+(https?:\/\/\S+)/, {
    timeoutMs,
    env,
  });
  return {
    pid: c.pid,
    url: c.ready,
    adminUrl: /admin:\s+(http:\/\/\S+)/.exec(c.output())?.[1],
    child: c.child,
    output: c.output,
    exited: c.exited,
    signal: (sig) => {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill(sig);
    },
    stop: () => stopChild(c),
  };
}
