/** The public entry of platform/: what other parts (loadgen) may use. */
export type { CoordinatorConfig } from './coordinator/coordinator-config.js';
export { joinPath, type Coordinator, type Watcher } from './coordinator/coordinator.js';
export { EmbeddedCoordinator, EmbeddedStore } from './coordinator/embedded-coordinator.js';
export { ZooKeeperCoordinator } from './coordinator/zookeeper-coordinator.js';
export { createLogger, type Logger } from './logger.js';
export { formatIssues, deepFreeze, parseConfig, readConfigFile, loadConfigFile, type ConfigFailure } from './config-file.js';
export { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec, type ErrorCatalogue } from './coded-error.js';
export { COORDINATOR_ERRORS, CoordinatorError, isCoordinatorError, type CoordinatorErrorCode } from './coordinator/coordinator-errors.js';
export { isLoopbackHost, bearerTokenProblem } from './admin-http.js';
export { installLastResortHandlers, type LastResortCodes } from './last-resort-handlers.js';
export {
  controlPlaneCoordinatorConfigSchema,
  memberCoordinatorConfigSchema,
  identityConfigSchema,
  createCoordinator,
  resolveIdentity,
  type IdentityConfig,
} from './coordinator/coordinator-config.js';
export { digestId, type CoordinatorIdentity } from './coordinator/coordinator-acl.js';
export { northwestAclPolicy, type CoordinatorRole } from './coordinator/northwest-acl.js';
export type { LogLevel, LogFields } from './logger.js';
export { fitTerminalWidth } from './terminal-line.js';
