/**
 * The one coded-error base. Every component keeps its own catalogue of stable
 * codes (gateway, coordinator, control plane, data sync, experiments); each
 * entry says what a client or an admin API sees (`status`) and a message.
 * Operators grep logs and alert on the codes, so a code never changes meaning;
 * docs/errors.md lists every one (tested).
 */

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export type ErrorCatalogue<Code extends string> = { readonly [C in Code]: ErrorSpec };

export interface CodedErrorOptions {
  readonly cause?: unknown;
  /** Structured context an admin API returns next to the code. */
  readonly details?: Record<string, unknown>;
  /** Seconds for Retry-After, when the client should come back. */
  readonly retryAfterSeconds?: number;
}

/** An error with a stable code, the status a client sees for it, and optional details. */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(catalogue: ErrorCatalogue<Code>, code: Code, detail?: string, options?: CodedErrorOptions) {
    const spec = catalogue[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = spec.status;
    this.details = options?.details;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** True for any coded error of ours, optionally with one particular code. */
export function isCodedError(err: unknown, code?: string): err is CodedError {
  return err instanceof CodedError && (code === undefined || err.code === code);
}
