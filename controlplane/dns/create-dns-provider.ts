import type { ControlPlaneDnsConfig } from '../config.js';
import type { DnsProvider } from './dns-provider.js';
import { MemoryDnsProvider } from './memory-dns-provider.js';
import { Route53DnsProvider } from './route53-provider.js';

/** Builds the DNS provider a control-plane config names (credentials come from the standard AWS configuration). */
export function createDnsProvider(cfg: ControlPlaneDnsConfig): DnsProvider {
  if (cfg.provider === 'memory')
    return new MemoryDnsProvider({ ...(cfg.propagationMs === undefined ? {} : { propagationMs: cfg.propagationMs }) });
  return new Route53DnsProvider({ ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}), ...(cfg.region ? { region: cfg.region } : {}) });
}
