export { attribute, errorCode, type Exchange, type ResponseHeaders } from './attribute.js';
export {
  runClosedLoop,
  type ClosedLoopOptions,
  type ClosedLoopResult,
  type ClosedLoopSettings,
  type UnfinishedRequest,
} from './closed-loop.js';
export { runFixedRate, type FixedRateOptions, type FixedRateResult, type FixedRateSettings } from './fixed-rate.js';
export { createProgress, noProgress, type Progress, type ProgressOptions, type ProgressStream } from './progress.js';
export {
  Workload,
  WorkloadOptionsSchema,
  parseWorkloadOptions,
  keyName,
  httpFor,
  kvRequest,
  type OperationRequest,
  type RequestFor,
  type PlannedOperation,
  type WorkloadOptions,
  type WorkloadOptionsInput,
} from './workload.js';
export { ZipfianGenerator } from './zipfian.js';
export { mulberry32 } from './prng.js';
