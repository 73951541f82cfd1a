/** Errors of the experiment runner (config and CLI); codes are stable. */
export const EXPERIMENT_ERRORS = {
  NW_EXP_CONFIG_INVALID: 'experiment config is invalid',
  NW_EXP_USAGE: 'bad command line',
  NW_EXP_DNS_SETUP_FAILED: 'could not prepare the DNS zone for a trial',
} as const;

export type ExperimentErrorCode = keyof typeof EXPERIMENT_ERRORS;

export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
  constructor(
    readonly code: ExperimentErrorCode,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${EXPERIMENT_ERRORS[code]}: ${detail}`, options);
  }
}

export function isExperimentError(err: unknown, code?: ExperimentErrorCode): err is ExperimentError {
  return err instanceof ExperimentError && (code === undefined || err.code === code);
}
