import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../../platform/index.js';

/** Errors of the load agents and their controller (`northwest-loadgen`); codes are stable (docs/errors.md). */
export const LOAD_AGENT_ERRORS = {
  NW_LG_USAGE: { status: 400, message: 'bad command line' },
  NW_LG_CONFIG_INVALID: { status: 400, message: 'load-run config is invalid' },
  NW_LG_RUN_EXISTS: { status: 409, message: 'a load run with this id exists already' },
  NW_LG_RUN_NOT_FOUND: { status: 404, message: 'the load run did not appear in the coordinator in time' },
  NW_LG_AGENT_ID_IN_USE: { status: 409, message: 'another live load agent holds this agent id in the run' },
  NW_LG_AGENTS_SHORT: { status: 504, message: 'fewer load agents joined than the run needs' },
  NW_LG_NOT_IN_RUN: { status: 409, message: 'the load run started without this agent' },
  NW_LG_NOT_STARTED: { status: 504, message: 'the load run was not started in time' },
  NW_LG_START_MISSED: { status: 504, message: 'the agent saw the start document after the start tolerance had passed' },
  NW_LG_LOAD_FAILED: { status: 500, message: 'the load generator failed' },
  NW_LG_AGENT_MISSING: { status: 504, message: 'a load agent published no result' },
  NW_LG_RESULT_INVALID: { status: 502, message: 'a load agent result does not decode' },
  NW_LG_RESULT_NOT_COLLECTED: { status: 504, message: 'no controller collected the result in time' },
  NW_LG_RUN_ABORTED: { status: 409, message: 'the controller ended the load run before it completed' },
} as const satisfies Record<string, ErrorSpec>;

export type LoadAgentErrorCode = keyof typeof LOAD_AGENT_ERRORS;

export class LoadAgentError extends CodedError<LoadAgentErrorCode> {
  override readonly name: string = 'LoadAgentError';

  constructor(code: LoadAgentErrorCode, detail: string, options?: CodedErrorOptions) {
    super(LOAD_AGENT_ERRORS, code, detail, options);
  }
}

export function isLoadAgentError(err: unknown, code?: LoadAgentErrorCode): err is LoadAgentError {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(LOAD_AGENT_ERRORS, err.code) : err.code === code);
}
