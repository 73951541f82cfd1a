/** The contract between the control plane (decides) and the gateways and data layers (apply). */
export * from './app-state.js';
export * from './coordinator-paths.js';
export * from './node-paths.js';
export * from './identifiers.js';
export * from './response-headers.js';
