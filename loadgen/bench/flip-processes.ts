import { createInterface } from 'node:readline';
import type { CoordinatorConfig } from '../../platform/index.js';
import { ChildRegistry, type ManagedChild } from './child-processes.js';

const MEMBERS_PER_PROCESS = 64;
const READY_TIMEOUT_MS = 180_000;

/** Members of one kind spread over child processes (at most 64 per process), so no single event loop carries them all. */
export interface SpreadFleet {
  readonly processes: number;
  /** Gateway listener URLs (none for the floor). */
  readonly urls: readonly string[];
  close(): Promise<void>;
}

export interface SpreadOptions {
  readonly kind: 'gateway' | 'floor';
  readonly size: number;
  /** The gateways' `fleet.coordinator` (with their credentials; the password variable is inherited). */
  readonly coordinator?: CoordinatorConfig;
  /** Where the floor's bare clients meet (no credentials). */
  readonly floor?: { readonly connectString: string; readonly chroot: string };
  readonly upstreams?: { readonly n1: string; readonly n2: string };
  readonly onHold?: (heldMs: number) => void;
}

function ready(child: ManagedChild, onHold: ((ms: number) => void) | undefined): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.proc.stdout! });
    let isReady = false;
    const timer = setTimeout(
      () => reject(new Error(`${child.name}: not ready after ${READY_TIMEOUT_MS} ms\n${child.stderrTail()}`)),
      READY_TIMEOUT_MS,
    );
    child.proc.once('exit', (code, signal) => {
      if (!isReady) reject(new Error(`${child.name}: exited (${signal ?? code}) before it was ready\n${child.stderrTail()}`));
    });
    lines.on('line', (line) => {
      let msg: { ready?: boolean; urls?: string[]; hold?: number };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.hold === 'number') onHold?.(msg.hold);
      else if (msg.ready === true) {
        isReady = true;
        clearTimeout(timer);
        resolve(msg.urls ?? []);
      }
    });
  });
}

export async function startSpreadFleet(opts: SpreadOptions): Promise<SpreadFleet> {
  const registry = new ChildRegistry();
  const processes = Math.max(1, Math.ceil(opts.size / MEMBERS_PER_PROCESS));
  const urls: string[] = [];
  try {
    const starts: Array<Promise<string[]>> = [];
    for (let p = 0; p < processes; p++) {
      const first = Math.floor((p * opts.size) / processes);
      const count = Math.floor(((p + 1) * opts.size) / processes) - first;
      const args = ['--kind', opts.kind, '--first', String(first), '--count', String(count)];
      if (opts.coordinator) args.push('--coordinator', JSON.stringify(opts.coordinator));
      if (opts.floor) args.push('--connect', opts.floor.connectString, '--chroot', opts.floor.chroot);
      if (opts.upstreams) args.push('--n1', opts.upstreams.n1, '--n2', opts.upstreams.n2);
      const child = registry.spawnTs(`flip-${opts.kind}-${p}`, 'loadgen/bench/flip-member-process.ts', args);
      starts.push(ready(child, opts.onHold));
    }
    for (const u of await Promise.all(starts)) urls.push(...u);
  } catch (err) {
    await registry.stopAll();
    throw err;
  }
  return { processes, urls, close: () => registry.stopAll() };
}
