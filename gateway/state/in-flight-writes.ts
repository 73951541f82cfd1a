import type { Deployment } from '../../protocol/app-state.js';

interface DrainWaiter {
  readonly app: string;
  readonly deployments: ReadonlySet<Deployment>;
  readonly resolve: () => void;
}

/**
 * Ends one write's count. With `outcomeUnknown` (the request may have reached
 * the app, and no answer came: a headers timeout, a reset after sending) the
 * count is kept for the grace period first, because the app may still commit
 * it: a fence must not pass while it could.
 */
export type EndWrite = (outcomeUnknown?: boolean) => void;

/** A long-lived channel that carries writes (a WebSocket): it never ends by itself, so a drain asks it to. */
interface Channel {
  readonly app: string;
  readonly deployment: Deployment;
  readonly close: () => void;
}

/**
 * Counts writes in flight per app and deployment, so that applying a state
 * can wait until writes the new state forbids (e.g. writes to N1 once fenced)
 * have finished. Route lookup and `begin` happen in the same tick, so no write
 * can slip between a table swap and the count it waits on. A write counts
 * until its upstream answered or failed, not until the gateway stopped
 * waiting for it (a client that leaves does not end it), and one whose
 * outcome is unknown counts for `unknownOutcomeGraceMs` longer.
 */
export class InFlightWrites {
  private readonly counts = new Map<string, number>();
  private readonly waiters = new Set<DrainWaiter>();
  private readonly channels = new Set<Channel>();

  constructor(private readonly unknownOutcomeGraceMs = 0) {}

  private static key(app: string, d: Deployment): string {
    return `${app}\u0000${d}`;
  }

  count(app: string, d: Deployment): number {
    return this.counts.get(InFlightWrites.key(app, d)) ?? 0;
  }

  /** Marks a write as started; call the returned function once when it ends (later calls are ignored). */
  begin(app: string, d: Deployment): EndWrite {
    const key = InFlightWrites.key(app, d);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let done = false;
    const end = (): void => {
      const n = (this.counts.get(key) ?? 1) - 1;
      if (n <= 0) this.counts.delete(key);
      else this.counts.set(key, n);
      if (n <= 0) this.wake(app);
    };
    return (outcomeUnknown = false) => {
      if (done) return;
      done = true;
      // unref: a grace still running never keeps a closing process alive.
      if (outcomeUnknown && this.unknownOutcomeGraceMs > 0) setTimeout(end, this.unknownOutcomeGraceMs).unref();
      else end();
    };
  }

  /**
   * Counts a channel to `d` (an open WebSocket) as a write in flight until the returned function is
   * called. A drain that waits on `d` calls `close` first, and then waits for the channel's end like
   * any write's: call it once the channel's upstream connection is gone.
   */
  beginChannel(app: string, d: Deployment, close: () => void): EndWrite {
    const channel: Channel = { app, deployment: d, close };
    this.channels.add(channel);
    const end = this.begin(app, d);
    return (outcomeUnknown = false) => {
      this.channels.delete(channel);
      end(outcomeUnknown);
    };
  }

  private drained(app: string, deployments: ReadonlySet<Deployment>): boolean {
    for (const d of deployments) if (this.count(app, d) > 0) return false;
    return true;
  }

  private wake(app: string): void {
    for (const w of this.waiters) {
      if (w.app === app && this.drained(app, w.deployments)) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  /**
   * Resolves true once no write to `deployments` is in flight, false at the deadline. Channels to
   * those deployments are asked to close first: a new state that forbids them ends them.
   */
  waitForDrain(app: string, deployments: ReadonlySet<Deployment>, timeoutMs: number): Promise<boolean> {
    for (const c of [...this.channels]) if (c.app === app && deployments.has(c.deployment)) c.close();
    if (this.drained(app, deployments)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      const waiter: DrainWaiter = {
        app,
        deployments,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.waiters.add(waiter);
    });
  }
}
