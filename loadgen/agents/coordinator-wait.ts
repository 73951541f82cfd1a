import { setTimeout as sleep } from 'node:timers/promises';
import type { Watcher } from '../../platform/index.js';

export interface WaitOptions {
  /** Epoch ms; the wait gives up then, resolving undefined. */
  readonly deadline: number;
  /** Re-look at least this often, in case a watch is lost (ms; default 1000). */
  readonly pollMs?: number;
  /** Ends the wait early: it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Looks at the coordinator until `look` finds what it waits for. `look` reads with the watch it
 * is given; the wait sleeps until one of those watches fires (or a poll, or the deadline), then
 * looks again. The watch is one function for the whole wait, so a ZooKeeper client that keeps one
 * listener per function and path does not pile them up while nothing changes.
 */
export async function waitFor<T>(look: (watch: Watcher) => Promise<T | undefined>, o: WaitOptions): Promise<T | undefined> {
  let wake: () => void = () => undefined;
  let fired = false;
  const watch: Watcher = () => {
    fired = true;
    wake();
  };
  for (;;) {
    o.signal?.throwIfAborted();
    fired = false;
    const value = await look(watch);
    if (value !== undefined) return value;
    const left = o.deadline - Date.now();
    if (left <= 0) return undefined;
    if (fired) continue;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: () => void = () => undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      onAbort = resolve;
      timer = setTimeout(resolve, Math.min(left, o.pollMs ?? 1000));
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    wake = () => undefined;
  }
}

/** Sleeps until `epochMs` (at once if it has passed); an abort ends it early, rejecting with the signal's reason. */
export async function sleepUntil(epochMs: number, signal?: AbortSignal): Promise<void> {
  const ms = epochMs - Date.now();
  if (ms > 0) await sleep(ms, undefined, signal ? { signal } : {});
}
