import type { Logger } from '../../platform/index.js';
import { startExperimentEnvironment, type ExperimentEnvironment } from './experiment-environment.js';

export { APP, APP_HOST, type ExperimentEnvironment } from './experiment-environment.js';

export interface EnvironmentOptions {
  readonly gateways: number;
  /** How long a Route 53-like change stays PENDING in the in-memory DNS provider. */
  readonly dnsPropagationMs: number;
  readonly logger?: Logger;
}

/**
 * The whole system in one process, for the demo and for experiments on a
 * machine with nothing installed: embedded coordinator, in-memory DNS zone,
 * in-memory stores.
 */
export function startEmbeddedEnvironment(opts: EnvironmentOptions, trial = 1): Promise<ExperimentEnvironment> {
  return startExperimentEnvironment(
    {
      coordinator: { kind: 'embedded' },
      dns: { provider: 'memory', propagationMs: opts.dnsPropagationMs },
      gateways: opts.gateways,
      leaseMs: 3000,
      ...(opts.logger ? { logger: opts.logger } : {}),
    },
    trial,
  );
}
