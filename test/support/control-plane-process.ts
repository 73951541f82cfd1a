import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './service-endpoints.js';

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
  const dir = mkdtempSync(join(tmpdir(), 'nw-cp-'));
  const file = join(dir, 'controlplane.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, ['--import', 'tsx', 'controlplane/cli.ts', 'serve', '--config', file], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NORTHWEST_ADMIN_TOKEN: token },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const adminUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`control plane did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = (): void => {
      const m = /admin:\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    adminUrl,
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
