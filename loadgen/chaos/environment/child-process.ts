import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { ChaosError } from '../chaos-errors.js';
import { REPO_ROOT } from './service-endpoints.js';

const OUTPUT_TAIL = 64 * 1024;

/** One process of the campaign (an app server, a gateway, a control plane). */
export interface CampaignChild {
  readonly name: string;
  readonly pid: number;
  /** First capture group of each ready pattern, in order. */
  readonly ready: readonly string[];
  /** The last 64 KiB the process wrote (stdout and stderr). */
  output(): string;
  running(): boolean;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code or signal name. */
  readonly exited: Promise<number | string>;
  /** SIGCONT + SIGTERM, SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnSpec {
  readonly name: string;
  /** A TypeScript file run with this node and tsx, relative to the repository. */
  readonly script: string;
  readonly args: readonly string[];
  /** Every pattern must match the output before the child counts as started. */
  readonly readyPatterns: readonly RegExp[];
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Everything the process writes is appended here too (the campaign's logs directory). */
  readonly logFile?: string;
}

const running = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Kills every child still running when this process exits, however it exits. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

/** Starts `node --import tsx <script> ...args` and waits until its output matched every ready pattern. */
export async function spawnCampaignChild(spec: SpawnSpec): Promise<CampaignChild> {
  installCleanup();
  const timeoutMs = spec.timeoutMs ?? 60_000;
  const child = spawn(process.execPath, ['--import', 'tsx', spec.script, ...spec.args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: spec.env ?? process.env,
  });
  running.add(child);
  let out = '';
  const log = spec.logFile ? createWriteStream(spec.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined);
  const onData = (c: Buffer): void => {
    out = (out + c.toString('utf8')).slice(-OUTPUT_TAIL);
    log?.write(c);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.once('error', () => undefined);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, sig) => {
      running.delete(child);
      log?.end();
      resolve(code ?? sig ?? -1);
    }),
  );
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  const ready = await new Promise<string[]>((resolve, reject) => {
    const check = (): void => {
      const m = spec.readyPatterns.map((p) => p.exec(out));
      if (m.every((x) => x !== null)) {
        cleanup();
        resolve(m.map((x) => x![1] ?? x![0]));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new ChaosError('NW_CHAOS_PROCESS_FAILED', `${spec.name} did not start in ${timeoutMs} ms:\n${out.slice(-4000)}`));
    }, timeoutMs);
    const onExit = (code: number | string): void => {
      cleanup();
      reject(new ChaosError('NW_CHAOS_PROCESS_FAILED', `${spec.name} exited (${code}) before it was ready:\n${out.slice(-4000)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then(onExit);
  });
  return {
    name: spec.name,
    pid: child.pid!,
    ready,
    output: () => out,
    running: isRunning,
    signal: (sig) => {
      if (isRunning()) child.kill(sig);
    },
    exited,
    async stop(graceMs = 10_000) {
      if (!isRunning()) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}
