import type { Logger } from '../../platform/logger.js';
import { GatewayError } from '../errors.js';
import type { Counter } from '../observability/metrics.js';
import type { GatewayConfig } from './config-schema.js';
import { loadGatewayConfig } from './load-config.js';

export interface ConfigReloadsOptions<R> {
  /** The file the gateway was started with; without one a reload from file is refused (NW_GW_RELOAD_UNAVAILABLE). */
  readonly configFile: string | undefined;
  /** northwest_gateway_config_reloads_total: a failed reload counts under its error code. */
  readonly counter: Counter;
  readonly logger: Logger;
  /** Applies a validated config as one swap, or throws and changes nothing. */
  readonly apply: (next: GatewayConfig, source: string) => Promise<R>;
}

/**
 * The reloads of one gateway process (a single gateway, or a multi-worker node's primary): one at
 * a time, in the order asked, the file read and validated whole before `apply` sees it; a failure,
 * wherever it happened, is counted and logged with the file it came from, and rejects the caller.
 */
export class ConfigReloads<R> {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ConfigReloadsOptions<R>) {}

  /** SIGHUP, POST /reload, `northwest-gateway reload`: the config file read again. */
  fromFile(): Promise<R> {
    const file = this.o.configFile;
    let next: GatewayConfig;
    try {
      if (file === undefined) throw new GatewayError('NW_GW_RELOAD_UNAVAILABLE');
      next = loadGatewayConfig(file, 'NW_GW_RELOAD_INVALID');
    } catch (err) {
      this.failed(err, file ?? '-');
      return Promise.reject(err);
    }
    return this.run(next, file);
  }

  /** A config given whole (tests, embedding); `source` names it in errors and logs. */
  run(next: GatewayConfig, source: string): Promise<R> {
    const run = this.chain.then(() => this.o.apply(next, source));
    this.chain = run.catch((err: unknown) => this.failed(err, source));
    return run;
  }

  private failed(err: unknown, source: string): void {
    const code = err instanceof GatewayError ? err.code : 'NW_GW_INTERNAL';
    this.o.counter.inc([code]);
    this.o.logger.error('gateway.reload.failed', { code, file: source, message: (err as Error).message });
  }
}
