import { fork } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../platform/logger.js';
import { monotonicNowMs } from './monotonic-clock.js';
import { fromWire, type PrimaryMessage, type WorkerMessage } from './worker-messages.js';
import { WorkerProcess } from './worker-process.js';

/** worker-main.ts under a TypeScript loader (tests, npm run gateway), worker-main.js in dist/. */
const here = fileURLToPath(import.meta.url);
const WORKER_MAIN = join(dirname(here), `worker-main${extname(here)}`);

/** A worker that lived this long before it exited is restarted at once; quicker exits back off. */
const STABLE_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;

export interface WorkerPoolOptions {
  readonly count: number;
  readonly logger: Logger;
  /** What a worker is told when it says hello: taken then, so it holds every state handed out before. */
  readonly init: (slot: number) => Extract<PrimaryMessage, { t: 'init' }>;
  /** A worker has applied its init states and may be given connections. */
  readonly onServing: (w: WorkerProcess) => void;
  /** A worker exited that the pool did not stop (it is restarted). */
  readonly onUnexpectedExit: (w: WorkerProcess, how: number | string) => void;
  /** A worker that does not say `serving` this long after it was forked is killed (and restarted). */
  readonly initTimeoutMs: number;
  /** Where the workers' stdout and stderr go; default: this process's own (inherited, no copy). */
  readonly output?: (chunk: string) => void;
}

/**
 * The worker processes of a multi-worker gateway: one per slot, forked with an IPC channel, each
 * restarted when it exits (with a backoff when it keeps exiting quickly) until stop(). A restarted
 * worker takes its slot and gets, at hello, the node's config and states of that moment.
 */
export class WorkerPool {
  private readonly slots: (WorkerProcess | undefined)[];
  private readonly quickExits: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  private rotation = 0;
  private startFailure: ((err: Error) => void) | undefined;
  private firstServing: Array<(() => void) | undefined>;
  /** CLOCK_MONOTONIC ms of the last exit of a worker that had been given connections. */
  lastServingExitAt = Number.NEGATIVE_INFINITY;
  restarts = 0;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.slots = new Array<WorkerProcess | undefined>(opts.count).fill(undefined);
    this.quickExits = new Array<number>(opts.count).fill(0);
    this.firstServing = new Array<(() => void) | undefined>(opts.count).fill(undefined);
  }

  /** Forks every worker; resolves once each is serving, rejects if one fails its init (then stop() it all). */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let left = this.opts.count;
      this.startFailure = (err) => {
        this.startFailure = undefined;
        reject(err);
      };
      for (let slot = 1; slot <= this.opts.count; slot++) {
        this.firstServing[slot - 1] = () => {
          left -= 1;
          if (left === 0) {
            this.startFailure = undefined;
            resolve();
          }
        };
        this.spawn(slot);
      }
    });
  }

  /** Every worker process alive. */
  get all(): readonly WorkerProcess[] {
    return this.slots.filter((w): w is WorkerProcess => w?.alive === true);
  }

  /** Workers that have been sent their init: every later state goes to them (the others get it at init). */
  get initialised(): readonly WorkerProcess[] {
    return this.all.filter((w) => w.status === 'initialising' || w.status === 'serving');
  }

  get serving(): readonly WorkerProcess[] {
    return this.all.filter((w) => w.status === 'serving');
  }

  /** The next serving worker, round robin; undefined when none serves. */
  next(): WorkerProcess | undefined {
    const serving = this.serving;
    if (serving.length === 0) return undefined;
    this.rotation = (this.rotation + 1) % serving.length;
    return serving[this.rotation];
  }

  private spawn(slot: number): void {
    if (this.stopping) return;
    const child = fork(WORKER_MAIN, [], {
      execArgv: process.execArgv,
      stdio: this.opts.output ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const output = this.opts.output;
    if (output) {
      child.stdout?.on('data', (c: Buffer) => output(c.toString()));
      child.stderr?.on('data', (c: Buffer) => output(c.toString()));
    }
    const w = new WorkerProcess(
      slot,
      child,
      (worker, msg) => this.onMessage(worker, msg),
      (worker, problem) => this.opts.logger.error('gateway.workers.bad_message', { code: 'NW_GW_INTERNAL', worker: worker.slot, problem }),
    );
    this.slots[slot - 1] = w;
    const initTimer = setTimeout(() => {
      if (w.status === 'serving' || !w.alive) return;
      this.opts.logger.error('gateway.workers.unresponsive', {
        code: 'NW_GW_WORKER_UNRESPONSIVE',
        worker: slot,
        pid: w.pid,
        message: `not serving ${this.opts.initTimeoutMs} ms after it was started; killed`,
      });
      w.kill();
    }, this.opts.initTimeoutMs);
    void w.exited.then((how) => {
      clearTimeout(initTimer);
      this.exitedNow(w, how);
    });
  }

  private onMessage(w: WorkerProcess, msg: WorkerMessage): void {
    if (msg.t === 'hello') {
      if (this.stopping) {
        w.kill();
        return;
      }
      w.status = 'initialising';
      w.post(this.opts.init(w.slot));
    } else if (msg.t === 'serving') {
      if (w.status !== 'initialising') return;
      w.status = 'serving';
      w.servingSince = monotonicNowMs();
      const first = this.firstServing[w.slot - 1];
      this.firstServing[w.slot - 1] = undefined;
      first?.();
      this.opts.logger.info('gateway.workers.serving', { worker: w.slot, pid: w.pid });
      this.opts.onServing(w);
    } else if (msg.t === 'init-failed') {
      this.opts.logger.error('gateway.workers.init_failed', {
        worker: w.slot,
        pid: w.pid,
        code: msg.error.code,
        message: msg.error.message,
      });
      this.startFailure?.(fromWire(msg.error));
    }
  }

  private exitedNow(w: WorkerProcess, how: number | string): void {
    if (w.servingSince !== undefined) this.lastServingExitAt = monotonicNowMs();
    if (this.stopping || w.status === 'stopping') return;
    this.opts.onUnexpectedExit(w, how);
    if (this.startFailure && w.servingSince === undefined) {
      this.startFailure(new Error(`worker ${w.slot} exited (${how}) before it was serving`));
      return;
    }
    const lived = Date.now() - w.startedAt.getTime();
    const i = w.slot - 1;
    this.quickExits[i] = lived >= STABLE_MS ? 0 : this.quickExits[i]! + 1;
    const delay = this.quickExits[i] === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.quickExits[i]! - 1));
    this.restarts += 1;
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.spawn(w.slot);
    }, delay);
    this.restartTimers.add(timer);
  }

  /** No more restarts; workers still alive are left to the caller (drain them, then kill()). */
  stopRestarting(): void {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
  }

  /** Kills every worker still alive and waits for their exits. */
  async kill(): Promise<void> {
    this.stopRestarting();
    const alive = this.all;
    for (const w of alive) w.kill();
    await Promise.all(alive.map((w) => w.exited));
  }
}
