import type { Logger } from './logger.js';

/** The typed codes a process logs its last-resort events under (from its own catalogue). */
export interface LastResortCodes {
  readonly unhandledRejection: string;
  readonly uncaughtException: string;
}

/**
 * Defence in depth for a long-running process (a gateway, a control plane),
 * never a fix: every known cause is handled where it arises, and the tests
 * fail if one of these lines is ever written.
 *
 * - A promise rejection nobody handled is logged at error level with its code
 *   and the process keeps serving: it loses at most the operation that
 *   rejected, while dying would fail every request in flight (and drop a
 *   fleet member from the barriers).
 * - An uncaught exception is only logged (uncaughtExceptionMonitor): state may
 *   be half-changed after a throw, so node's default stands and the process
 *   exits for its supervisor to restart it.
 *
 * Returns a function that removes both handlers.
 */
export function installLastResortHandlers(logger: Logger, codes: LastResortCodes, onUnhandled: () => void = () => undefined): () => void {
  const onRejection = (reason: unknown): void => {
    onUnhandled();
    logger.error('process.unhandled_rejection', { code: codes.unhandledRejection, err: describe(reason) });
  };
  const onException = (err: Error, origin: string): void => {
    logger.error('process.uncaught_exception', { code: codes.uncaughtException, origin, err: describe(err) });
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtExceptionMonitor', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtExceptionMonitor', onException);
  };
}

/** Message, code and stack: the logger keeps only message, code and name of an Error, and a stack is what a bug report needs here. */
function describe(reason: unknown): Record<string, unknown> {
  if (!(reason instanceof Error)) return { message: String(reason) };
  return { name: reason.name, message: reason.message, code: (reason as { code?: unknown }).code, stack: reason.stack };
}
