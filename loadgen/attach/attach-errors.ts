import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../../platform/index.js';

/** Errors of attach mode (northwest-loadtest, `npm run experiment -- attach`); codes are stable (docs/errors.md). */
export const ATTACH_ERRORS = {
  NW_ATTACH_NO_GATEWAYS: { status: 503, message: 'the fleet has no live gateway to load' },
  NW_ATTACH_PRELOAD_FAILED: { status: 502, message: "could not write the app's initial keys through the gateways" },
  NW_ATTACH_WAIT_TIMEOUT: { status: 504, message: 'no migration of the app started in time' },
  NW_ATTACH_MIGRATION_TIMEOUT: { status: 504, message: 'the migration did not end in time' },
} as const satisfies Record<string, ErrorSpec>;

export type AttachErrorCode = keyof typeof ATTACH_ERRORS;

export class AttachError extends CodedError<AttachErrorCode> {
  override readonly name: string = 'AttachError';

  constructor(code: AttachErrorCode, detail: string, options?: CodedErrorOptions) {
    super(ATTACH_ERRORS, code, detail, options);
  }
}

export function isAttachError(err: unknown, code?: AttachErrorCode): err is AttachError {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(ATTACH_ERRORS, err.code) : err.code === code);
}
