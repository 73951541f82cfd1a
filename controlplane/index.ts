/** The public entry of controlplane/: what other parts (loadgen) may use. */
export { ControlPlane } from './control-plane.js';
export type { DnsProvider, DnsRecord } from './dns/dns-provider.js';
export { dnsSteps } from './dns/dns-steps.js';
export { MemoryDnsProvider } from './dns/memory-dns-provider.js';
export { Route53DnsProvider } from './dns/route53-provider.js';
export type { SyncHook } from './migration/migration-hooks.js';
export type { LogEvent, MigrationLog, PhaseName } from './migration/migration-log.js';
export { parsePlan, planSchema, type MigrationPlan } from './migration/plan.js';
export { createSyncHooks } from './sync/sync-hooks.js';
export { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.js';
export { parseControlPlaneConfig, type ControlPlaneConfigInput } from './config.js';
export type { MigrationPlanInput } from './migration/plan.js';
export { AdminClient, AdminCallError } from './cli/admin-client.js';
export type { MigrationEventsPage } from './admin/migration-events.js';
export type { FleetStatus } from './control-plane.js';
