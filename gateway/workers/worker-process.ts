import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fromWire, type PrimaryMessage, workerMessageSchema, type WorkerMessage } from './worker-messages.js';

/** Where a worker is in its life, as the primary sees it. */
export type WorkerStatus = 'starting' | 'initialising' | 'serving' | 'stopping' | 'exited';

/** A request the worker did not answer: it exited, or it did not answer in time. */
export class WorkerGone extends Error {
  constructor(
    readonly worker: number,
    readonly reason: 'exited' | 'timeout',
  ) {
    super(`worker ${worker} ${reason === 'exited' ? 'exited' : 'did not answer in time'}`);
  }
}

type Request = Extract<PrimaryMessage, { id: number }>;

/**
 * The primary's side of one worker process: its status, the epochs it has applied, and requests
 * over its channel, each answered by a reply or failed with WorkerGone when the worker exits or
 * does not answer in time.
 */
export class WorkerProcess {
  status: WorkerStatus = 'starting';
  /** CLOCK_MONOTONIC ms at which it was first given a connection; undefined while it has served none. */
  servingSince: number | undefined;
  /** The last epoch applied, by app (GET /workers). */
  readonly applied = new Map<string, number>();
  readonly startedAt = new Date();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** Resolves once it exited (code or signal). */
  readonly exited: Promise<number | string>;

  constructor(
    /** Its slot, 1..N: a restarted worker takes the slot of the one it replaces. */
    readonly slot: number,
    readonly child: ChildProcess,
    onMessage: (w: WorkerProcess, msg: WorkerMessage) => void,
    onBadMessage: (w: WorkerProcess, problem: string) => void,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    void this.exited.then(() => {
      this.status = 'exited';
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new WorkerGone(slot, 'exited'));
        this.pending.delete(id);
      }
    });
    child.on('message', (raw: unknown) => {
      const parsed = workerMessageSchema.safeParse(raw);
      if (!parsed.success) return onBadMessage(this, parsed.error.message);
      const msg = parsed.data;
      if (msg.t !== 'reply') return onMessage(this, msg);
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error !== undefined) p.reject(fromWire(msg.error));
      else p.resolve(msg.value);
    });
    // A channel error (the worker died mid-write) is seen as its exit.
    child.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.status !== 'exited';
  }

  /** Sends a message that wants no answer; false when the channel is closed. */
  post(msg: Exclude<PrimaryMessage, { id: number }>, handle?: Socket, sent?: (err: Error | null) => void): boolean {
    return this.send(msg, handle, sent);
  }

  private send(msg: PrimaryMessage, handle?: Socket, sent?: (err: Error | null) => void): boolean {
    if (!this.child.connected) {
      sent?.(new WorkerGone(this.slot, 'exited'));
      return false;
    }
    try {
      return this.child.send(msg, handle, {}, (err) => sent?.(err));
    } catch (err) {
      sent?.(err as Error);
      return false;
    }
  }

  /** Sends the request `build` makes with its id; resolves with the worker's answer, rejects with its error or WorkerGone. */
  request(build: (id: number) => Request, timeoutMs: number): Promise<unknown> {
    if (!this.alive || !this.child.connected) return Promise.reject(new WorkerGone(this.slot, 'exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WorkerGone(this.slot, 'timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(build(id), undefined, (err) => {
        if (err === null || !this.pending.has(id)) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new WorkerGone(this.slot, 'exited'));
      });
    });
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}
