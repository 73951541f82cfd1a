import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './service-endpoints.js';

/** A gateway running as its own OS process (gateway/cli.ts), for kill -9 / SIGSTOP tests. */
export interface GatewayProcess {
  readonly pid: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr and stdout so far. */
  output(): string;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `gateway/cli.ts` with the given config object (written as JSON) and waits until it listens. */
export async function spawnGatewayProcess(config: Record<string, unknown>, timeoutMs = 30_000): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'nw-gw-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway process did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = (): void => {
      const m = /traffic:\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    url,
    child,
    output: () => out,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
