// Waiting for a condition in tests: retry a check until it passes or a deadline is up, instead of
// sleeping a fixed time and hoping, or looping with no deadline at all.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up this long after the first try. Keep it below the mocha timeout, so this message is what fails the test. */
  readonly timeoutMs: number;
  /** Pause between tries (default 20 ms). */
  readonly intervalMs?: number;
  /** What was being waited for; the error on timeout starts with it. */
  readonly message: string;
}

/** Thrown by eventually() when the deadline passes; `cause` is the last try's failure. */
export class EventuallyTimeout extends Error {
  override readonly name = 'EventuallyTimeout';
}

/**
 * Calls `fn` until it passes, and resolves with what that passing call returned.
 *
 * A try **fails** when `fn` throws (or its promise rejects) or when it returns exactly `false`;
 * anything else — `undefined` from an assertion block, `true`, a value — **passes**. So both styles
 * work: `eventually(() => assert.equal(x, 1), …)` (the last assertion error becomes the cause) and
 * `eventually(() => queue.length > 0, …)`. Only `false` counts as "not yet": `0`, `''` and `null`
 * are values like any other, so a check meant as a predicate must return a real boolean.
 *
 * Tries run one at a time, `intervalMs` apart, the first at once and the last at the deadline. A
 * try still pending at the deadline is abandoned (not awaited further). On timeout the returned
 * promise rejects with an EventuallyTimeout whose message begins with `message` and whose `cause`
 * is the last failure (for a pending try, an Error saying so).
 */
export async function eventually<T>(fn: () => T | Promise<T>, opts: EventuallyOptions): Promise<T> {
  const { timeoutMs, intervalMs = 20, message } = opts;
  if (!(timeoutMs >= 0) || !(intervalMs >= 0)) throw new RangeError(`eventually(${message}): timeoutMs and intervalMs must be >= 0`);
  const started = performance.now();
  const deadline = started + timeoutMs;
  let tries = 0;
  let last: unknown;
  for (;;) {
    tries += 1;
    const outcome = await attempt(fn, deadline - performance.now());
    if (outcome.passed) return outcome.value;
    last = outcome.failure;
    const left = deadline - performance.now();
    if (left <= 0) {
      const elapsed = Math.round(performance.now() - started);
      throw new EventuallyTimeout(`${message} (not within ${timeoutMs} ms: ${tries} ${tries === 1 ? 'try' : 'tries'} in ${elapsed} ms)`, {
        cause: last,
      });
    }
    await sleep(Math.min(intervalMs, left));
  }
}

type Outcome<T> = { readonly passed: true; readonly value: T } | { readonly passed: false; readonly failure: unknown };

/** One try of `fn`, abandoned if it has not settled after `budgetMs` (at least one event-loop turn). */
async function attempt<T>(fn: () => T | Promise<T>, budgetMs: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the try was still pending at the deadline (${Math.max(0, Math.round(budgetMs))} ms left when it started)`)),
          Math.max(0, budgetMs),
        );
      }),
    ]);
    if (value === false) return { passed: false, failure: new Error('the check returned false') };
    return { passed: true, value };
  } catch (failure) {
    return { passed: false, failure };
  } finally {
    clearTimeout(timer);
  }
}
