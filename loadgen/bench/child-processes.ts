import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The first JSON line a bench child prints once it is listening. */
export interface ReadyLine {
  readonly ready: true;
  readonly url: string;
  readonly port: number;
}

/** One child process the bench started; it is stopped when the bench ends, however it ends. */
export interface ManagedChild {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The last few KB the child wrote to stderr (for error messages). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_TAIL_BYTES = 4096;

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Keeps every child the bench starts, so a failure or Ctrl-C never leaves one behind. */
export class ChildRegistry {
  private readonly children = new Set<ManagedChild>();

  /** Runs a TypeScript file with this node and tsx (`node [nodeFlags] --import tsx script args`). */
  spawnTs(
    name: string,
    script: string,
    args: readonly string[] = [],
    nodeFlags: readonly string[] = [],
    env: NodeJS.ProcessEnv = process.env,
  ): ManagedChild {
    return this.spawn(name, process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], env);
  }

  spawn(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ManagedChild {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let tail = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const child: ManagedChild = {
      name,
      proc,
      stderrTail: () => tail.trim(),
      stop: async (graceMs = 5000) => {
        if (!exited(proc)) {
          const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
          await done;
          clearTimeout(timer);
        }
        this.children.delete(child);
      },
    };
    proc.once('error', () => undefined);
    this.children.add(child);
    return child;
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
  }

  /** Last resort from a synchronous 'exit' handler: SIGKILL whatever is left. */
  killAllNow(): void {
    for (const c of this.children) if (!exited(c.proc)) c.proc.kill('SIGKILL');
    this.children.clear();
  }

  /** Stops all children on SIGINT / SIGTERM and on any exit of this process. */
  installCleanup(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.stderr.write(`\nproxy-bench: ${signal}, stopping child processes\n`);
      void this.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => this.killAllNow());
  }
}

/** Waits for the child's {"ready":true,...} stdout line; rejects if it exits or takes too long. */
export function waitForReadyLine(child: ManagedChild, timeoutMs = 20_000): Promise<ReadyLine> {
  return new Promise<ReadyLine>((resolve, reject) => {
    const stdout = child.proc.stdout;
    if (!stdout) return reject(new Error(`${child.name}: no stdout`));
    const lines = createInterface({ input: stdout });
    const fail = (why: string): void => {
      cleanup();
      reject(new Error(`${child.name}: ${why}${child.stderrTail() ? `\n--- stderr ---\n${child.stderrTail()}` : ''}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited (${signal ?? code}) before it was ready`);
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.proc.off('exit', onExit);
      lines.off('line', onLine);
    };
    const onLine = (line: string): void => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      const p = parsed as Partial<ReadyLine> | null;
      if (p?.ready === true && typeof p.url === 'string' && typeof p.port === 'number') {
        cleanup();
        // Keep draining stdout so a chatty child never blocks on a full pipe.
        lines.on('line', () => undefined);
        resolve({ ready: true, url: p.url, port: p.port });
      }
    };
    child.proc.once('exit', onExit);
    lines.on('line', onLine);
  });
}
