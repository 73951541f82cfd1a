import type { ChildProcess } from 'node:child_process';
import { spawnUntilReady, stopChild } from './spawn-until-ready.js';

/** A control plane running as its own OS process (`northwest serve`), for kill -9 tests. */
export interface ControlPlaneChild {
  readonly pid: number;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export async function spawnControlPlane(config: Record<string, unknown>, token: string, timeoutMs = 30_000): Promise<ControlPlaneChild> {
  const c = await spawnUntilReady('controlplane/cli.ts', (file) => ['serve', '--config', file], config, /admin:\s+(http:\/\/\S+)/, {
    env: { ...process.env, NORTHWEST_ADMIN_TOKEN: token },
    timeoutMs,
  });
  return { pid: c.pid, adminUrl: c.ready, child: c.child, output: c.output, exited: c.exited, stop: () => stopChild(c) };
}
