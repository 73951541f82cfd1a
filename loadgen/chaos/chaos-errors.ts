import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../../platform/index.js';

/** Errors of the chaos campaign (`npm run chaos`); codes are stable (docs/errors.md). */
export const CHAOS_ERRORS = {
  NW_CHAOS_USAGE: { status: 400, message: 'bad command line' },
  NW_CHAOS_SERVICE_MISSING: { status: 503, message: 'a service the campaign needs is not up' },
  NW_CHAOS_PROCESS_FAILED: { status: 502, message: 'a process of the campaign did not start or answer' },
  NW_CHAOS_MIGRATION_REFUSED: { status: 502, message: 'no control plane accepted the migration' },
} as const satisfies Record<string, ErrorSpec>;

export type ChaosErrorCode = keyof typeof CHAOS_ERRORS;

export class ChaosError extends CodedError<ChaosErrorCode> {
  override readonly name: string = 'ChaosError';

  constructor(code: ChaosErrorCode, detail: string, options?: CodedErrorOptions) {
    super(CHAOS_ERRORS, code, detail, options);
  }
}

export function isChaosError(err: unknown, code?: ChaosErrorCode): err is ChaosError {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(CHAOS_ERRORS, err.code) : err.code === code);
}
