import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../../platform/index.js';

/** Errors of the experiment runner (config and CLI); codes are stable (docs/errors.md). */
export const EXPERIMENT_ERRORS = {
  NW_EXP_CONFIG_INVALID: { status: 400, message: 'experiment config is invalid' },
  NW_EXP_USAGE: { status: 400, message: 'bad command line' },
  NW_EXP_DNS_SETUP_FAILED: { status: 502, message: 'could not prepare the DNS zone for a trial' },
} as const satisfies Record<string, ErrorSpec>;

export type ExperimentErrorCode = keyof typeof EXPERIMENT_ERRORS;

export class ExperimentError extends CodedError<ExperimentErrorCode> {
  override readonly name: string = 'ExperimentError';

  constructor(code: ExperimentErrorCode, detail: string, options?: CodedErrorOptions) {
    super(EXPERIMENT_ERRORS, code, detail, options);
  }
}

export function isExperimentError(err: unknown, code?: ExperimentErrorCode): err is ExperimentError {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(EXPERIMENT_ERRORS, err.code) : err.code === code);
}
