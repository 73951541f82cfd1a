import type { Dispatcher } from 'undici';
import type { GatewayError } from '../errors.js';

/**
 * Checked when undici is about to write a request to its connection (a dispatch handler's
 * onConnect, called synchronously right before the request's bytes go out): a write's lease is
 * checked there too, not only when the gateway dispatched it, so a process paused (GC, SIGSTOP)
 * or a connection that came late between the two cannot send a write after the lease lapsed.
 */
export type SendGuard = () => GatewayError | undefined;

/** Errors a send guard raised: the request never left (its outcome is known: not executed). */
const UNSENT = new WeakSet<object>();

export function refusedAtSend(err: unknown): boolean {
  return typeof err === 'object' && err !== null && UNSENT.has(err);
}

/** Runs the guard; an error it returns is marked unsent and handed to `abort`. True when refused. */
export function refuseAtSend(guard: SendGuard | undefined, abort: (err: Error) => void): boolean {
  const refused = guard?.();
  if (refused === undefined) return false;
  UNSENT.add(refused);
  abort(refused);
  return true;
}

/**
 * A view of `dispatcher` whose dispatches run `guard` in their handler's onConnect: for the
 * high-level request() API, whose handler is undici's own (request() calls this.dispatch).
 */
export function guardedDispatcher(dispatcher: Dispatcher, guard: SendGuard): Dispatcher {
  const view = Object.create(dispatcher) as Dispatcher;
  view.dispatch = (opts, handler) => dispatcher.dispatch(opts, guardHandler(handler, guard));
  return view;
}

function guardHandler(handler: Dispatcher.DispatchHandler, guard: SendGuard): Dispatcher.DispatchHandler {
  return new Proxy(handler, {
    get(target, prop, receiver) {
      if (prop === 'onConnect') {
        return (abort: (err?: Error) => void, context?: object) => {
          if (refuseAtSend(guard, abort)) return;
          (target.onConnect as ((a: (err?: Error) => void, c?: object) => void) | undefined)?.call(target, abort, context);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
