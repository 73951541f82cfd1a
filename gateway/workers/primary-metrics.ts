import { Counter, Gauge, GatewayMetrics } from '../observability/metrics.js';

/**
 * The primary's own series, merged into /metrics with its workers': config reloads (the primary
 * runs them; the workers' counts are left out), states it refused before any worker saw them,
 * connections no worker took (NW_GW_NO_WORKER), and the workers themselves.
 */
export class PrimaryMetrics extends GatewayMetrics {
  readonly workers = new Gauge('northwest_gateway_workers', 'Worker processes by status: starting, initialising, serving, stopping.', [
    'status',
  ]);
  readonly workerExits = new Counter(
    'northwest_gateway_worker_exits_total',
    'Worker processes that exited unexpectedly (each is restarted), by exit code or signal.',
    ['how'],
  );

  override render(): string {
    return super.render() + this.workers.render() + this.workerExits.render();
  }
}
