export { Gateway, type GatewayOptions, type ListenerAddress, type ReloadResult } from './gateway.js';
export { loadGatewayConfig, parseGatewayConfig } from './config/load-config.js';
export type { GatewayConfig, GatewayConfigInput, AppConfig, PoolConfig, ListenerConfig } from './config/config-schema.js';
export { GatewayError, GATEWAY_ERRORS, isGatewayError, type GatewayErrorCode } from './errors.js';
export type { AppState, AppMode, AppModeName, Deployment } from '../protocol/app-state.js';
export type { ApplyResult, AppApplyResult } from './state/state-store.js';
export type { WriteGuard } from './request-handler.js';
export { runGatewayUntilSignal } from './run-gateway.js';
export { startGatewayMember, type GatewayMember } from './fleet/gateway-member.js';
