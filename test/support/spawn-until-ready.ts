import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './service-endpoints.js';

/** A child process of ours (a gateway, a control plane) for kill -9 / SIGSTOP tests. */
export interface ReadyChild {
  readonly pid: number;
  /** First capture group of the ready pattern (e.g. a URL the process printed). */
  readonly ready: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

/**
 * Writes `config` as JSON to a temp file, runs `node --import tsx <script> ...args(file)`
 * and waits until its stderr matches `readyPattern`; rejects with the output if it exits first.
 */
export async function spawnUntilReady(
  script: string,
  args: (configFile: string) => string[],
  config: Record<string, unknown>,
  readyPattern: RegExp,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ReadyChild> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'nw-child-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args(file)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // or it outlives the test run
      reject(new Error(`${script} did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.stderr!.on('data', () => {
      const m = readyPattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { pid: child.pid!, ready, child, output: () => out, exited };
}

/** SIGTERM (after SIGCONT, in case it is stopped), then SIGKILL after 10 s; resolves when it has exited. */
export async function stopChild(c: Pick<ReadyChild, 'child' | 'exited'>): Promise<void> {
  const { child } = c;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(t);
}
